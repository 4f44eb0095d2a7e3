"""Batch uniqueness for loads of millions of records, in a fraction of the memory.

:class:`standards.validation.batch.BatchUniqueness` keeps every key as text with the
location of its first record: about 170 bytes a key, several hundred megabytes for a
gigabyte of cases. A loader needs the same answers, so here each key is kept as a 96-bit
keyed BLAKE2 digest (a chance collision among even a billion keys is below 10⁻¹¹, and a
key chosen to collide would need the per-process secret) with the first location packed
beside it, in flat arrays (an open-addressing hash table grown by half when three
quarters full): 24 bytes a slot, 32 to 48 bytes a key, and no Python object per key. A
dict of digests costs about 120 bytes a key, most of it the int objects themselves.
"""

from __future__ import annotations

import hashlib
import secrets
from array import array

from standards.records import SourceLocation
from standards.validation import Finding
from standards.validation.batch import _KEY_RULES, BatchUniqueness, UniqueKey

_RECORD_BITS = 40
_FILE_BITS = 23  # with the record: one 64-bit word (the top bit stays clear)
_START_SLOTS = 4093
_MAX_LOAD = 3 / 4
_NO_LINE = 0xFFFFFFFF


class CompactUniqueness(BatchUniqueness):
    """Same findings as :class:`BatchUniqueness`, a quarter of the memory per key or less."""

    def __init__(self) -> None:
        super().__init__()
        self._secret = secrets.token_bytes(16)
        self._rules = {rule: rule.encode("utf-8") + b"\x00" for rule in _KEY_RULES}
        self._files: list[str] = []
        self._file_index: dict[str, int] = {}
        self._allocate(_START_SLOTS)

    def _allocate(self, slots: int) -> None:
        self._slots = slots
        self._used = 0
        self._hi = array("I", bytes(4 * slots))
        self._lo = array("Q", bytes(8 * slots))
        # file and record of the first occurrence, plus one: 0 marks an empty slot
        self._where = array("Q", bytes(8 * slots))
        self._line = array("I", bytes(4 * slots))

    def _grow(self) -> None:
        old = (self._hi, self._lo, self._where, self._line)
        self._allocate(self._slots * 3 // 2 | 1)
        for hi, lo, where, line in zip(*old, strict=True):
            if where:
                self._insert(self._probe(hi, lo)[0], hi, lo, where, line)

    def _probe(self, hi: int, lo: int) -> tuple[int, bool]:
        """The slot holding this digest (True), or the empty slot it would go to."""
        slots, his, los, wheres = self._slots, self._hi, self._lo, self._where
        slot = lo % slots
        while wheres[slot]:
            if los[slot] == lo and his[slot] == hi:
                return slot, True
            slot += 1
            if slot == slots:
                slot = 0
        return slot, False

    def _insert(self, slot: int, hi: int, lo: int, where: int, line: int) -> None:
        self._hi[slot], self._lo[slot] = hi, lo
        self._where[slot], self._line[slot] = where, line
        self._used += 1

    def _pack(self, where: SourceLocation) -> tuple[int, int]:
        index = self._file_index.get(where.file)
        if index is None:
            index = self._file_index[where.file] = len(self._files)
            self._files.append(where.file)
        record = 0 if where.record is None else where.record + 1
        if index >= 1 << _FILE_BITS or record >= 1 << _RECORD_BITS:
            raise ValueError(f"{where}: beyond the {_FILE_BITS}/{_RECORD_BITS}-bit location")
        line = _NO_LINE if where.line is None or where.line >= _NO_LINE else where.line
        return ((index << _RECORD_BITS) | record) + 1, line

    def _unpack(self, packed: int, line: int) -> SourceLocation:
        packed -= 1
        record = packed & ((1 << _RECORD_BITS) - 1)
        index = packed >> _RECORD_BITS
        return SourceLocation(
            self._files[index], record - 1 if record else None, None if line == _NO_LINE else line
        )

    def check_keys(self, keys: tuple[UniqueKey, ...], where: SourceLocation) -> list[Finding]:
        found: list[Finding] = []
        packed: tuple[int, int] | None = None
        for rule, key in keys:
            digest = hashlib.blake2b(
                self._rules[rule] + key.encode("utf-8"), digest_size=12, key=self._secret
            ).digest()
            hi = int.from_bytes(digest[:4])
            lo = int.from_bytes(digest[4:])
            slot, seen = self._probe(hi, lo)
            if not seen:
                if packed is None:
                    packed = self._pack(where)
                self._insert(slot, hi, lo, *packed)
                if self._used > _MAX_LOAD * self._slots:
                    self._grow()
                continue
            if packed is not None and (self._where[slot], self._line[slot]) == packed:
                continue  # this very record named the key twice
            field, what = _KEY_RULES[rule]
            first_where = self._unpack(self._where[slot], self._line[slot])
            found.append(Finding(rule, f"{what} already used by record {first_where}", field))
        return found
