"""The item review workflow (事项审核发布) and its working-day deadlines.

The rules: an implementing authority registers an item (已录入); the 编制部门 reviews it
(编制部门已审核); the 政务服务管理部门 checks it (政务服务管理部门已审核); only then is
it published (已发布). A published item is changed by registering it again, and can be
cancelled from any stage. Reviewers may return an item for correction (back to
registered). Any other step — registered straight to published, say — skips a reviewer
and is refused: the hub records the attempt and keeps the last legal status.

Deadlines, in working days (statutory holidays and 调休 counted by
:class:`standards.workdays.WorkCalendar`):

* **review** — an item submitted for review (registered) must be through both reviews
  and published within ``review_days`` (5) working days; the clock restarts when a
  corrected item comes back into review;
* **correction** — an item returned for correction must be corrected and back in review
  within ``correction_days`` (2) working days.

A day is overdue once it is past the due day (the due day itself is still in time). A
deadline in a year whose holiday schedule is not published is not guessed: it stays
empty and ``deadline_problem`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from standards.codes.enums import ReviewStatus
from standards.workdays import CalendarUnknown, WorkCalendar
from tongyuan.db.session_state import transaction_scoped
from tongyuan.libraries.base import local_date, to_utc
from tongyuan.libraries.claims import ItemReview, ReviewEvent

S = ReviewStatus

REVIEW_DAYS = 5
CORRECTION_DAYS = 2

# Legal next statuses. A first sighting may be in any status: the hub did not see the
# item's earlier history, and a level system may hold items published long ago.
TRANSITIONS: dict[ReviewStatus, frozenset[ReviewStatus]] = {
    S.REGISTERED: frozenset({S.REVIEWED, S.CANCELLED}),
    S.REVIEWED: frozenset({S.CHECKED, S.REGISTERED, S.CANCELLED}),
    S.CHECKED: frozenset({S.PUBLISHED, S.REGISTERED, S.CANCELLED}),
    S.PUBLISHED: frozenset({S.REGISTERED, S.CANCELLED}),
    S.CANCELLED: frozenset({S.REGISTERED}),
}
_IN_REVIEW = (S.REGISTERED.value, S.REVIEWED.value, S.CHECKED.value)

StepOutcome = Literal["new", "moved", "unchanged", "refused"]


class IllegalReviewTransition(ValueError):
    """A workflow step the rules do not allow (the message names both statuses)."""


@dataclass(frozen=True, slots=True)
class ReviewDeadlines:
    """How many working days each stage may take."""

    review_days: int = REVIEW_DAYS
    correction_days: int = CORRECTION_DAYS


@dataclass(frozen=True, slots=True)
class ReviewStep:
    """What tracking one status did; ``refused`` steps must not be published by the caller."""

    outcome: StepOutcome
    previous: ReviewStatus | None
    status: ReviewStatus  # the tracked (last legal) status after the step
    reason: str | None = None

    @property
    def refused(self) -> bool:
        return self.outcome == "refused"


@dataclass(frozen=True, slots=True)
class OverdueReview:
    """One item copy past a deadline: which one, due when, and how many working days late."""

    node: str
    impl_code: str
    basic_code: str
    status: str
    deadline: Literal["review", "correction"]
    due: date
    working_days_late: int | None  # None when the calendar cannot count the span


def illegal_review_step(previous: ReviewStatus | None, new: ReviewStatus) -> str | None:
    """Why ``previous → new`` is not allowed, or ``None`` when it is (or nothing moves)."""
    if previous is None or previous is new:
        return None
    if new in TRANSITIONS[previous]:
        return None
    allowed = ", ".join(f"{s.value} {s.label}" for s in sorted(TRANSITIONS[previous]))
    return (
        f"an item cannot go from {previous.value} {previous.label} to {new.value} {new.label}; "
        f"allowed next: {allowed}"
    )


def _due(calendar: WorkCalendar, now: datetime, days: int) -> tuple[date | None, str | None]:
    try:
        return calendar.add_working_days(local_date(to_utc(now)), days), None
    except CalendarUnknown as exc:
        return None, str(exc)


def track_review(
    session: Session,
    node: str,
    impl_code: str,
    basic_code: str,
    status: ReviewStatus,
    *,
    now: datetime,
    batch_id: str | None = None,
    calendar: WorkCalendar | None = None,
    deadlines: ReviewDeadlines | None = None,
) -> ReviewStep:
    """Record the status a node's system reports for an item; refuse an illegal step.

    Idempotent: the same status again changes nothing, and a refused status is recorded
    once however many syncs repeat it. Call it for every item copy whose content changed
    (an unchanged copy has an unchanged status).
    """
    reviews = _reviews_of(session, node)
    row = reviews.get(impl_code)
    previous = None if row is None else ReviewStatus(row.status)
    if row is not None and previous is status:
        if row.refused_status is not None:  # the system went back to the legal status
            row.refused_status = None
            row.refused_reason = None
            row.updated_at = to_utc(now)
        return ReviewStep("unchanged", previous, status)
    reason = illegal_review_step(previous, status)
    if reason is not None:
        assert row is not None and previous is not None
        if row.refused_status != status.value:
            row.refused_status, row.refused_reason = status.value, reason
            row.updated_at = to_utc(now)
            row.batch_id = batch_id or row.batch_id
            _event(session, node, impl_code, previous, status, now, batch_id, reason)
        return ReviewStep("refused", previous, previous, reason)
    if row is None:
        row = reviews[impl_code] = ItemReview(node=node, impl_code=impl_code)
        session.add(row)
    _apply(row, previous, status, basic_code, now, batch_id, calendar, deadlines)
    _event(session, node, impl_code, previous, status, now, batch_id, None)
    # No flush of its own: the next query of the transaction flushes (autoflush), and a
    # sync tracks every copy it writes, so one flush per copy was a third of a first sync.
    return ReviewStep("new" if previous is None else "moved", previous, status)


# Forgotten on any rollback too: a rolled-back savepoint takes its new rows out of the
# session, and the cache would hand them out again.
_REVIEWS = transaction_scoped("tongyuan.item_reviews", forget_on_rollback=True)


def _reviews_of(session: Session, node: str) -> dict[str, ItemReview]:
    """The node's review rows by 实施编码, read once per transaction.

    A sync tracks every copy it writes; looking each one up cost a query (and the flush
    before it) per copy, and on a first sync every lookup finds nothing. The rows stay
    in the session for the transaction, forgotten when it ends or any part rolls back.
    """
    cached: dict[str, dict[str, ItemReview]] = session.info.setdefault(_REVIEWS, {})
    rows = cached.get(node)
    if rows is None:
        rows = cached[node] = {
            row.impl_code: row
            for row in session.scalars(select(ItemReview).where(ItemReview.node == node))
        }
    return rows


def advance_review(
    session: Session,
    node: str,
    impl_code: str,
    status: ReviewStatus,
    *,
    now: datetime,
    batch_id: str | None = None,
    calendar: WorkCalendar | None = None,
    deadlines: ReviewDeadlines | None = None,
) -> ReviewStep:
    """A reviewer's action on an item the hub already tracks; illegal steps raise."""
    row = session.get(ItemReview, (node, impl_code))
    if row is None:
        raise LookupError(f"no review is tracked for item {impl_code} at node {node}")
    previous = ReviewStatus(row.status)
    reason = illegal_review_step(previous, status)
    if reason is not None:
        raise IllegalReviewTransition(f"item {impl_code} at node {node}: {reason}")
    return track_review(
        session,
        node,
        impl_code,
        row.basic_code,
        status,
        now=now,
        batch_id=batch_id,
        calendar=calendar,
        deadlines=deadlines,
    )


