"""统一业务流水号 (unified case serial): 实施编码 (31) + yyyyMMdd + sequence.

The Guangdong form pads the day's sequence to 4 digits. A busy item can exceed 9999
cases a day, so the sequence grows wider instead of overflowing: 1…9999 are written with
4 digits (zero padded), larger numbers with exactly their own digits. A serial is thus
canonical and one-to-one with (implementation code, day, sequence); padded forms like
``00012345`` are rejected rather than read as 12345.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from standards.identifiers.errors import InvalidIdentifier
from standards.identifiers.item_codes import IMPL_CODE_LENGTH, parse_impl_code
from standards.identifiers.normalize import normalize_code, shown

SEQ_MIN_WIDTH = 4
_DAY_END = IMPL_CODE_LENGTH + 8
MIN_SERIAL_LENGTH = _DAY_END + SEQ_MIN_WIDTH


@dataclass(frozen=True, slots=True)
class CaseSerial:
    """A parsed case serial."""

    impl_code: str
    day: date
    seq: int

    @property
    def value(self) -> str:
        """The serial in its canonical text form."""
        return f"{self.impl_code}{_ymd(self.day)}{self.seq:04d}"


def format_case_serial(impl_code: str, day: date, seq: int) -> str:
    """The serial of the ``seq``-th case (from 1) of an item at one authority on ``day``.

    The implementation code must parse (``impl_code.*`` errors otherwise): a serial built
    on a malformed code could collide with another item's.
    """
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 1:
        raise ValueError(f"case serial sequence must be an integer ≥ 1, got {seq!r}")
    impl = parse_impl_code(impl_code).code
    return f"{impl}{_ymd(day)}{seq:04d}"


def _ymd(day: date) -> str:
    return f"{day.year:04d}{day.month:02d}{day.day:02d}"


def parse_case_serial(value: str) -> CaseSerial:
    """Split a serial; anything non-canonical or impossible raises ``case_serial.format``."""
    norm = normalize_code(value)
    if len(norm) < MIN_SERIAL_LENGTH:
        raise InvalidIdentifier(
            "case_serial.format",
            f"case serial must be at least {MIN_SERIAL_LENGTH} characters, "
            f"got {len(norm)}: {shown(norm)}",
        )
    try:
        impl = parse_impl_code(norm[:IMPL_CODE_LENGTH]).code
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(
            "case_serial.format", f"case serial {shown(norm)}: {exc.message} [{exc.rule}]"
        ) from None
    ymd = norm[IMPL_CODE_LENGTH:_DAY_END]
    seq_text = norm[_DAY_END:]
    if not (ymd.isascii() and ymd.isdigit()):
        raise InvalidIdentifier(
            "case_serial.format", f"case serial {shown(norm)}: date {ymd!r} is not 8 digits"
        )
    try:
        day = date(int(ymd[:4]), int(ymd[4:6]), int(ymd[6:]))
    except ValueError:
        raise InvalidIdentifier(
            "case_serial.format", f"case serial {shown(norm)}: date {ymd!r} does not exist"
        ) from None
    if not (seq_text.isascii() and seq_text.isdigit()):
        raise InvalidIdentifier(
            "case_serial.format",
            f"case serial {shown(norm)}: sequence {shown(seq_text)} is not all digits",
        )
    seq = int(seq_text)
    if seq < 1 or (len(seq_text) > SEQ_MIN_WIDTH and seq_text[0] == "0"):
        raise InvalidIdentifier(
            "case_serial.format",
            f"case serial {shown(norm)}: sequence {seq_text!r} is not canonical "
            f"(4 digits from 0001, wider only without leading zeros)",
        )
    return CaseSerial(impl, day, seq)


class SerialAllocator(Protocol):
    """Hands out the next sequence number for an item and day; never the same one twice."""

    def allocate(self, impl_code: str, day: date) -> int: ...


class InMemorySerialAllocator:
    """Thread-safe per-process allocator, for the offline file generator and tests.

    Not shared between processes: the hub uses the database-backed allocator.
    """

    def __init__(self) -> None:
        self._last: dict[tuple[str, date], int] = {}
        self._lock = threading.Lock()

    def allocate(self, impl_code: str, day: date) -> int:
        """The next sequence number (from 1) for this implementation code and day."""
        key = (normalize_code(impl_code), day)
        with self._lock:
            seq = self._last.get(key, 0) + 1
            self._last[key] = seq
        return seq

    def observe(self, impl_code: str, day: date, seq: int) -> None:
        """Record a sequence already in use, so later allocations continue after it."""
        key = (normalize_code(impl_code), day)
        with self._lock:
            if seq > self._last.get(key, 0):
                self._last[key] = seq
