"""Why a case is listed by a timeliness rule: the drill-down's case details.

``case.overdue``, ``case.prereview.late`` and ``deadline.unknown`` (over cases) store
only the failing cases' serials. An auditor could not see why a case is listed without
querying the database, so the report looks the listed cases up by serial when it is
built — only the keys it lists, 500 at a time — in ``cases``, ``case_timeliness`` and
``case_events``, and shows per case: the item, 受理 and 办结 (or the current state), the
deadline, and per rule the working days late (``case.overdue``), 接件 and the 预审 due
date (``case.prereview.late``) or the stored reason the deadline is unknown
(``deadline.unknown``). They are the library as stored when the report is built, not as
the run saw it; the pages say so under the table.

Nothing personal is read: no applicant name or ID. Free text (the item's name, the
stored reason) is masked here, and shown by every writer as all other text is
(:func:`tongyuan.report.text.shown_text`, escaped in the pages, defused in the exports).

Working days late are counted with the hub's working-day calendar
(:class:`standards.workdays.WorkCalendar`, as the deadlines were computed), as of the
day the run judged the case (:attr:`RunInfo.judged_on`): from the deadline to the day
the case was decided or ended without a decision if that was by then, else to that day.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import Connection, Engine, inspect, select

from standards.codes.enums import CaseState
from standards.privacy import mask_text
from standards.workdays import CalendarFileError, CalendarUnknown, WorkCalendar
from tongyuan.report.data import REPORT_TIMEZONE
from tongyuan.report.summary import DetailValue, ExpectationSummary, ReportModel

log = logging.getLogger(__name__)

ITEM = "事项名称或实施编码"
ACCEPTED = "受理时间（北京时间）"
DECIDED = "办结时间或办件状态"
DEADLINE = "法定/承诺期限"
DAYS_LATE = "超期工作日数"
CALENDAR_DAYS_LATE = "超期自然日数"
RECEIVED = "接件时间（北京时间）"
PREREVIEW_DEADLINE = "预审期限"
PROBLEM = "期限无法计算的原因"
NOT_FOUND = "库中未找到该办件"

_COMMON = (ITEM, ACCEPTED, DECIDED, DEADLINE)
# Columns per (suite, rule, record kind) the drill-down explains.
DETAIL_COLUMNS: dict[tuple[str, str, str], tuple[str, ...]] = {
    ("timeliness", "case.overdue", "case"): (*_COMMON, DAYS_LATE, CALENDAR_DAYS_LATE),
    ("timeliness", "case.prereview.late", "case"): (*_COMMON, RECEIVED, PREREVIEW_DEADLINE),
    ("timeliness", "deadline.unknown", "case"): (*_COMMON, PROBLEM),
}
# Every detail column once, in this order: the exports' extra columns (one file, all rules).
ALL_DETAIL_COLUMNS: tuple[str, ...] = (
    *_COMMON, DAYS_LATE, CALENDAR_DAYS_LATE, RECEIVED, PREREVIEW_DEADLINE, PROBLEM,
)  # fmt: skip
# Columns holding numbers (sorted as numbers, written as numbers in the workbook).
NUMERIC_COLUMNS: frozenset[str] = frozenset({DAYS_LATE, CALENDAR_DAYS_LATE})

_CHUNK = 500
_ENDED_STATES = frozenset(s.value for s in CaseState if s.is_final)
_DONE_STATES = frozenset(s.value for s in CaseState if s.is_done)
_NEEDED_TABLES = ("cases", "case_timeliness", "case_events")


@dataclass(frozen=True, slots=True)
class StoredCase:
    """One listed case as the library stores it (no applicant data)."""

    item: str
    state: str
    accepted_at: datetime | None
    decided_at: datetime | None
    ended_at: datetime | None  # the last ending without a decision (撤回, 撤件 …)
    deadline: date | None
    received_at: datetime | None
    prereview_deadline: date | None
    problem: str | None


def _local(value: datetime | None) -> date | None:
    return value.astimezone(REPORT_TIMEZONE).date() if value is not None else None


def shown_time(value: datetime | None) -> str | None:
    """A stored (UTC) time in Beijing time, to the minute, as auditors read times."""
    return value.astimezone(REPORT_TIMEZONE).strftime("%Y-%m-%d %H:%M") if value else None


def state_label(code: str) -> str:
    """办件状态 in its Chinese label (``部门开始办理``); an unknown code as stored."""
    try:
        return CaseState(code).label
    except ValueError:
        return code


def _late_until(case: StoredCase, as_of: date) -> date:
    """The day lateness is counted to: the case's decision, or its ending without one,
    when that was by ``as_of``; else ``as_of`` (still open that day)."""
    stops = [d for d in (_local(case.decided_at), _local(case.ended_at)) if d and d <= as_of]
    return stops[0] if stops else as_of


def calendar_days_late(case: StoredCase, as_of: date | None) -> int | None:
    """Calendar days past the deadline as of ``as_of``: what ``case.overdue`` judges by
    (a day past the deadline is late, whatever day it is). 0 when not past it."""
    if case.deadline is None or as_of is None:
        return None
    return max((_late_until(case, as_of) - case.deadline).days, 0)


def working_days_late(
    case: StoredCase, as_of: date | None, calendar: WorkCalendar | None
) -> int | None:
    """Working days past the deadline as of ``as_of``, counted to the same day as
    :func:`calendar_days_late`.

    0 when not past the deadline, and also for a case late only by days off (a Friday
    deadline judged on the Sunday): ``case.overdue`` lists it, and the calendar days say
    why. None when it cannot be counted (no deadline, no day, a year the calendar lacks).
    """
    if case.deadline is None or as_of is None or calendar is None:
        return None
    stop = _late_until(case, as_of)
    if stop <= case.deadline:
        return 0
    try:
        return calendar.working_days_between(case.deadline, stop)
    except CalendarUnknown:
        return None


def _values(
    columns: Sequence[str],
    case: StoredCase | None,
    as_of: date | None,
    calendar: WorkCalendar | None,
) -> tuple[tuple[str, DetailValue], ...]:
    if case is None:
        return tuple((c, NOT_FOUND if c == ITEM else None) for c in columns)
    decided = shown_time(case.decided_at) or state_label(case.state)
    every: dict[str, DetailValue] = {
        ITEM: case.item,
        ACCEPTED: shown_time(case.accepted_at),
        DECIDED: decided,
        DEADLINE: case.deadline.isoformat() if case.deadline else None,
        DAYS_LATE: working_days_late(case, as_of, calendar),
        CALENDAR_DAYS_LATE: calendar_days_late(case, as_of),
        RECEIVED: shown_time(case.received_at),
        PREREVIEW_DEADLINE: (
            case.prereview_deadline.isoformat() if case.prereview_deadline else None
        ),
        PROBLEM: case.problem,
    }
    return tuple((c, every[c]) for c in columns)


def _explained(model: ReportModel) -> list[ExpectationSummary]:
    return [
        e
        for e in [*model.expectations, *model.backdated]
        if (e.suite, e.expectation, e.kind) in DETAIL_COLUMNS and e.records
    ]


def _calendar() -> WorkCalendar | None:
    """The hub's calendar; a broken override file leaves the days late uncounted."""
    try:
        return WorkCalendar.default()
    except CalendarFileError as exc:
        log.warning("report: working days late not counted: %s", exc)
        return None


