"""Computing a case's timeliness from its history, in working days (工作日).

* **Deadline (承诺办结期限):** the n-th working day after the day the case was accepted
  (受理), n = the case's promised limit, else the promised limit of its item.
* **特别程序:** working days the case spends in a special procedure (听证、招标、拍卖、
  检验、检测、检疫、鉴定、专家评审; 特别程序(开始) 9 to 特别程序(结束) 10) are not counted
  in the limit (《行政许可法》第四十五条): the deadline moves by the working days in
  (start, end], so the start day counts and the end day does not. A procedure not ended
  yet pauses the clock up to the decision, or up to ``today`` for an open case.
  补正 is not a pause: 《行政许可法》第三十二条 asks for corrections *before* 受理, and the
  limit runs from 受理 anyway; a 补正 after 受理 has no statutory pause and counts.
* **超期:** an open case past its deadline, a case decided (办结) after it, or a case
  that ended without a decision (撤回, 撤件, 不予受理 after 受理) after it (``closed_late``).
* **预审:** the first step after 接件 (accepting, refusing, asking for corrections…) is
  due within 2 working days of 接件.

Days are hub-local (Beijing) calendar days; a case accepted on a Friday evening with a
1-day limit is due on Monday. The calendar raises :class:`CalendarUnknown` for a year
whose holiday schedule is not known; the case is then marked ``unknown`` with the
reason, never given a deadline from weekdays alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from standards.codes.enums import CaseState
from standards.workdays import CalendarUnknown, WorkCalendar
from tongyuan.libraries.base import local_date, utcnow
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseEventRow, CaseRow
from tongyuan.libraries.items import ItemVersion

PREREVIEW_WORKING_DAYS = 2
_CHUNK = 500


@dataclass(slots=True)
class Timeliness:
    """The timeliness of one case on one day (what a CaseTimeliness row stores)."""

    status: str
    overdue: bool | None = None
    limit_days: int | None = None
    deadline: date | None = None
    received_at: datetime | None = None
    prereview_deadline: date | None = None
    prereview_at: datetime | None = None
    prereview_late: bool | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def prereview_unknown(self) -> bool:
        """接件 seen, but the calendar could not compute when 预审 was due."""
        return self.received_at is not None and self.prereview_deadline is None


def assess(
    events: Sequence[tuple[CaseState, datetime]],
    *,
    limit_days: int | None,
    today: date,
    calendar: WorkCalendar,
) -> Timeliness:
    """Timeliness of a case with this history (oldest event first) as of ``today``."""
    result = Timeliness(status="open", limit_days=limit_days)
    states = [s for s, _ in events]
    accepted = next((at for s, at in events if s is CaseState.ACCEPTED), None)
    decided = next((at for s, at in events if s.is_done), None)
    _prereview(result, events, today, calendar)

    ended = events[-1][1] if decided is None and states and states[-1].is_final else None
    if accepted is None:
        result.status = "closed" if ended is not None else "open"
        result.overdue = False  # the time limit runs from 受理
        return result
    if limit_days is None:
        result.status = "closed" if ended is not None else "no_limit"
        result.overdue = False if ended is not None else None
        return result
    try:
        deadline = calendar.add_working_days(local_date(accepted), limit_days)
        stop = decided if decided is not None else ended
        paused = special_procedure_days(events, accepted, stop, today, calendar)
        result.deadline = calendar.add_working_days(deadline, paused) if paused else deadline
    except CalendarUnknown as exc:
        result.status = "unknown"
        result.problems.append(str(exc))
        return result
    if ended is not None:
        # Ended without a decision (撤回, 撤件, 不予受理 after 受理): past its deadline by
        # then, the case was 超期 and stays so; closing it must not end supervision.
        result.overdue = local_date(ended) > result.deadline
        result.status = "closed_late" if result.overdue else "closed"
    elif decided is not None:
        result.overdue = local_date(decided) > result.deadline
        result.status = "done_late" if result.overdue else "done"
    else:
        result.overdue = today > result.deadline
        result.status = "overdue" if result.overdue else "open"
    return result


def special_procedure_days(
    events: Sequence[tuple[CaseState, datetime]],
    accepted: datetime,
    decided: datetime | None,
    today: date,
    calendar: WorkCalendar,
) -> int:
    """Working days spent in 特别程序 after 受理, which the time limit does not count.

    Each 特别程序(开始) is closed by the next 特别程序(结束); one still open ends at the
    decision, or at ``today`` for a case not decided. Raises CalendarUnknown like the
    deadline itself when a year is not in the calendar.
    """
    accepted_on = local_date(accepted)
    last_day = local_date(decided) if decided is not None else today
    total = 0
    started: date | None = None
    for state, at in events:
        if state is CaseState.SPECIAL_START and started is None:
            started = max(local_date(at), accepted_on)
        elif state is CaseState.SPECIAL_END and started is not None:
            total += max(0, calendar.working_days_between(started, local_date(at)))
            started = None
    if started is not None:
        total += max(0, calendar.working_days_between(started, last_day))
    return total


def _prereview(
    result: Timeliness,
    events: Sequence[tuple[CaseState, datetime]],
    today: date,
    calendar: WorkCalendar,
) -> None:
    index = next((i for i, (s, _) in enumerate(events) if s is CaseState.RECEIVED), None)
    if index is None:
        return
    result.received_at = events[index][1]
    if index + 1 < len(events):
        result.prereview_at = events[index + 1][1]
    try:
        due = calendar.add_working_days(local_date(result.received_at), PREREVIEW_WORKING_DAYS)
    except CalendarUnknown as exc:
        result.problems.append(str(exc))
        return
    result.prereview_deadline = due
    done = local_date(result.prereview_at) if result.prereview_at is not None else None
    result.prereview_late = done > due if done is not None else today > due


@dataclass(slots=True)
class TimelinessCounts:
    """How many cases a recomputation saw, by status (no case data)."""

    cases: int = 0
    overdue: int = 0
    prereview_late: int = 0
    unknown: int = 0
    # 接件 seen but its 2-working-day 预审 due date not computable (the year is not known).
    prereview_unknown: int = 0
    problems: list[str] = field(default_factory=list)  # distinct calendar problems


def hub_today() -> date:
    """Today in the hub's time zone: the day deadlines are judged against."""
    return local_date(utcnow())