def _apply(
    row: ItemReview,
    previous: ReviewStatus | None,
    status: ReviewStatus,
    basic_code: str,
    now: datetime,
    batch_id: str | None,
    calendar: WorkCalendar | None,
    deadlines: ReviewDeadlines | None,
) -> None:
    calendar = calendar or WorkCalendar.default()
    limits = deadlines or ReviewDeadlines()
    row.basic_code = basic_code
    row.status = status.value
    row.status_since = to_utc(now)
    row.updated_at = to_utc(now)
    row.refused_status = None
    row.refused_reason = None
    row.batch_id = batch_id or row.batch_id
    if status is S.REGISTERED and previous in (S.REVIEWED, S.CHECKED):
        # Returned for correction: the authority's clock runs, the review waits.
        row.returned_at = to_utc(now)
        row.correction_due, row.deadline_problem = _due(calendar, now, limits.correction_days)
        row.review_due = None
    elif status is S.REGISTERED or (
        # First sighting mid-review, or a corrected item back in review: the clock
        # (re)starts from this submission.
        status in (S.REVIEWED, S.CHECKED) and (previous is None or _in_correction(row))
    ):
        row.submitted_at = to_utc(now)
        row.review_due, row.deadline_problem = _due(calendar, now, limits.review_days)
        row.correction_due = None
    elif status in (S.PUBLISHED, S.CANCELLED):  # no clock runs any more
        row.review_due = None
        row.correction_due = None
        row.deadline_problem = None


