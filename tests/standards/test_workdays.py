"""Working-day calendar: 2026 holidays and 调休 against both libraries, counting, unknown years."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import chinese_calendar
import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import standards.workdays as workdays_module
from standards.safe_yaml import MAX_BYTES
from standards.workdays import (
    ENV_CALENDAR_FILE,
    CalendarFileError,
    CalendarUnknown,
    WorkCalendar,
    load_override_file,
)

D = dt.date
EXAMPLE_FILE = Path(workdays_module.__file__).parent / "workdays_override.yaml"

# 国务院办公厅关于2026年部分节假日安排的通知
SPRING_FESTIVAL_2026 = [D(2026, 2, 15) + dt.timedelta(days=i) for i in range(9)]  # 2/15–2/23
NATIONAL_DAY_2026 = [D(2026, 10, 1) + dt.timedelta(days=i) for i in range(7)]  # 10/1–10/7
ADJUSTED_WORKDAYS_2026 = [
    D(2026, 1, 4),
    D(2026, 2, 14),
    D(2026, 2, 28),
    D(2026, 5, 9),
    D(2026, 9, 20),
    D(2026, 10, 10),
]


@pytest.fixture
def cal(monkeypatch: pytest.MonkeyPatch) -> WorkCalendar:
    monkeypatch.delenv(ENV_CALENDAR_FILE, raising=False)
    return WorkCalendar.default()


def _days(year: int) -> list[dt.date]:
    d, out = D(year, 1, 1), []
    while d.year == year:
        out.append(d)
        d += dt.timedelta(days=1)
    return out


def test_both_libraries_agree_on_every_day_of_2026(cal: WorkCalendar) -> None:
    china = holidays.China(years=2026)
    for d in _days(2026):
        expected = chinese_calendar.is_workday(d)
        assert china.is_working_day(d) == expected, d
        assert cal.is_working_day(d) == expected, d


def test_spring_festival_and_national_day_2026_are_days_off(cal: WorkCalendar) -> None:
    for d in SPRING_FESTIVAL_2026 + NATIONAL_DAY_2026:
        assert not cal.is_working_day(d), d
    # Weekdays inside the blocks: the reason a "weekdays" calendar is wrong.
    assert D(2026, 2, 23).weekday() == 0 and not cal.is_working_day(D(2026, 2, 23))
    assert D(2026, 10, 7).weekday() == 2 and not cal.is_working_day(D(2026, 10, 7))


def test_adjusted_weekend_working_days_count(cal: WorkCalendar) -> None:
    china = holidays.China(years=2026)
    assert {d for d in china.weekend_workdays if d.year == 2026} == set(ADJUSTED_WORKDAYS_2026)
    for d in ADJUSTED_WORKDAYS_2026:
        assert d.weekday() >= 5
        assert chinese_calendar.is_workday(d)
        assert cal.is_working_day(d), d
    # Sat 2026-02-14 is a working day: one working day between Friday and it.
    assert cal.working_days_between(D(2026, 2, 13), D(2026, 2, 14)) == 1
    assert cal.add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 14)


def test_add_working_days_across_spring_festival(cal: WorkCalendar) -> None:
    # Registered Fri 2/13: 2/14 (Sat, 调休) is day 1, then the holiday to 2/23,
    # 2/24 day 2 ... 2/27 day 5.
    assert cal.add_working_days(D(2026, 2, 13), 5) == D(2026, 2, 27)
    # 2-working-day correction deadline from the eve of the holiday.
    assert cal.add_working_days(D(2026, 2, 14), 2) == D(2026, 2, 25)
    # A registration on a holiday counts from the next working day.
    assert cal.add_working_days(D(2026, 2, 18), 1) == D(2026, 2, 24)
    assert cal.add_working_days(D(2026, 2, 24), -1) == D(2026, 2, 14)
    assert cal.add_working_days(D(2026, 2, 18), 0) == D(2026, 2, 18)


def test_add_working_days_across_national_day(cal: WorkCalendar) -> None:
    # Wed 9/30 + 1: the block 10/1–10/7 is skipped; Thu 10/8 is the first working day.
    assert cal.add_working_days(D(2026, 9, 30), 1) == D(2026, 10, 8)
    # 10/8, 10/9, 10/10 (Sat, 调休), 10/12, 10/13.
    assert cal.add_working_days(D(2026, 9, 30), 5) == D(2026, 10, 13)
    # Sun 9/20 is a working day, so Sat 9/19 + 1 is that Sunday.
    assert cal.add_working_days(D(2026, 9, 19), 1) == D(2026, 9, 20)


def test_working_days_between(cal: WorkCalendar) -> None:
    assert cal.working_days_between(D(2026, 2, 13), D(2026, 2, 24)) == 2  # 2/14, 2/24
    assert cal.working_days_between(D(2026, 2, 24), D(2026, 2, 13)) == -2
    assert cal.working_days_between(D(2026, 9, 30), D(2026, 10, 8)) == 1
    assert cal.working_days_between(D(2026, 5, 5), D(2026, 5, 5)) == 0
    whole_2026 = sum(chinese_calendar.is_workday(d) for d in _days(2026))
    assert cal.working_days_between(D(2025, 12, 31), D(2026, 12, 31)) == whole_2026
    assert whole_2026 == holidays.China(years=2026).get_working_days_count(
        D(2026, 1, 1), D(2026, 12, 31)
    )
    # Across a year boundary: 2025-12-31 (Wed) to 2026-01-05 (Mon): 1/4 (Sun, 调休), 1/5.
    assert cal.working_days_between(D(2025, 12, 31), D(2026, 1, 5)) == 2
    assert cal.add_working_days(D(2025, 12, 31), 1) == D(2026, 1, 4)


def test_datetimes_count_as_their_day(cal: WorkCalendar) -> None:
    at = dt.datetime(2026, 2, 14, 23, 59, tzinfo=dt.UTC)
    assert cal.is_working_day(at)
    assert cal.add_working_days(at, 1) == D(2026, 2, 24)


def _naive_add(cal: WorkCalendar, start: dt.date, n: int) -> dt.date:
    d, step = start, (1 if n > 0 else -1)
    left = abs(n)
    while left:
        d += dt.timedelta(days=step)
        if cal.is_working_day(d):
            left -= 1
    return d


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=D(2005, 1, 1), max_value=D(2026, 6, 30)),
    n=st.integers(min_value=-60, max_value=60),
)
def test_counting_matches_a_day_by_day_walk(start: dt.date, n: int) -> None:
    cal = WorkCalendar()
    end = cal.add_working_days(start, n)
    assert end == _naive_add(cal, start, n)
    if n >= 0:
        assert cal.working_days_between(start, end) == n
    walked = sum(
        cal.is_working_day(start + dt.timedelta(days=i)) for i in range(1, (end - start).days + 1)
    )
    if end >= start:
        assert cal.working_days_between(start, end) == walked


def test_2027_is_unknown_not_weekdays(cal: WorkCalendar) -> None:
    assert 2027 not in cal.known_years()
    assert {2004, 2026} <= cal.known_years()
    # Monday 2027-01-04 would be a "working day" by weekdays alone: no guessing.
    with pytest.raises(CalendarUnknown) as info:
        cal.is_working_day(D(2027, 1, 4))
    assert info.value.year == 2027
    assert ENV_CALENDAR_FILE in str(info.value)
    with pytest.raises(CalendarUnknown):
        cal.add_working_days(D(2026, 12, 30), 5)  # runs into 2027
    with pytest.raises(CalendarUnknown):
        cal.working_days_between(D(2026, 12, 1), D(2027, 1, 10))
    # What stays inside 2026 still answers.
    assert cal.add_working_days(D(2026, 12, 28), 2) == D(2026, 12, 30)


OVERRIDE_2027 = """\
years:
  2027:
    source: test schedule
    holidays:
      - 2027-01-01
      - 2027-02-05..2027-02-11
      - 2027-05-01..2027-05-05
      - 2027-10-01..2027-10-07
    working_days:
      - 2027-02-14   # a Sunday
