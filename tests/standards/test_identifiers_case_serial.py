"""统一业务流水号: canonical format, parsing and collision-free allocation."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from standards.identifiers import (
    CaseSerial,
    InMemorySerialAllocator,
    InvalidIdentifier,
    SerialAllocator,
    format_case_serial,
    parse_case_serial,
)

IMPL = "11440300007542418W" + "4" + "000120123004"
DAY = date(2024, 2, 29)


def rule_of(value: str) -> str:
    with pytest.raises(InvalidIdentifier) as info:
        parse_case_serial(value)
    return info.value.rule


@pytest.mark.parametrize(
    ("seq", "tail"),
    [(1, "0001"), (42, "0042"), (9999, "9999"), (10000, "10000"), (123456789, "123456789")],
)
def test_format_pads_to_four_then_grows(seq: int, tail: str) -> None:
    serial = format_case_serial(IMPL, DAY, seq)
    assert serial == IMPL + "20240229" + tail
    assert len(serial) == 39 + len(tail)
    assert parse_case_serial(serial) == CaseSerial(IMPL, DAY, seq)
    assert CaseSerial(IMPL, DAY, seq).value == serial


def test_guangdong_43_char_form() -> None:
    assert len(format_case_serial(IMPL, DAY, 7)) == 43


def test_format_normalises_impl_code() -> None:
    assert format_case_serial(IMPL.lower(), DAY, 1) == IMPL + "202402290001"


@pytest.mark.parametrize("seq", [0, -1, True, 1.0])
def test_format_rejects_bad_sequence(seq: object) -> None:
    with pytest.raises(ValueError):
        format_case_serial(IMPL, DAY, seq)  # type: ignore[arg-type]


def test_format_rejects_bad_impl_code() -> None:
    with pytest.raises(InvalidIdentifier) as info:
        format_case_serial(IMPL[:-1], DAY, 1)
    assert info.value.rule == "impl_code.format"


@pytest.mark.parametrize(
    "value",
    [
        IMPL + "20240229" + "00012345",  # non-canonical padding
        IMPL + "20240229" + "012345",
        IMPL + "20240229" + "0000",
        IMPL + "20240229" + "001",  # too short
        IMPL + "20240229" + "00A1",
        IMPL + "20230229" + "0001",  # no 29 February in 2023
        IMPL + "20241301" + "0001",
        IMPL + "2024022A" + "0001",
        IMPL[:-1] + "X" + "20240229" + "0001",  # implementation code broken
        IMPL[:18] + "9" + IMPL[19:] + "20240229" + "0001",  # level 9
        "",
    ],
)
def test_parse_rejects(value: str) -> None:
    assert rule_of(value) == "case_serial.format"


def test_parse_normalises() -> None:
    serial = format_case_serial(IMPL, DAY, 5)
    assert parse_case_serial(" " + serial.lower() + " ").seq == 5


days = st.dates(date(1900, 1, 1), date(2199, 12, 31))


@given(days, st.integers(1, 10**9))
def test_round_trip(day: date, seq: int) -> None:
    serial = format_case_serial(IMPL, day, seq)
    assert parse_case_serial(serial) == CaseSerial(IMPL, day, seq)


@given(st.integers(1, 10**9), st.integers(1, 10**9))
def test_one_to_one(a: int, b: int) -> None:
    assert (format_case_serial(IMPL, DAY, a) == format_case_serial(IMPL, DAY, b)) == (a == b)


def test_allocator_satisfies_protocol_and_counts_per_item_and_day() -> None:
    alloc: SerialAllocator = InMemorySerialAllocator()
    assert [alloc.allocate(IMPL, DAY) for _ in range(3)] == [1, 2, 3]
    assert alloc.allocate(IMPL, date(2024, 3, 1)) == 1
    other = IMPL[:-1] + "5"
    assert alloc.allocate(other, DAY) == 1
    assert alloc.allocate(IMPL.lower(), DAY) == 4  # same item after normalisation


def test_allocator_observe_continues_after_existing_serials() -> None:
    alloc = InMemorySerialAllocator()
    alloc.observe(IMPL, DAY, 41)
    alloc.observe(IMPL, DAY, 7)  # never goes backwards
    assert alloc.allocate(IMPL, DAY) == 42


def test_allocator_unique_under_threads() -> None:
    alloc = InMemorySerialAllocator()
    threads_n, per_thread = 8, 2000
    results: list[list[int]] = [[] for _ in range(threads_n)]
    barrier = threading.Barrier(threads_n)

    def work(i: int) -> None:
        barrier.wait()
        out = results[i]
        for _ in range(per_thread):
            out.append(alloc.allocate(IMPL, DAY))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    allocated = [s for r in results for s in r]
    assert sorted(allocated) == list(range(1, threads_n * per_thread + 1))
    serials = {format_case_serial(IMPL, DAY, s) for s in allocated}
    assert len(serials) == threads_n * per_thread