def _in_correction(row: ItemReview) -> bool:
    """Returned for correction and not resubmitted since."""
    return row.returned_at is not None and (
        row.submitted_at is None or row.returned_at > row.submitted_at
    )


def _event(
    session: Session,
    node: str,
    impl_code: str,
    previous: ReviewStatus | None,
    status: ReviewStatus,
    now: datetime,
    batch_id: str | None,
    reason: str | None,
) -> None:
    session.add(
        ReviewEvent(
            node=node,
            impl_code=impl_code,
            from_status=None if previous is None else previous.value,
            to_status=status.value,
            legal=reason is None,
            reason=reason,
            at=to_utc(now),
            batch_id=batch_id,
        )
    )


def overdue_reviews(
    session: Session,
    *,
    today: date,
    node: str | None = None,
    calendar: WorkCalendar | None = None,
) -> list[OverdueReview]:
    """Item copies past their review or correction deadline on ``today``, oldest first."""
    calendar = calendar or WorkCalendar.default()
    query = select(ItemReview).where(
        ItemReview.status.in_(_IN_REVIEW),
        or_(ItemReview.review_due < today, ItemReview.correction_due < today),
    )
    if node is not None:
        query = query.where(ItemReview.node == node)
    out = []
    for row in session.scalars(query):
        if row.correction_due is not None and row.correction_due < today:
            kind: Literal["review", "correction"] = "correction"
            due = row.correction_due
        elif row.review_due is not None and row.review_due < today:
            kind, due = "review", row.review_due
        else:  # pragma: no cover - excluded by the query
            continue
        try:
            late: int | None = calendar.working_days_between(due, today)
        except CalendarUnknown:
            late = None
        out.append(
            OverdueReview(row.node, row.impl_code, row.basic_code, row.status, kind, due, late)
        )
    out.sort(key=lambda o: (o.due, o.node, o.impl_code))
    return out


def review_history(session: Session, node: str, impl_code: str) -> list[ReviewEvent]:
    """Every recorded step of one item copy, refused ones included, in order."""
    return list(
        session.scalars(
            select(ReviewEvent)
            .where(ReviewEvent.node == node, ReviewEvent.impl_code == impl_code)
            .order_by(ReviewEvent.at, ReviewEvent.id)
        )
    )


def observe_copy(session: Session, event: Any) -> str | None:
    """A copy observer for :func:`tongyuan.sync.register_copy_observer`.

    Tracks the status every changed copy arrives with, inside the sync's transaction, so
    the review rows commit or roll back with the sync. A copy gone from a snapshot
    counts as cancelled. Returns the reason when the step is refused, so the sync holds
    the copy instead of publishing it.
    """
    item = getattr(event, "item", None)
    if item is None:
        return None
    step = track_review(
        session,
        event.system,
        event.impl_code,
        item.basic_code,
        ReviewStatus(event.status),
        now=event.now,
        batch_id=event.batch_id,
    )
    return step.reason if step.refused else None


def install_review_tracking() -> None:
    """Have every node sync track review statuses (idempotent)."""
    from tongyuan.sync.node_sync import register_copy_observer

    register_copy_observer(observe_copy)