"""


def test_override_file_supplies_2027(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "calendar.yaml"
    path.write_text(OVERRIDE_2027, encoding="utf-8")
    monkeypatch.setenv(ENV_CALENDAR_FILE, str(path))
    cal = WorkCalendar.default()
    assert 2027 in cal.known_years()
    assert cal.source_of(2027) == "override file (test schedule)"
    assert cal.source_of(2026) == "chinese_calendar"
    assert cal.is_working_day(D(2027, 1, 4))  # plain Monday
    assert not cal.is_working_day(D(2027, 2, 8))  # Monday inside the holiday
    assert cal.is_working_day(D(2027, 2, 14))  # Sunday 调休
    assert not cal.is_working_day(D(2027, 2, 13))  # plain Saturday
    # Thu 2027-02-04 + 1: holiday 2/5–2/11, Fri 2/12 is the next working day.
    assert cal.add_working_days(D(2027, 2, 4), 1) == D(2027, 2, 12)
    assert cal.add_working_days(D(2027, 2, 4), 2) == D(2027, 2, 14)
    assert cal.add_working_days(D(2026, 12, 30), 2) == D(2027, 1, 4)
    with pytest.raises(CalendarUnknown):
        cal.is_working_day(D(2028, 1, 3))
    # An edited file is read again.
    path.write_text(OVERRIDE_2027.replace("2027-01-01\n", "2027-01-01..2027-01-04\n"), "utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000_000))
    assert not WorkCalendar.default().is_working_day(D(2027, 1, 4))


def test_shipped_example_file_agrees_with_both_libraries() -> None:
    years = load_override_file(EXAMPLE_FILE)
    assert set(years) == {2026}
    only_file = WorkCalendar(years, use_chinese_calendar=False, use_holidays=False)
    only_holidays = WorkCalendar(use_chinese_calendar=False)
    for d in _days(2026):
        assert only_file.is_working_day(d) == chinese_calendar.is_workday(d), d
        assert only_holidays.is_working_day(d) == chinese_calendar.is_workday(d), d


def test_override_file_errors_are_all_listed(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """\
years:
  2027:
    holidays: [2027-02-30, 2026-12-31, "2027-03-05..2027-03-01", 7]
    working_days: [2027-02-15, 2027-02-20]
    extra: 1
  twenty: {}
  2028: [1, 2]
