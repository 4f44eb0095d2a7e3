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
* **As of a day:** events after ``today`` do not count (a decision after that day had not
  happened yet), as the quality suite judges cases by what happened by its day.
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

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

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
    """Timeliness of a case with this history (oldest event first) as of ``today``.

    Only the events of ``today`` or before count: a case decided after ``today`` was open
    that day, as the quality rule ``case.overdue`` judges it (what happened by its day).
    Stored as decided — late, say — ``cases overdue`` counted a decision that had not
    happened, and disagreed with the quality run of the same day.
    """
    events = [(state, at) for state, at in events if local_date(at) <= today]
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

    def add(self, result: Timeliness) -> None:
        """Count one case's timeliness."""
        self.cases += 1
        self.overdue += bool(result.overdue)
        self.prereview_late += bool(result.prereview_late)
        self.unknown += result.status == "unknown"
        self.prereview_unknown += result.prereview_unknown
        for problem in result.problems:
            if problem not in self.problems:
                self.problems.append(problem)


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
    """Recompute and store the timeliness of these cases (in the caller's transaction).

    A chunk of cases at a time, read as plain columns (no case loaded as an object): the
    daily ``cases overdue`` goes over every case, and loading each case and its row as
    ORM objects cost three times as much (31 s instead of 11 s for 200,000 cases on two
    cores). Only rows whose values changed are rewritten; the others only get ``as_of``
    moved to ``today``, one statement a chunk, so a second run the same day writes nothing.

    On PostgreSQL each chunk's case rows are locked first, in id order (see
    :func:`_lock_cases`): a case another transaction is changing is read once that
    transaction committed, so its fresher row is never overwritten from the old history.
    """
    judge = _Judge(today or hub_today(), calendar or WorkCalendar.default())
    ids = sorted(case_ids)
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        judge.chunk(session, _lock_cases(session, chunk, skip_locked=False))
    session.flush()
    return judge.counts


def refresh_all(
    sessions: sessionmaker[Session],
    *,
    today: date | None = None,
    calendar: WorkCalendar | None = None,
) -> TimelinessCounts:
    """Every case judged again as of ``today``, a chunk per transaction, beside ingests.

    For the quality DAG, which runs after every library change, i.e. while departments'
    ingests write cases. Committing per chunk keeps what is locked small and short. On
    PostgreSQL a chunk locks its case rows ``SKIP LOCKED``: it never waits while holding
    locks, so it cannot deadlock with an ingest that locks the same cases in its delivery
    order. A skipped case (being changed by another transaction) is then judged alone, in
    a transaction that waits for that one to commit and holds nothing while it waits, so
    its row is computed from the history that transaction left. SQLite has one writer:
    each chunk's ``BEGIN IMMEDIATE`` is the lock.
    """
    judge = _Judge(today or hub_today(), calendar or WorkCalendar.default())
    with sessions() as session:
        ids = list(session.scalars(select(CaseRow.id).order_by(CaseRow.id)))
    busy: list[int] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        with sessions.begin() as session:
            locked = _lock_cases(session, chunk, skip_locked=True)
            busy += sorted(set(chunk) - set(locked))
            judge.chunk(session, locked)
    for case_id in busy:
        with sessions.begin() as session:
            judge.chunk(session, _lock_cases(session, [case_id], skip_locked=False))
    return judge.counts


def recompute_batch(session: Session, batch_id: str, **kwargs: object) -> TimelinessCounts:
    """Recompute the cases a batch wrote (added or changed), in id order."""
    query = select(CaseRow.id).where(CaseRow.batch_id == batch_id).order_by(CaseRow.id)
    return recompute(session, session.scalars(query).all(), **kwargs)  # type: ignore[arg-type]


def recompute_all(session: Session, **kwargs: object) -> TimelinessCounts:
    """Recompute every case: open cases turn overdue by the calendar alone."""
    ids = session.scalars(select(CaseRow.id).order_by(CaseRow.id)).all()
    return recompute(session, ids, **kwargs)  # type: ignore[arg-type]


class _Judge:
    """Judges chunks of cases as of one day, with one calendar, and counts them."""

    def __init__(self, today: date, calendar: WorkCalendar) -> None:
        self.today = today
        self.calendar = calendar
        self.counts = TimelinessCounts()
        self.limits: dict[str, int | None] = {}

    def chunk(self, session: Session, chunk: list[int]) -> None:
        """Judge these cases (ascending ids) and write their rows, in id order."""
        if not chunk:
            return
        cases = _case_limits(session, chunk)
        _item_limits(session, {code for _, code, _ in cases}, self.limits)
        histories = _histories(session, chunk)
        writes = _Writes(self.today, _stored_rows(session, chunk))
        for case_id, impl_code, own_limit in cases:
            limit = own_limit if own_limit is not None else self.limits.get(impl_code)
            history = histories.get(case_id, [])
            result = assess(history, limit_days=limit, today=self.today, calendar=self.calendar)
            writes.note(case_id, result)
            self.counts.add(result)
        writes.apply(session)