def attach_case_details(model: ReportModel, engine: Engine) -> None:
    """Give the drill-downs of the case timeliness rules their detail columns, in place.

    A database without the case library (only the quality tables) gets none.
    """
    explained = _explained(model)
    if not explained:
        return
    if not set(_NEEDED_TABLES) <= set(inspect(engine).get_table_names()):
        log.warning("report: no case details: the case library tables are missing")
        return
    serials = sorted({r.key for e in explained for r in e.records})
    with engine.connect() as conn:
        cases = load_cases(conn, serials)
    calendar = _calendar()
    for e in explained:
        columns = DETAIL_COLUMNS[(e.suite, e.expectation, e.kind)]
        as_of = e.run.judged_on
        e.detail_columns = columns
        e.records = [
            replace(
                r,
                details=_values(columns, cases.get(r.key), as_of, calendar),
            )
            for r in e.records
        ]


def load_cases(conn: Connection, serials: Sequence[str]) -> dict[str, StoredCase]:
    """The cases with these serials, by serial: their row, timeliness row and the events
    that say when they were accepted, decided or ended (where a column is empty)."""
    found: dict[str, StoredCase] = {}
    for start in range(0, len(serials), _CHUNK):
        found.update(_load_chunk(conn, serials[start : start + _CHUNK]))
    return found


def _load_chunk(conn: Connection, serials: Sequence[str]) -> dict[str, StoredCase]:
    from tongyuan.libraries.case_timeliness import CaseTimeliness
    from tongyuan.libraries.cases import CaseRow

    t = CaseTimeliness
    query = (
        select(
            CaseRow.id,
            CaseRow.serial,
            CaseRow.item_name,
            CaseRow.impl_code,
            CaseRow.current_state,
            CaseRow.accepted_at,
            CaseRow.decided_at,
            t.deadline,
            t.received_at,
            t.prereview_deadline,
            t.problem,
        )
        .outerjoin(t, t.case_id == CaseRow.id)
        .where(CaseRow.serial.in_(serials))
    )
    rows = conn.execute(query).all()
    events = _event_times(conn, [row.id for row in rows])
    found: dict[str, StoredCase] = {}
    for row in rows:
        accepted, decided, ended = events.get(row.id, (None, None, None))
        item = (row.item_name or "").strip() or row.impl_code
        found[mask_text(row.serial)] = StoredCase(
            item=mask_text(item),
            state=row.current_state,
            accepted_at=row.accepted_at or accepted,
            decided_at=row.decided_at or decided,
            ended_at=ended if row.current_state in _ENDED_STATES else None,
            deadline=row.deadline,
            received_at=row.received_at,
            prereview_deadline=row.prereview_deadline,
            problem=mask_text(row.problem) if row.problem else None,
        )
    return found


_Times = tuple[datetime | None, datetime | None, datetime | None]


def _event_times(conn: Connection, case_ids: Iterable[int]) -> dict[int, _Times]:
    """Per case: its first 受理, its first 办结, and its last ending without a decision,
    as the history has them (the suite reads them so where a column is empty)."""
    from tongyuan.libraries.cases import CaseEventRow

    ev = CaseEventRow
    wanted = (CaseState.ACCEPTED.value, *_DONE_STATES, *_ENDED_STATES)
    query = (
        select(ev.case_id, ev.state, ev.at)
        .where(ev.case_id.in_(list(case_ids)), ev.state.in_(wanted))
        .order_by(ev.case_id, ev.seq)
    )
    times: dict[int, _Times] = {}
    for case_id, state, at in conn.execute(query):
        accepted, decided, ended = times.get(case_id, (None, None, None))
        if state == CaseState.ACCEPTED.value and accepted is None:
            accepted = at
        elif state in _DONE_STATES and decided is None:
            decided = at
        elif state in _ENDED_STATES:
            ended = at
        times[case_id] = (accepted, decided, ended)
    return times