""",
        encoding="utf-8",
    )
    with pytest.raises(CalendarFileError) as info:
        load_override_file(path)
    problems = info.value.problems
    text = "\n".join(problems)
    assert "years.2027.holidays[0]" in text  # 2027-02-30 is no date (YAML keeps it a string)
    assert "years.2027.holidays[1]: 2026-12-31 is not in 2027" in text
    assert "years.2027.holidays[2]: range" in text
    assert "years.2027.holidays[3]" in text
    assert "years.2027.working_days: 2027-02-15 is a Monday" in text
    assert "years.2027: unknown key(s): extra" in text
    assert "years.twenty: the key must be a year" in text
    assert "years.2028: expected a mapping" in text
    assert "years.2027: not a published schedule: 2027-01-01 (元旦)" in text
    assert len(problems) == 9
    assert str(path) in str(info.value)


def test_override_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_CALENDAR_FILE, str(tmp_path / "missing.yaml"))
    with pytest.raises(CalendarFileError, match=ENV_CALENDAR_FILE):
        WorkCalendar.default()


def test_a_date_both_off_and_working_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        f"years:\n  2027:\n    holidays: [{FIXED_2027}, 2027-02-13..2027-02-14]\n"
        "    working_days: [2027-02-14]\n",
        encoding="utf-8",
    )
    with pytest.raises(CalendarFileError, match="2027-02-14 is listed both"):
        load_override_file(path)


def test_a_calendar_file_with_aliases_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "aliased.yaml"
    path.write_text(
        "years:\n  2027:\n    holidays: &h [2027-01-01]\n    working_days: *h\n", encoding="utf-8"
    )
    with pytest.raises(CalendarFileError, match="alias \\*h refused"):
        load_override_file(path)


def test_an_unknown_year_is_refused_without_importing_the_holidays_package() -> None:
    """Importing holidays costs every loader and worker process some 24 MB; the years it
    covers are read from its source instead, and they are the ones the import gives."""
    import subprocess
    import sys

    code = (
        "import sys, datetime\n"
        "from standards.workdays import CalendarUnknown, WorkCalendar\n"
        "try:\n"
        "    WorkCalendar.default().add_working_days(datetime.date(2026, 12, 30), 5)\n"
        "except CalendarUnknown as exc:\n"
        "    assert '2001' in str(exc), exc\n"
        "assert 'holidays' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
    from holidays.countries.china import ChinaStaticHolidays

    from standards.workdays import _holidays_china_years_from_source

    assert _holidays_china_years_from_source() == frozenset(
        int(y) for y in ChinaStaticHolidays.special_public_holidays
    )


# The fixed-date statutory holidays of 2027, which every year of an override file lists.
FIXED_2027 = "2027-01-01, 2027-05-01, 2027-10-01..2027-10-03"


def _write(tmp_path: Path, text: str, name: str = "calendar.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(path: Path) -> list[str]:
    with pytest.raises(CalendarFileError) as info:
        load_override_file(path)
    assert str(path) in str(info.value)
    return info.value.problems


@pytest.mark.parametrize(
    "body",
    ["{}", "{holidays: []}", "{source: 国办发明电, holidays: [2027-01-01, 2027-05-01]}"],
)
def test_a_placeholder_year_is_refused_naming_what_is_missing(tmp_path: Path, body: str) -> None:
    """``2027: {}`` was silently a plain-weekdays year, the guess the calendar refuses."""
    problems = _problems(_write(tmp_path, f"years:\n  2027: {body}\n"))
    assert len(problems) == 1
    assert problems[0].startswith("years.2027: not a published schedule: ")
    assert "2027-10-01 (国庆节)" in problems[0]


def test_a_fixed_holiday_on_a_weekend_need_not_be_listed(tmp_path: Path) -> None:
    # 2027: 1 May is a Saturday, 2 and 3 October a Saturday and a Sunday.
    path = _write(tmp_path, "years:\n  2027:\n    holidays: [2027-01-01, 2027-10-01]\n")
    assert not load_override_file(path)[2027].is_working_day(D(2027, 5, 1))


@pytest.mark.parametrize("key", ["0x7EB", "2_027", "2027.9", "03743", "true", "'27'", "'२०२७'"])
def test_a_year_key_must_be_a_plain_year(tmp_path: Path, key: str) -> None:
    """YAML 1.1 read 0x7EB, 2_027 and 2027.9 (int() of it) as 2027 without a word."""
    problems = _problems(_write(tmp_path, f"years:\n  {key}: {{holidays: [{FIXED_2027}]}}\n"))
    assert len(problems) == 1 and "the key must be a year such as 2027" in problems[0]


def test_a_year_key_may_be_quoted(tmp_path: Path) -> None:
    path = _write(tmp_path, f"years:\n  '2027': {{holidays: [{FIXED_2027}]}}\n")
    assert set(load_override_file(path)) == {2027}


def test_a_source_must_be_text(tmp_path: Path) -> None:
    path = _write(tmp_path, f"years:\n  2027:\n    source: [a, b]\n    holidays: [{FIXED_2027}]\n")
    assert _problems(path) == [
        "years.2027.source: expected text (the notice's name), got ['a', 'b']"
    ]


def test_a_date_repeated_in_one_list_is_reported(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        f"years:\n  2027:\n    holidays: [{FIXED_2027}, 2027-02-05..2027-02-11, 2027-02-08]\n",
    )
    assert _problems(path) == [
        "years.2027.holidays[4]: 2027-02-08 already listed in years.2027.holidays[3]"
    ]


def test_only_a_regular_file_of_bounded_size_is_read(tmp_path: Path) -> None:
    """read_text took 113 s and 1.7 GB for a 40 MB file, and hung on a FIFO."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (fifo, Path("/dev/zero"), tmp_path):
        assert _problems(path) == [
            "not a regular file (a device, FIFO or directory); name the YAML file itself"
        ]
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(MAX_BYTES + 1)
    assert _problems(big) == ["larger than 16 MiB; a calendar file is a few lines"]
