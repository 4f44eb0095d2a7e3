"""The review workflow: legal steps only, deadlines in working days with 调休."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from standards.codes.enums import ReviewStatus as S
from tongyuan.config import Settings
from tongyuan.libraries.claims import ItemReview
from tongyuan.libraries.items import current_item
from tongyuan.sync import register_copy_observer, sync_node, unregister_copy_observer
from tongyuan.sync.review import (
    IllegalReviewTransition,
    ReviewDeadlines,
    advance_review,
    illegal_review_step,
    observe_copy,
    overdue_reviews,
    review_history,
    track_review,
)
from tongyuan.sync.systems import write_export

CST = timezone(timedelta(hours=8))
NODE, IMPL, BASIC = "440305", "11440305007510000X4440107008000", "440107008000"


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


def _track(session: Session, status: S, now: datetime, impl: str = IMPL):  # type: ignore[no-untyped-def]
    step = track_review(session, NODE, impl, BASIC, status, now=now)
    session.flush()
    return step


def _row(session: Session, impl: str = IMPL) -> ItemReview:
    row = session.get(ItemReview, (NODE, impl))
    assert row is not None
    return row


@pytest.mark.parametrize(
    ("previous", "new"),
    [(S.REGISTERED, S.PUBLISHED), (S.REGISTERED, S.CHECKED), (S.REVIEWED, S.PUBLISHED),
     (S.PUBLISHED, S.REVIEWED), (S.CANCELLED, S.PUBLISHED), (S.PUBLISHED, S.CHECKED)],
)  # fmt: skip
def test_skipping_a_reviewer_is_illegal(previous: S, new: S) -> None:
    reason = illegal_review_step(previous, new)
    assert reason is not None and previous.value in reason and new.value in reason


@pytest.mark.parametrize(
    ("previous", "new"),
    [(None, S.PUBLISHED), (S.REGISTERED, S.REVIEWED), (S.REVIEWED, S.CHECKED),
     (S.CHECKED, S.PUBLISHED), (S.PUBLISHED, S.REGISTERED), (S.REVIEWED, S.REGISTERED),
     (S.CHECKED, S.REGISTERED), (S.PUBLISHED, S.CANCELLED), (S.CANCELLED, S.REGISTERED),
     (S.CHECKED, S.CHECKED)],
)  # fmt: skip
def test_legal_steps(previous: S | None, new: S) -> None:
    assert illegal_review_step(previous, new) is None


def test_full_workflow_then_a_change(session: Session) -> None:
    for day, status in ((2, S.REGISTERED), (3, S.REVIEWED), (4, S.CHECKED), (5, S.PUBLISHED),
                        (9, S.REGISTERED)):  # fmt: skip
        assert not _track(session, status, at(3, day)).refused
    history = review_history(session, NODE, IMPL)
    assert [(e.from_status, e.to_status, e.legal) for e in history] == [
        (None, "registered", True),
        ("registered", "reviewed", True),
        ("reviewed", "checked", True),
        ("checked", "published", True),
        ("published", "registered", True),
    ]
    # The change starts a new 5-working-day review: Mon 9 March → Mon 16 March.
    assert _row(session).review_due == date(2026, 3, 16)


def test_jump_from_registered_to_published_is_refused_once(session: Session) -> None:
    _track(session, S.REGISTERED, at(3, 2))
    step = _track(session, S.PUBLISHED, at(3, 3))
    assert step.refused and step.status is S.REGISTERED and "registered" in (step.reason or "")
    again = _track(session, S.PUBLISHED, at(3, 4))  # the next sync says the same
    assert again.refused
    row = _row(session)
    assert (row.status, row.refused_status) == ("registered", "published")
    events = review_history(session, NODE, IMPL)
    assert [(e.to_status, e.legal) for e in events] == [("registered", True), ("published", False)]
    # The system goes on legally: the refusal is cleared.
    _track(session, S.REVIEWED, at(3, 5))
    assert _row(session).refused_status is None


def test_advance_review_raises_on_an_illegal_step(session: Session) -> None:
    _track(session, S.REGISTERED, at(3, 2))
    with pytest.raises(IllegalReviewTransition, match="registered"):
        advance_review(session, NODE, IMPL, S.PUBLISHED, now=at(3, 3))
    assert advance_review(session, NODE, IMPL, S.REVIEWED, now=at(3, 3)).outcome == "moved"
    with pytest.raises(LookupError):
        advance_review(session, NODE, "unknown", S.REVIEWED, now=at(3, 3))


def test_same_status_again_changes_nothing(session: Session) -> None:
    _track(session, S.REGISTERED, at(3, 2))
    before = _row(session).review_due
    assert _track(session, S.REGISTERED, at(3, 6)).outcome == "unchanged"
    assert _row(session).review_due == before
    assert len(review_history(session, NODE, IMPL)) == 1


def test_a_rolled_back_step_is_forgotten(session: Session) -> None:
    """Rows are remembered per transaction: after a rollback (of a savepoint or of the
    whole transaction) the rows it added are gone, and so is what was remembered."""
    _track(session, S.REGISTERED, at(3, 2))
    session.commit()
    with session.begin_nested() as savepoint:
        assert _track(session, S.REVIEWED, at(3, 3)).outcome == "moved"
        _track(session, S.REGISTERED, at(3, 3), impl="11440305007510000X4440107009000")
        savepoint.rollback()
    step = _track(session, S.REVIEWED, at(3, 4))
    assert (step.outcome, step.previous) == ("moved", S.REGISTERED)
    assert (
        _track(session, S.REGISTERED, at(3, 4), impl="11440305007510000X4440107009000").outcome
        == "new"
    )
    session.rollback()
    assert _row(session).status == "registered"  # the committed step only
    assert _track(session, S.REVIEWED, at(3, 5)).outcome == "moved"
    session.commit()
    assert [e.to_status for e in review_history(session, NODE, IMPL)] == ["registered", "reviewed"]


def test_deadlines_count_the_spring_festival_and_its_adjusted_saturdays(session: Session) -> None:
    """Registered Thursday 12 Feb 2026: the 调休 Saturday 14 Feb works, 15–23 Feb are off.

    Review (5): 13, 14 (Sat, 调休), 24, 25, 26 Feb. Correction (2) from a return on the 12th:
    13 and the 调休 Saturday 14 Feb — where naive weekdays would say Monday 16 Feb.
    """
    _track(session, S.REGISTERED, datetime(2026, 2, 12, 15, tzinfo=CST))
    assert _row(session).review_due == date(2026, 2, 26)
    _track(session, S.REVIEWED, datetime(2026, 2, 12, 16, tzinfo=CST))
    _track(session, S.REGISTERED, datetime(2026, 2, 12, 17, tzinfo=CST))  # returned
    row = _row(session)
    assert (row.correction_due, row.review_due) == (date(2026, 2, 14), None)
    # Corrected and back in review on 24 Feb: correction done, the review clock restarts:
    # 25, 26, 27, 28 (Sat, 调休) Feb and 2 March.
    _track(session, S.REVIEWED, datetime(2026, 2, 24, 9, tzinfo=CST))
    row = _row(session)
    assert row.correction_due is None and row.review_due == date(2026, 3, 2)


def test_overdue_lists_late_reviews_and_corrections(session: Session) -> None:
    late_review, late_fix, on_time, done = (f"{IMPL[:-1]}{n}" for n in "1234")
    _track(session, S.REGISTERED, at(3, 2), late_review)  # due Mon 9 March
    _track(session, S.REGISTERED, at(3, 2), late_fix)
    _track(session, S.REVIEWED, at(3, 3), late_fix)
    _track(session, S.REGISTERED, at(3, 4), late_fix)  # returned: due Fri 6 March
    _track(session, S.REGISTERED, at(3, 9), on_time)  # due Mon 16 March
    _track(session, S.REGISTERED, at(3, 2), done)
    for status in (S.REVIEWED, S.CHECKED, S.PUBLISHED):
        _track(session, status, at(3, 3), done)
    overdue = overdue_reviews(session, today=date(2026, 3, 10))
    assert [(o.impl_code, o.deadline, o.due, o.working_days_late) for o in overdue] == [
        (late_fix, "correction", date(2026, 3, 6), 2),
        (late_review, "review", date(2026, 3, 9), 1),
    ]
    earlier = overdue_reviews(session, today=date(2026, 3, 9))
    assert [(o.impl_code, o.working_days_late) for o in earlier] == [(late_fix, 1)]
    assert overdue_reviews(session, today=date(2026, 3, 10), node="440306") == []


def test_configurable_deadlines(session: Session) -> None:
    track_review(session, NODE, IMPL, BASIC, S.REGISTERED, now=at(3, 2),
                 deadlines=ReviewDeadlines(review_days=10))  # fmt: skip
    assert _row(session).review_due == date(2026, 3, 16)


def test_review_is_tracked_through_the_sync(settings: Settings, tmp_path: Path) -> None:
    """The observer runs inside node syncs: held copies and refused jumps are recorded."""
    from test_deliver_world import FUTIAN, make_world

    world = make_world(settings, tmp_path)
    register_copy_observer(observe_copy)
    try:
        sync_node(world.settings, world.topology, FUTIAN, now=at(3, 2))
        (held,) = world.systems.planted_of("held")
        item = next(i for i in world.systems.exports[FUTIAN] if i.impl_code == held.impl_code)
        write_export(world.topology, FUTIAN, [item.model_copy(update={"status": S.PUBLISHED})],
                     "0002-jump")  # fmt: skip
        jumped = sync_node(world.settings, world.topology, FUTIAN, now=at(3, 3))
        assert jumped.counts["refused"] == 1 and jumped.counts["added"] == 0
    finally:
        unregister_copy_observer(observe_copy)
    with world.session() as session:
        row = session.get(ItemReview, (FUTIAN, held.impl_code))
        assert row is not None
        assert (row.status, row.refused_status) == ("registered", "published")
        assert row.review_due == date(2026, 3, 9)
        # Refused means not published: the jump never reaches the library.
        assert current_item(session, held.impl_code) is None
        published = session.get(ItemReview, (FUTIAN, world.systems.exports[FUTIAN][0].impl_code))
        assert published is not None and published.status == "published"