def _lock_cases(session: Session, chunk: list[int], *, skip_locked: bool) -> list[int]:
    """The ids of ``chunk`` (ascending) whose case rows this transaction now holds locked.

    PostgreSQL: ``SELECT … FOR UPDATE`` in id order, before anything of the cases is
    read. Every writer of a case (ingest, load, replay) updates its row before it adds
    events or timeliness, so the histories read after this are final until commit, and
    every writer of a timeliness row holds its case's lock. ``skip_locked`` leaves out
    the cases another transaction holds instead of waiting. SQLite: ``chunk`` (its
    transactions begin IMMEDIATE; there is no other writer).
    """
    if session.get_bind().dialect.name == "sqlite":
        return chunk
    query = select(CaseRow.id).where(CaseRow.id.in_(chunk)).order_by(CaseRow.id)
    query = query.with_for_update(skip_locked=skip_locked)
    return list(session.scalars(query))


# The columns of a timeliness row that assess() decides, in this order; ``as_of`` apart.
_VALUES: tuple[str, ...] = (
    "status", "overdue", "limit_days", "deadline", "received_at", "prereview_deadline",
    "prereview_at", "prereview_late", "problem",
)  # fmt: skip
_T = CaseTimeliness.__table__


def _case_limits(session: Session, chunk: list[int]) -> list[tuple[int, str, int | None]]:
    """(id, 实施编码, the case's own promised limit) of these cases, by id; the limit is
    read out of the stored document in the database, the document itself never loaded."""
    own_limit = CaseRow.data["promised_limit_days"]
    query = select(CaseRow.id, CaseRow.impl_code, own_limit).where(CaseRow.id.in_(chunk))
    return [(row[0], row[1], row[2]) for row in session.execute(query.order_by(CaseRow.id))]


def _item_limits(session: Session, codes: set[str], limits: dict[str, int | None]) -> None:
    """Add the promised limit of the current version of each item not looked up yet."""
    missing = codes - limits.keys()
    if not missing:
        return
    current = select(ItemVersion.impl_code, ItemVersion.promised_limit_days).where(
        ItemVersion.impl_code.in_(missing), ItemVersion.valid_to.is_(None)
    )
    found = {code: days for code, days in session.execute(current)}
    limits.update({code: found.get(code) for code in missing})


def _histories(session: Session, chunk: list[int]) -> dict[int, list[tuple[CaseState, datetime]]]:
    """Each case's events (state, time), oldest first."""
    histories: dict[int, list[tuple[CaseState, datetime]]] = {}
    for case_id, state, at in session.execute(
        select(CaseEventRow.case_id, CaseEventRow.state, CaseEventRow.at)
        .where(CaseEventRow.case_id.in_(chunk))
        .order_by(CaseEventRow.case_id, CaseEventRow.seq)
    ):
        histories.setdefault(case_id, []).append((CaseState(state), at))
    return histories


_Stored = tuple[tuple[object, ...], date]


def _stored_rows(session: Session, chunk: list[int]) -> dict[int, _Stored]:
    """The timeliness rows these cases have: their values (as :func:`_stored_values`)
    and the day they are as of."""
    columns = [_T.c[name] for name in _VALUES]
    query = select(_T.c.case_id, _T.c.as_of, *columns).where(_T.c.case_id.in_(chunk))
    return {row[0]: (tuple(row[2:]), row[1]) for row in session.execute(query)}


def _stored_values(result: Timeliness) -> tuple[object, ...]:
    """What a timeliness row stores of ``result``, in :data:`_VALUES` order."""
    return (
        result.status,
        result.overdue,
        result.limit_days,
        result.deadline,
        result.received_at,
        result.prereview_deadline,
        result.prereview_at,
        result.prereview_late,
        "; ".join(result.problems) or None,
    )


class _Writes:
    """The writes one chunk needs: new rows, rows whose values changed, and rows that
    only move to a new ``as_of``."""

    def __init__(self, today: date, stored: dict[int, _Stored]) -> None:
        self.today = today
        self.stored = stored
        self.inserts: list[dict[str, object]] = []
        self.updates: list[dict[str, object]] = []
        self.dated: list[int] = []

    def note(self, case_id: int, result: Timeliness) -> None:
        values = _stored_values(result)
        before = self.stored.get(case_id)
        if before is None:
            self.inserts.append({"case_id": case_id, "as_of": self.today, **_named(values)})
        elif before[0] != values:
            self.updates.append({"b_case_id": case_id, "as_of": self.today, **_named(values)})
        elif before[1] != self.today:
            self.dated.append(case_id)

    def apply(self, session: Session) -> None:
        """Run the writes (executemany), then drop any stale copy of a rewritten row the
        session holds as an object."""
        if self.inserts:
            session.execute(insert(_T), self.inserts)
        if self.updates:
            where = _T.c.case_id == bindparam("b_case_id")
            session.execute(update(_T).where(where), self.updates)
        if self.dated:
            dated = update(_T).where(_T.c.case_id.in_(self.dated)).values(as_of=self.today)
            session.execute(dated)
        written = [row["case_id"] for row in self.inserts]
        written += [row["b_case_id"] for row in self.updates] + self.dated
        _expire_loaded(session, written)


def _named(values: tuple[object, ...]) -> dict[str, object]:
    return dict(zip(_VALUES, values, strict=True))


def _expire_loaded(session: Session, case_ids: list[int]) -> None:
    """Expire the CaseTimeliness objects of these cases the session holds, so a later
    read through the ORM sees the rows as written, not as they were loaded."""
    if not session.identity_map:
        return
    mapper = inspect(CaseTimeliness)
    for case_id in case_ids:
        loaded = session.identity_map.get(mapper.identity_key_from_primary_key((case_id,)))
        if loaded is not None:
            session.expire(loaded)
