"""Date formats (Chinese ones included), timezones, and the text transforms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.mapping.dates import (
    DateFormatError,
    as_date,
    compile_format,
    compile_formats,
    parse_timezone,
)
from adapters.mapping.transforms import TRANSFORMS, chain


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        ("%Y年%m月%d日", "2026年3月2日", datetime(2026, 3, 2)),
        ("%Y年%m月%d日", "2026年03月02日", datetime(2026, 3, 2)),
        ("%Y年%m月%d日 %H时%M分", "2026年03月02日 09时30分", datetime(2026, 3, 2, 9, 30)),
        ("%Y年%m月%d日 %H时%M分", "2026年3月2日9时30分", datetime(2026, 3, 2, 9, 30)),
        ("%Y年%m月%d日 %H时%M分%S秒", "2026年3月2日 9时5分7秒", datetime(2026, 3, 2, 9, 5, 7)),
        ("%Y年%m月%d日", "２０２６年３月２日", datetime(2026, 3, 2)),
        ("%Y/%m/%d %H:%M", "2026/3/2 9:05", datetime(2026, 3, 2, 9, 5)),
        ("%Y/%m/%d %H:%M", "2026/03/02   09:05", datetime(2026, 3, 2, 9, 5)),
        ("%Y%m%d%H%M%S", "20260302093000", datetime(2026, 3, 2, 9, 30)),
        ("%Y-%m-%d %H:%M:%S", "2026-03-02 09:30:00", datetime(2026, 3, 2, 9, 30)),
        ("%Y-%m-%d %H:%M:%S", "2026-3-2 9:30:00", datetime(2026, 3, 2, 9, 30)),
        ("%Y-%m-%d %H:%M:%S.%f", "2026-03-02 09:30:00.25", datetime(2026, 3, 2, 9, 30, 0, 250000)),
        ("%d.%m.%y", "02.03.26", datetime(2026, 3, 2)),
        # %y as POSIX strptime reads it: 69-99 in the 1900s, 00-68 in the 2000s
        ("%y-%m-%d", "99-12-31", datetime(1999, 12, 31)),
        ("%y-%m-%d", "69-01-01", datetime(1969, 1, 1)),
        ("%y-%m-%d", "68-12-31", datetime(2068, 12, 31)),
        ("%y-%m-%d", "00-01-01", datetime(2000, 1, 1)),
        ("%Y-%m-%d", "2026-03-02", datetime(2026, 3, 2)),
        (
            "%Y-%m-%dT%H:%M:%S%z",
            "2026-03-02T09:30:00+0800",
            datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        ),
        ("%Y-%m-%dT%H:%M:%S%z", "2026-03-02T01:30:00Z", datetime(2026, 3, 2, 1, 30, tzinfo=UTC)),
        ("%Y%%%m%%%d", "2026%3%2", datetime(2026, 3, 2)),
        (
            "iso",
            "2026-03-02T09:30:00+08:00",
            datetime(2026, 3, 2, 9, 30, tzinfo=timezone(timedelta(hours=8))),
        ),
        ("iso", "2026-03-02", datetime(2026, 3, 2)),
    ],
)
def test_formats_parse(fmt: str, text: str, expected: datetime) -> None:
    assert compile_format(fmt)(text) == expected


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("%Y年%m月%d日", "2026年2月30日"),  # the shape fits, the date does not exist
        ("%Y年%m月%d日", "2026-03-02"),
        ("%Y-%m-%d %H:%M:%S", "2026-03-02 25:00:00"),
        ("%Y-%m-%d %H:%M:%S", "2026-03-02T09:30:00"),
        ("%Y-%m-%d %H:%M:%S", "2026-03-02 09:30+08"),  # fromisoformat would take it; the format not
        ("%Y-%m-%d", "2026-W10-1"),
        ("%Y/%m/%d %H:%M", "2026/3/2"),
        ("iso", "2026年3月2日"),
        ("%Y-%m-%d", ""),
    ],
)
def test_formats_refuse(fmt: str, text: str) -> None:
    assert compile_format(fmt)(text) is None


@pytest.mark.parametrize(
    ("fmt", "text", "expected"),
    [
        # numeric directives that touch take their full width; no guessing
        ("%Y%m%d", "20250331", datetime(2025, 3, 31)),
        ("%Y%m%d", "2025031", None),  # one digit lost: not 2025-03-01
        ("%Y%m%d", "202531", None),
        ("%Y%m%d", "2025111", None),  # 2025-01-11 or 2025-11-01?
        ("%Y%m%d%H%M%S", "2026030209300", None),
        ("%Y%m%d%H%M%S%f", "20260302093000123", datetime(2026, 3, 2, 9, 30, 0, 123000)),
        ("%Y%m-%d", "20253-5", None),  # %m touches %Y
        ("%d%m%y", "020326", datetime(2026, 3, 2)),
        ("%d%m%y", "2326", None),
        # a literal between: one or two digits, as before
        ("%Y-%m-%d", "2024-3-5", datetime(2024, 3, 5)),
        ("%Y年%m月%d日", "2024年3月5日", datetime(2024, 3, 5)),
        # only a format space between: one digit only where the space is really there
        ("%Y-%m-%d %H:%M", "2025-3-11 9:30", datetime(2025, 3, 11, 9, 30)),
        ("%Y-%m-%d %H:%M", "2025-03-0509:30", datetime(2025, 3, 5, 9, 30)),
        ("%Y-%m-%d %H:%M", "2025-3-119:30", None),  # day 1 at 19:30 or day 11 at 9:30?
        ("%Y%m%d %H%M", "20250303 0915", datetime(2025, 3, 3, 9, 15)),
        ("%Y%m%d %H%M", "20250303 915", None),
    ],
)
def test_touching_numeric_directives_are_fixed_width(
    fmt: str, text: str, expected: datetime | None
) -> None:
    assert compile_format(fmt)(text) == expected


def test_iso_fast_path_gives_the_same_answer_as_the_pattern() -> None:
    parse = compile_format("%Y-%m-%d %H:%M:%S")
    assert parse("2026-03-02 09:30:00") == datetime(2026, 3, 2, 9, 30)
    assert parse("2026-02-29 09:30:00") is None  # not a leap year, whichever path runs


@given(st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)))
def test_chinese_format_round_trips(value: datetime) -> None:
    value = value.replace(microsecond=0)
    fmt = "%Y年%m月%d日 %H时%M分%S秒"
    assert compile_format(fmt)(value.strftime(fmt)) == value


def test_several_formats_first_match_wins() -> None:
    parse = compile_formats(["%Y-%m-%d %H:%M:%S", "%Y年%m月%d日 %H时%M分", "%Y年%m月%d日"])
    assert parse("2026年3月2日") == datetime(2026, 3, 2)
    assert parse("2026年3月2日 9时30分") == datetime(2026, 3, 2, 9, 30)
    assert parse("2026-03-02 09:30:00") == datetime(2026, 3, 2, 9, 30)
    assert parse("3/2/2026") is None


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("%Y-%m-%Q", "%Q is not supported"),
        ("%Y-%m-", "needs a year"),
        ("%H:%M", "needs a year"),
        ("%Y-%m-%d %", "lone '%'"),
        ("%Y-%m-%d %Y", "twice"),
        ("%Y %y %m %d", "both %Y and %y"),
        ("%Y-%m-%d %M", "minutes need hours"),
        ("%Y-%m-%d %H %S", "seconds need minutes"),
    ],
)
def test_bad_formats_are_refused_with_a_reason(fmt: str, text: str) -> None:
    with pytest.raises(DateFormatError, match=text):
        compile_format(fmt)


def test_timezones() -> None:
    assert parse_timezone("+08:00") == timezone(timedelta(hours=8))
    assert parse_timezone("-0530") == timezone(-timedelta(hours=5, minutes=30))
    assert parse_timezone("UTC") is UTC
    assert parse_timezone("Asia/Shanghai") == ZoneInfo("Asia/Shanghai")
    for bad in ("+25:00", "Mars/Olympus", "8"):
        with pytest.raises(ValueError, match="timezone"):
            parse_timezone(bad)


def test_as_date() -> None:
    assert as_date(datetime(2026, 3, 2, 23, 59)) == date(2026, 3, 2)
    assert as_date(date(2026, 3, 2)) == date(2026, 3, 2)


# ---------------------------------------------------------------- transforms


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("trim", "  张三\u3000", "张三"),
        ("trim", "\t A1 \n", "A1"),
        ("halfwidth", "ＳＺ２０２６－０００１", "SZ2026-0001"),
        ("halfwidth", "（有限公司）", "(有限公司)"),
        ("halfwidth", "plain ascii", "plain ascii"),
        ("upper", "91110000600037341l", "91110000600037341L"),
        ("lower", "ABC", "abc"),
        ("strip_separators", "1101 0519-4912\u30003100 2X", "11010519491231002X"),
        ("strip_separators", "9111－0000—6000", "911100006000"),
        ("strip_separators", "1.2.156.3005", "1.2.156.3005"),  # dots separate license segments
        ("none_if_empty", "", None),
        ("none_if_empty", "  ", None),
        ("none_if_empty", "x", "x"),
    ],
)
def test_each_transform(name: str, value: str, expected: str | None) -> None:
    assert TRANSFORMS[name](value) == expected


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_transforms_leave_non_text_alone(name: str) -> None:
    when = datetime(2026, 3, 2)
    for value in (12, None, when, 1.5):
        assert TRANSFORMS[name](value) == value


def test_chain_applies_in_order() -> None:
    assert chain([]) is None
    assert chain(["upper"]) is TRANSFORMS["upper"]
    assert chain(["trim", "halfwidth"])(" ａｂ ") == "ab"  # type: ignore[misc]
    assert chain(["trim", "halfwidth", "upper"])(" ａｂ ") == "AB"  # type: ignore[misc]
    assert chain(["upper", "lower"])("Ab") == "ab"  # type: ignore[misc]
    assert chain(["lower", "upper"])("Ab") == "AB"  # type: ignore[misc]