def recompute(
    session: Session,
    case_ids: Iterable[int],
    *,
    today: date | None = None,
    calendar: WorkCalendar | None = None,
) -> TimelinessCounts:
    """Recompute and store the timeliness of these cases (in the caller's transaction)."""
    today = today or hub_today()
    calendar = calendar or WorkCalendar.default()
    counts = TimelinessCounts()
    ids = list(case_ids)
    limits: dict[str, int | None] = {}
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        rows = list(session.scalars(select(CaseRow).where(CaseRow.id.in_(chunk))))
        events: dict[int, list[tuple[CaseState, datetime]]] = {r.id: [] for r in rows}
        for case_id, state, at in session.execute(
            select(CaseEventRow.case_id, CaseEventRow.state, CaseEventRow.at)
            .where(CaseEventRow.case_id.in_(chunk))
            .order_by(CaseEventRow.case_id, CaseEventRow.seq)
        ):
            events[case_id].append((CaseState(state), at))
        missing = {r.impl_code for r in rows if r.impl_code not in limits}
        if missing:
            found = {
                code: days
                for code, days in session.execute(
                    select(ItemVersion.impl_code, ItemVersion.promised_limit_days).where(
                        ItemVersion.impl_code.in_(missing), ItemVersion.valid_to.is_(None)
                    )
                )
            }
            limits.update({code: found.get(code) for code in missing})
        stored = {
            t.case_id: t
            for t in session.scalars(
                select(CaseTimeliness).where(CaseTimeliness.case_id.in_(chunk))
            )
        }
        for row in rows:
            limit = row.data.get("promised_limit_days")
            if limit is None:
                limit = limits.get(row.impl_code)
            result = assess(events[row.id], limit_days=limit, today=today, calendar=calendar)
            _store(session, stored.get(row.id), row.id, result, today)
            counts.cases += 1
            counts.overdue += bool(result.overdue)
            counts.prereview_late += bool(result.prereview_late)
            counts.unknown += result.status == "unknown"
            counts.prereview_unknown += result.prereview_unknown
            for problem in result.problems:
                if problem not in counts.problems:
                    counts.problems.append(problem)
    session.flush()
    return counts


def recompute_batch(session: Session, batch_id: str, **kwargs: object) -> TimelinessCounts:
    """Recompute the cases a batch wrote (added or changed)."""
    ids = session.scalars(select(CaseRow.id).where(CaseRow.batch_id == batch_id)).all()
    return recompute(session, ids, **kwargs)  # type: ignore[arg-type]


def recompute_all(session: Session, **kwargs: object) -> TimelinessCounts:
    """Recompute every case: open cases turn overdue by the calendar alone."""
    ids = session.scalars(select(CaseRow.id).order_by(CaseRow.id)).all()
    return recompute(session, ids, **kwargs)  # type: ignore[arg-type]


def _store(
    session: Session, row: CaseTimeliness | None, case_id: int, result: Timeliness, today: date
) -> None:
    if row is None:
        row = CaseTimeliness(case_id=case_id)
        session.add(row)
    row.status = result.status
    row.overdue = result.overdue
    row.limit_days = result.limit_days
    row.deadline = result.deadline
    row.received_at = result.received_at
    row.prereview_deadline = result.prereview_deadline
    row.prereview_at = result.prereview_at
    row.prereview_late = result.prereview_late
    row.as_of = today
    row.problem = "; ".join(result.problems) or None
