"""The generator's fixed reference period and working-day calendar.

Nothing here reads the wall clock: generated data must be byte-identical for a seed. Times
are counted in working days (工作日, with 2026's statutory holidays and 调休 weekends from
``chinese_calendar``) and in seconds of office hours (09:00–12:00, 14:00–18:00, +08:00).
The calendar stops at the end of 2026 on purpose: the 2027 holiday schedule is not
published, and cases are placed so that every date they carry falls inside it.

``GENERATED_AT`` is the generator's "now": every event and delivery of a generated case
happens by then (a promised deadline may lie after it, as an open case's does). The hub
refuses a case whose times lie in its future (rule ``case.timestamps.future``), and a
dataset describes what departments had recorded when it was exported, so a case decided
after the export date would be a contradiction, and stored as late, or overdue, before
its decision had happened.
"""

from __future__ import annotations

from bisect import bisect_right
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

import chinese_calendar

CHINA_TZ = timezone(timedelta(hours=8))

CALENDAR_START = date(2025, 12, 1)
CALENDAR_END = date(2026, 12, 31)
CASES_FROM = date(2026, 1, 5)  # first events of cases fall in this period
CASES_TO = date(2026, 10, 30)
ITEMS_UPDATED = date(2025, 12, 29)  # items are published before the first case
# After the last office hour of a working day, so a case's times on that day are all earlier.
GENERATED_AT = datetime(2026, 11, 20, 18, 0, tzinfo=CHINA_TZ)

MORNING = 3 * 3600  # 09:00–12:00
OFFICE_SECONDS = MORNING + 4 * 3600  # plus 14:00–18:00
_MORNING_START = 9 * 3600
_AFTERNOON_START = 14 * 3600


@lru_cache(maxsize=1)
def working_days() -> tuple[date, ...]:
    """Every working day of the calendar, in order."""
    return tuple(chinese_calendar.get_workdays(CALENDAR_START, CALENDAR_END))


@lru_cache(maxsize=1)
def _midnights() -> tuple[datetime, ...]:
    return tuple(datetime.combine(d, time(0), CHINA_TZ) for d in working_days())


def day_index(day: date) -> int:
    """Index of the first working day on or after ``day``."""
    days = working_days()
    for i, d in enumerate(days):
        if d >= day:
            return i
    raise ValueError(f"{day} is after the generator's calendar (ends {CALENDAR_END})")


def last_day_index(day: date) -> int:
    """Index of the last working day on or before ``day``."""
    index = bisect_right(working_days(), day) - 1
    if index < 0:
        raise ValueError(f"{day} is before the generator's calendar (starts {CALENDAR_START})")
    return index


def office_time(day: int, second: int) -> datetime:
    """The moment ``second`` seconds into office hours of working day number ``day``."""
    clock = _MORNING_START + second if second < MORNING else _AFTERNOON_START + second - MORNING
    return _midnights()[day] + timedelta(seconds=clock)


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later (28 February for a 29 February start)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
