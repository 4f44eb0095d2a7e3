"""Working-day calendar (工作日) with statutory holidays and adjusted working weekends (调休).

Time limits in the item rules run in working days: the 5-working-day follow-up review,
the 2-working-day correction. China publishes each year's holiday schedule (国务院办公厅
通知) only late in the previous year, and it moves weekend days around (调休), so no rule
can compute a year in advance. A year whose schedule is not known therefore raises
:class:`CalendarUnknown`: a deadline computed as "weekdays minus nothing" would be
silently wrong, which is worse than a visible stop.

Where a year's schedule comes from, first match wins:

1. the override file named by ``TONGYUAN_CALENDAR_FILE`` (an operator can add a year as
   soon as the notice is published, or correct one), see :func:`load_override_file`;
2. ``chinese_calendar`` (its range, probed: 2004–2026 in 1.11);
3. ``holidays.China`` for the years whose 调休 schedule it ships (2001–2026 in 0.109) —
   for any other year it only knows the fixed-date rules and no adjusted working days,
   so those years count as unknown.

Counting convention: ``add_working_days(start, n)`` is the n-th working day after
``start`` (``start`` itself never counts), and ``working_days_between(start, end)``
counts the working days in ``(start, end]``, so that
``working_days_between(s, add_working_days(s, n)) == n`` for every ``n >= 0``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

import yaml

from standards.safe_yaml import (
    MAX_BYTES,
    FileTooLarge,
    StrictSafeLoader,
    problem_and_line,
    read_yaml_file,
)

ENV_CALENDAR_FILE = "TONGYUAN_CALENDAR_FILE"

# Years probed for the libraries' coverage; far outside any data either library ships.
_PROBE_YEARS = range(1990, 2201)


class CalendarUnknown(Exception):
    """The working-day schedule of ``year`` is not published (or not known to this hub)."""

    def __init__(self, year: int, known: Iterable[int]) -> None:
        self.year = year
        known_sorted = sorted(known)
        span = _describe_years(known_sorted)
        super().__init__(
            f"no working-day schedule for {year} (known years: {span}); add the year's "
            f"holidays and adjusted working days to the file named by {ENV_CALENDAR_FILE} "
            "(see docs/operations.md, 'Working-day calendar')"
        )


class CalendarFileError(ValueError):
    """The override file cannot be used; the message lists every problem with its place.

    One line (problems joined by "; "): every command prints it as its one error line,
    and a multi-line message came out of ``ingest`` with literal ``\\n`` in it.
    """

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = [" ".join(p.split()) for p in problems]
        listing = "; ".join(self.problems)
        super().__init__(
            f"calendar file {self.path} ({ENV_CALENDAR_FILE}) cannot be used: "
            f"{len(problems)} problem(s): {listing}"
        )


@dataclass(frozen=True, slots=True)
class YearSchedule:
    """One year's published schedule: days off that would be weekdays, and 调休 working days.

    Only the exceptions are stored: every other Monday–Friday works, every other
    Saturday/Sunday does not.
    """

    year: int
    holidays: frozenset[dt.date]
    working_days: frozenset[dt.date]
    source: str = ""

    def is_working_day(self, d: dt.date) -> bool:
        if d in self.working_days:
            return True
        if d in self.holidays:
            return False
        return d.weekday() < 5


@dataclass(frozen=True, slots=True)
class _YearTable:
    """Per-year flags with prefix counts, so spans of months cost a bisect, not a loop."""

    year: int
    first: dt.date
    flags: bytes
    # prefix[k] = working days among the first k days of the year; prefix[-1] = year total.
    prefix: tuple[int, ...]

    @property
    def total(self) -> int:
        return self.prefix[-1]

    def day(self, index: int) -> dt.date:
        return self.first + dt.timedelta(days=index)


def _describe_years(years: list[int]) -> str:
    """Compress sorted years into runs: [2004, 2005, 2006, 2030] -> "2004–2006, 2030"."""
    runs: list[list[int]] = []
    for year in years:
        if runs and year == runs[-1][1] + 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in runs) or "none"


@lru_cache(maxsize=1)
def _chinese_calendar_years() -> frozenset[int]:
    try:
        import chinese_calendar
    except ImportError:  # pragma: no cover - a declared dependency
        return frozenset()
    years = set()
    for year in _PROBE_YEARS:
        try:
            chinese_calendar.is_workday(dt.date(year, 6, 1))
        except NotImplementedError:
            continue
        years.add(year)
    return frozenset(years)


@lru_cache(maxsize=1)
def _holidays_china_years() -> frozenset[int]:
    """Years for which holidays.China ships the State Council's adjusted schedule.

    Outside these years the package still answers, from fixed-date rules alone and with
    no adjusted working weekends, which is exactly the guess this module refuses to make.
    """
    years = _holidays_china_years_from_source()
    if years is not None:
        return years
    try:
        from holidays.countries.china import ChinaStaticHolidays
    except ImportError:  # pragma: no cover - a declared dependency
        return frozenset()
    return frozenset(int(y) for y in ChinaStaticHolidays.special_public_holidays)


@lru_cache(maxsize=1)
def _holidays_china_years_from_source() -> frozenset[int] | None:
    """The same years, read from the package's source instead of importing it.

    Importing ``holidays`` costs a process some 24 MB (every country loads), and asking
    whether a year is covered — for each deadline in a year no source knows, such as
    next year's in December — would pay it in every loader and worker process. The keys
    of ``ChinaStaticHolidays.special_public_holidays`` are plain year literals; None when
    the source does not read that way (the import then answers).
    """
    import ast
    import importlib.util

    try:
        spec = importlib.util.find_spec("holidays")  # a top-level package: not imported
        if spec is None or not spec.submodule_search_locations:
            return None
        source = Path(next(iter(spec.submodule_search_locations))) / "countries" / "china.py"
        tree = ast.parse(source.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError, StopIteration):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "ChinaStaticHolidays":
            for item in node.body:
                names = [getattr(t, "id", None) for t in getattr(item, "targets", ())]
                if "special_public_holidays" in names and isinstance(item.value, ast.Dict):
                    keys = [k.value for k in item.value.keys if isinstance(k, ast.Constant)]
                    if keys and all(isinstance(k, int) for k in keys):
                        return frozenset(keys)
    return None


class WorkCalendar:
    """Answers working-day questions for the years whose schedule is known; raises otherwise."""

    def __init__(
        self,
        overrides: Mapping[int, YearSchedule] | None = None,
        *,
        use_chinese_calendar: bool = True,
        use_holidays: bool = True,
    ) -> None:
        self._overrides = dict(overrides or {})
        self._use_cc = use_chinese_calendar
        self._use_holidays = use_holidays
        self._tables: dict[int, _YearTable] = {}
        self._holidays_china: object | None = None

    @classmethod
    def default(cls) -> WorkCalendar:
        """The libraries plus the override file named by ``TONGYUAN_CALENDAR_FILE`` (if set).

        Cached per file and modification time: callers may ask for it per record.
        """
        name = os.environ.get(ENV_CALENDAR_FILE, "").strip()
        if not name:
            return _default_for(None, None)
        path = Path(name).expanduser().resolve()
        try:
            mtime = path.stat().st_mtime_ns
        except OSError as exc:
            raise CalendarFileError(
                path, [f"{ENV_CALENDAR_FILE} names a file that cannot be read: {exc.strerror}"]
            ) from exc
        return _default_for(str(path), mtime)

    @classmethod
    def from_override_file(cls, path: Path | str) -> WorkCalendar:
        """The libraries plus the years given in ``path``."""
        return cls(load_override_file(path))

    # -- coverage ------------------------------------------------------------------------

    def known_years(self) -> frozenset[int]:
        """Every year this calendar can answer for."""
        years = set(self._overrides)
        if self._use_cc:
            years |= _chinese_calendar_years()
        if self._use_holidays:
            years |= _holidays_china_years()
        return frozenset(years)

    def source_of(self, year: int) -> str:
        """Where the schedule of ``year`` comes from (for reports and ``--help`` output)."""
        if year in self._overrides:
            schedule = self._overrides[year]
            return f"override file ({schedule.source})" if schedule.source else "override file"
        if self._use_cc and year in _chinese_calendar_years():
            return "chinese_calendar"
        if self._use_holidays and year in _holidays_china_years():
            return "holidays.China"
        raise CalendarUnknown(year, self.known_years())

    # -- questions -----------------------------------------------------------------------

    def is_working_day(self, d: dt.date) -> bool:
        """Whether ``d`` is a working day; raises CalendarUnknown for an unpublished year."""
        d = _as_date(d)
        table = self._table(d.year)
        return bool(table.flags[d.timetuple().tm_yday - 1])

    def add_working_days(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after ``start`` (before it when ``n`` is negative).

        ``start`` never counts, so a deadline of "5 working days from registration" is
        ``add_working_days(registered_on, 5)`` whatever day the registration fell on.
        ``n == 0`` returns ``start`` unchanged.
        """
        start = _as_date(start)
        if n == 0:
            return start
        table = self._table(start.year)
        index = start.timetuple().tm_yday - 1
        if n > 0:
            remaining = n
            done = table.prefix[index + 1]  # working days up to and including start
            while True:
                after = table.total - done
                if remaining <= after:
                    k = bisect_left(table.prefix, done + remaining)
                    return table.day(k - 1)
                remaining -= after
                table = self._table(table.year + 1)
                done = 0
        remaining = -n
        before = table.prefix[index]  # working days strictly before start in its year
        while True:
            if remaining <= before:
                k = bisect_left(table.prefix, before - remaining + 1)
                return table.day(k - 1)
            remaining -= before
            table = self._table(table.year - 1)
            before = table.total

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in ``(start, end]``; negative when ``end`` is before ``start``.

        Every year from ``start`` to ``end`` must be known, or CalendarUnknown is raised.
        """
        start, end = _as_date(start), _as_date(end)
        if end < start:
            return -self.working_days_between(end, start)
        first = self._table(start.year)
        last = self._table(end.year)
        through_start = first.prefix[start.timetuple().tm_yday]
        through_end = last.prefix[end.timetuple().tm_yday]
        if start.year == end.year:
            return through_end - through_start
        middle = sum(self._table(y).total for y in range(start.year + 1, end.year))
        return first.total - through_start + middle + through_end

    def next_working_day(self, d: dt.date) -> dt.date:
        """``d`` itself when it is a working day, else the first working day after it."""
        d = _as_date(d)
        return d if self.is_working_day(d) else self.add_working_days(d, 1)

    # -- internals -----------------------------------------------------------------------

    def _table(self, year: int) -> _YearTable:
        table = self._tables.get(year)
        if table is None:
            table = self._build(year)
            self._tables[year] = table
        return table

    def _build(self, year: int) -> _YearTable:
        first = dt.date(year, 1, 1)
        days = [first + dt.timedelta(days=i) for i in range((dt.date(year + 1, 1, 1) - first).days)]
        if year in self._overrides:
            answer = self._overrides[year].is_working_day
        elif self._use_cc and year in _chinese_calendar_years():
            import chinese_calendar

            answer = chinese_calendar.is_workday
        elif self._use_holidays and year in _holidays_china_years():
            answer = self._holidays_answer()
        else:
            raise CalendarUnknown(year, self.known_years())
        flags = bytes(1 if answer(d) else 0 for d in days)
        return _YearTable(year, first, flags, (0, *accumulate(flags)))

    def _holidays_answer(self):  # type: ignore[no-untyped-def]
        if self._holidays_china is None:
            import holidays

            self._holidays_china = holidays.China()
        return self._holidays_china.is_working_day  # type: ignore[attr-defined]


@lru_cache(maxsize=8)
def _default_for(path: str | None, mtime: int | None) -> WorkCalendar:
    del mtime  # part of the cache key only: an edited file is read again
    return WorkCalendar(load_override_file(path) if path else None)


def _as_date(value: dt.date) -> dt.date:
    # datetime is a date subclass; its time of day must not shift which day is asked about.
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise TypeError(f"expected a date, got {type(value).__name__}")


# -- override file -------------------------------------------------------------------------


class _DatesAsText(StrictSafeLoader):
    """SafeLoader that leaves dates as text: PyYAML raises a bare ValueError on 2027-02-30,
    with no line or key, and this module reports every bad date with its place instead.

    Integers are plain decimal only: YAML 1.1 also reads ``0x7EB``, ``2_027`` and ``03743``
    as 2027, so a year key written that way became 2027 without a word; here they stay
    text and are refused as years.
    """


_PLAIN_INT = re.compile(r"^(?:0|[-+]?[1-9][0-9]*)$")
_INT_TAG = "tag:yaml.org,2002:int"
_DatesAsText.yaml_implicit_resolvers = {
    first: [
        (tag, _PLAIN_INT if tag == _INT_TAG else rx)
        for tag, rx in resolvers
        if tag != "tag:yaml.org,2002:timestamp"
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

# The fixed-date statutory holidays every published year has (《全国年节及纪念日放假办法》):
# 元旦 1 January, 劳动节 1 May, 国庆节 1–3 October. A year of the file that does not have
# them off is a placeholder (``2027: {}``, ``holidays: []``), not a published schedule.
_FIXED_HOLIDAYS: tuple[tuple[int, int, str], ...] = (
    (1, 1, "元旦"),
    (5, 1, "劳动节"),
    (10, 1, "国庆节"),
    (10, 2, "国庆节"),
    (10, 3, "国庆节"),
)
_YEAR_TEXT = re.compile(r"[0-9]{4}")


def load_override_file(path: Path | str) -> dict[int, YearSchedule]:
    """Read a calendar override file; every problem is reported at once, with its place.

    Format (YAML)::

        years:
          2027:
            source: 国办发明电〔2026〕N号      # optional, shown in reports
            holidays:                          # days off, single dates or ranges
              - 2027-01-01
              - 2027-02-05..2027-02-11
            working_days:                      # adjusted working Saturdays/Sundays (调休)
              - 2027-02-14

    A year given here replaces what the libraries say about it, whole: list every day
    off (weekend days inside a holiday block may be listed or not) and every 调休 day.
    """
    path = Path(path)
    data = _read_override_document(path)
    problems: list[str] = []
    result: dict[int, YearSchedule] = {}
    if not isinstance(data, dict) or not isinstance(data.get("years"), dict):
        raise CalendarFileError(path, ["expected a mapping with a 'years' mapping at the top"])
    extra = sorted(str(k) for k in data if k != "years")
    if extra:
        problems.append(f"unknown top-level key(s): {', '.join(extra)}")
    for raw_year, body in data["years"].items():
        schedule = _year_schedule(raw_year, body, problems)
        if schedule is None:
            continue
        if schedule.year in result:
            problems.append(f"years.{raw_year}: the year is given twice")
        result[schedule.year] = schedule
    if problems:
        raise CalendarFileError(path, problems)
    return result


def _read_override_document(path: Path) -> object:
    """The override file's YAML document, read with the configuration files' limits.

    Only a regular file is read, and at most :data:`~standards.safe_yaml.MAX_BYTES` of it:
    ``read_text`` took 113 s and 1.7 GB for a 40 MB file given by mistake, never ended
    on ``/dev/zero`` and waited for ever on a FIFO.
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CalendarFileError(path, [f"cannot read the file: {exc.strerror}"]) from exc
    if not stat.S_ISREG(mode):
        raise CalendarFileError(
            path, ["not a regular file (a device, FIFO or directory); name the YAML file itself"]
        )
    try:
        return read_yaml_file(path, max_bytes=MAX_BYTES, loader=_DatesAsText)
    except FileTooLarge as exc:
        raise CalendarFileError(
            path, [f"larger than {MAX_BYTES // (1024 * 1024)} MiB; a calendar file is a few lines"]
        ) from exc
    except UnicodeDecodeError as exc:
        raise CalendarFileError(path, [f"not UTF-8 text (byte {exc.start})"]) from exc
    except OSError as exc:
        raise CalendarFileError(path, [f"cannot read the file: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        problem, line = problem_and_line(exc)
        where = f" (line {line})" if line is not None else ""
        raise CalendarFileError(path, [f"not valid YAML{where}: {problem}"]) from exc


def _year_key(raw_year: object, where: str, problems: list[str]) -> int | None:
    """The year a key names: a plain integer or a four-digit string, nothing coerced."""
    if isinstance(raw_year, int) and not isinstance(raw_year, bool):
        year = raw_year
    elif isinstance(raw_year, str) and _YEAR_TEXT.fullmatch(raw_year):
        year = int(raw_year)
    else:
        problems.append(f"{where}: the key must be a year such as 2027")
        return None
    if not 1949 < year < 2200:
        problems.append(f"{where}: {year} is not a plausible year")
        return None
    return year


def _year_schedule(raw_year: object, body: object, problems: list[str]) -> YearSchedule | None:
    """One year of the file, its problems appended to ``problems`` (None if unusable)."""
    where = f"years.{raw_year}"
    year = _year_key(raw_year, where, problems)
    if year is None:
        return None
    if not isinstance(body, dict):
        problems.append(f"{where}: expected a mapping with 'holidays' and 'working_days'")
        return None
    unknown = sorted(str(k) for k in body if k not in ("holidays", "working_days", "source"))
    if unknown:
        problems.append(f"{where}: unknown key(s): {', '.join(unknown)}")
    off = _dates(body.get("holidays"), year, f"{where}.holidays", problems)
    on = _dates(body.get("working_days"), year, f"{where}.working_days", problems)
    for d in sorted(on):
        if d.weekday() < 5:
            problems.append(
                f"{where}.working_days: {d.isoformat()} is a {d:%A}; adjusted working "
                "days (调休) are Saturdays or Sundays"
            )
    for d in sorted(on & off):
        problems.append(f"{where}: {d.isoformat()} is listed both as holiday and working day")
    source = body.get("source")
    if source is not None and not isinstance(source, str):
        problems.append(f"{where}.source: expected text (the notice's name), got {source!r}")
        source = None
    schedule = YearSchedule(year, frozenset(off), frozenset(on), source or "")
    missing = [
        f"{d.isoformat()} ({name})"
        for month, day, name in _FIXED_HOLIDAYS
        if schedule.is_working_day(d := dt.date(year, month, day))
    ]
    if missing:
        problems.append(
            f"{where}: not a published schedule: {', '.join(missing)} not listed as "
            "holidays; every year has at least 元旦 1 Jan, 劳动节 1 May and 国庆节 1–3 Oct off"
        )
    return schedule


def _dates(value: object, year: int, where: str, problems: list[str]) -> set[dt.date]:
    if value is None:
        return set()
    if not isinstance(value, list):
        problems.append(f"{where}: expected a list of dates (YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD)")
        return set()
    out: set[dt.date] = set()
    first_entry: dict[dt.date, int] = {}
    for i, item in enumerate(value):
        here = f"{where}[{i}]"
        try:
            days = _parse_entry(item)
        except ValueError as exc:
            problems.append(f"{here}: {exc}")
            continue
        stray = [d for d in days if d.year != year]
        if stray:
            problems.append(f"{here}: {stray[0].isoformat()} is not in {year}")
            continue
        repeated = [d for d in days if d in first_entry]
        if repeated:
            d = repeated[0]
            more = f" (and {len(repeated) - 1} more day(s))" if len(repeated) > 1 else ""
            problems.append(
                f"{here}: {d.isoformat()}{more} already listed in {where}[{first_entry[d]}]"
            )
        for d in days:
            first_entry.setdefault(d, i)
        out.update(days)
    return out


def _parse_entry(item: object) -> list[dt.date]:
    if not isinstance(item, str):
        raise ValueError(f"{item!r} is not a date (YYYY-MM-DD) or range (YYYY-MM-DD..YYYY-MM-DD)")
    text = item.strip()
    first_text, sep, last_text = text.partition("..")
    try:
        first = _iso_date(first_text)
        last = _iso_date(last_text) if sep else first
    except ValueError:
        raise ValueError(
            f"{item!r} is not a date (YYYY-MM-DD) or range (YYYY-MM-DD..YYYY-MM-DD)"
        ) from None
    if last < first:
        raise ValueError(f"range {item!r} ends before it starts")
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _iso_date(text: str) -> dt.date:
    text = text.strip()
    # fromisoformat also takes 20270214 and week dates; the file format is YYYY-MM-DD only.
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        raise ValueError(text)
    return dt.date.fromisoformat(text)
