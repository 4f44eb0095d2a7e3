"""Batch uniqueness for loads of millions of records, in a fraction of the memory.

:class:`standards.validation.batch.BatchUniqueness` keeps every key as text with the
location of its first record: about 170 bytes a key, several hundred megabytes for a
gigabyte of cases. A loader needs the same answers, so here each key is kept as a 96-bit
keyed BLAKE2 digest (a chance collision among even a billion keys is below 10⁻¹¹, and a
key chosen to collide would need the per-process secret) with its first record, in flat
arrays (open-addressing hash tables grown by half when three quarters full):
16 bytes a slot, 21 to 32 bytes a key, and 12 bytes a record for where it is (file,
record, line: kept once per record, though a case brings two keys), with no Python
object per key. A dict of digests costs about 120 bytes a key, most of it the int
objects themselves.

The keys are spread over :data:`SHARDS` tables by their digest, so a table that grows
copies only its own share: one table of 1.6 million keys briefly held its old and its
new arrays at once, about 125 MB, twice what it holds at rest.
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
SHARDS = 64
_START_SLOTS = 509
_MAX_LOAD = 3 / 4
_NO_LINE = 0xFFFFFFFF
_MAX_OWNERS = 0xFFFFFFFF  # owners are kept in 32-bit slots


class _Table:
    """One open-addressing table of digests and their first records, in flat arrays."""

    __slots__ = ("his", "los", "owners", "slots", "used")

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self.used = 0
        self.his = array("I", bytes(4 * slots))
        self.los = array("Q", bytes(8 * slots))
        # the first record naming the key, as an index into the record arrays, plus one:
        # 0 marks an empty slot
        self.owners = array("I", bytes(4 * slots))

    def probe(self, hi: int, lo: int) -> tuple[int, bool]:
        """The slot holding this digest (True), or the empty slot it would go to."""
        slots, his, los, owners = self.slots, self.his, self.los, self.owners
        slot = (lo >> 6) % slots
        while owners[slot]:
            if los[slot] == lo and his[slot] == hi:
                return slot, True
            slot += 1
            if slot == slots:
                slot = 0
        return slot, False

    def insert(self, slot: int, hi: int, lo: int, owner: int) -> None:
        self.his[slot], self.los[slot], self.owners[slot] = hi, lo, owner
        self.used += 1

    def grown(self) -> _Table:
        """A table half as large again holding the same keys."""
        bigger = _Table(self.slots * 3 // 2 | 1)
        for hi, lo, owner in zip(self.his, self.los, self.owners, strict=True):
            if owner:
                bigger.insert(bigger.probe(hi, lo)[0], hi, lo, owner)
        return bigger


class CompactUniqueness(BatchUniqueness):
    """Same findings as :class:`BatchUniqueness`, a quarter of the memory per key or less."""

    def __init__(self) -> None:
        super().__init__()
        self._secret = secrets.token_bytes(16)
        self._rules = {rule: rule.encode("utf-8") + b"\x00" for rule in _KEY_RULES}
        self._files: list[str] = []
        self._file_index: dict[str, int] = {}
        self._tables = [_Table(_START_SLOTS) for _ in range(SHARDS)]
        # Where each record that brought a new key is: packed file and record, and line.
        # Kept once per record, not per key (a case brings two keys).
        self._wheres = array("Q")
        self._lines = array("I")
        # Files rolled back (forget_file), each with the last record it had then: a key
        # one of those records brought belongs to the next record that names it.
        self._void: dict[int, int] = {}

    @property
    def slots(self) -> int:
        """Slots of all tables together (what the arrays hold room for)."""
        return sum(table.slots for table in self._tables)

    @property
    def nbytes(self) -> int:
        """Bytes the arrays hold: 16 a slot, 12 a record."""
        return self.slots * 16 + len(self._wheres) * 12

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

    def _owner(self, where: SourceLocation) -> int:
        packed, line = self._pack(where)
        self._wheres.append(packed)
        self._lines.append(line)
        if len(self._wheres) > _MAX_OWNERS:
            raise ValueError(f"{where}: more than {_MAX_OWNERS} records in one batch")
        return len(self._wheres)

    def forget_file(self, file: str) -> None:
        index = self._file_index.get(file)
        if index is not None:
            self._void[index] = len(self._wheres)

    def check_keys(self, keys: tuple[UniqueKey, ...], where: SourceLocation) -> list[Finding]:
        found: list[Finding] = []
        owner = 0
        for rule, key in keys:
            digest = hashlib.blake2b(
                self._rules[rule] + key.encode("utf-8"), digest_size=12, key=self._secret
            ).digest()
            hi = int.from_bytes(digest[:4])
            lo = int.from_bytes(digest[4:])
            shard = lo & (SHARDS - 1)
            table = self._tables[shard]
            slot, seen = table.probe(hi, lo)
            if not seen:
                if not owner:
                    owner = self._owner(where)
                table.insert(slot, hi, lo, owner)
                if table.used > _MAX_LOAD * table.slots:
                    self._tables[shard] = table.grown()
                continue
            first = table.owners[slot]
            if first == owner:
                continue  # this very record named the key twice
            if self._void and first <= self._void.get(
                (self._wheres[first - 1] - 1) >> _RECORD_BITS, 0
            ):
                if not owner:
                    owner = self._owner(where)
                table.owners[slot] = owner
                continue
            field, what = _KEY_RULES[rule]
            first_where = self._unpack(self._wheres[first - 1], self._lines[first - 1])
            found.append(Finding(rule, f"{what} already used by record {first_where}", field))
        return found
