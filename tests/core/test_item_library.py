from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from factories import IMPL_CODE, IMPL_CODE_2, make_item
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from standards.codes.enums import ReviewStatus
from tongyuan.libraries import (
    ItemVersion,
    cancel_item,
    current_item,
    item_history,
    open_batch,
    write_item,
)

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(ItemVersion)) or 0


def test_add_unchanged_change_cancel(session: Session) -> None:
    batch = open_batch(session, "items", "sz-catalogue")
    item = make_item()
    assert write_item(session, batch.id, item, source="sz", now=T0) == "added"
    assert write_item(session, batch.id, item, source="sz", now=T0 + timedelta(hours=1)) == (
        "unchanged"
    )
    assert _count(session) == 1

    changed = make_item(promised_limit_days=5)
    t1 = T0 + timedelta(days=1)
    assert write_item(session, batch.id, changed, source="sz", now=t1) == "changed"
    history = item_history(session, IMPL_CODE)
    assert [v.version_no for v in history] == [1, 2]
    assert history[0].valid_to == t1
    assert history[1].valid_from == t1 and history[1].valid_to is None
    current = current_item(session, IMPL_CODE)
    assert current is not None and current.promised_limit_days == 5
    assert current.as_record() == changed

    t2 = T0 + timedelta(days=2)
    assert cancel_item(session, batch.id, IMPL_CODE, source="sz", now=t2) is True
    assert current_item(session, IMPL_CODE) is None
    tomb = item_history(session, IMPL_CODE)[-1]
    assert tomb.is_tombstone and tomb.status == ReviewStatus.CANCELLED.value
    assert tomb.valid_to is None
    assert cancel_item(session, batch.id, IMPL_CODE, source="sz", now=t2) is False
    assert cancel_item(session, batch.id, IMPL_CODE_2, source="sz", now=t2) is False

    # The item comes back: history goes on from the tombstone.
    t3 = T0 + timedelta(days=3)
    assert write_item(session, batch.id, changed, source="sz", now=t3) == "changed"
    assert [v.version_no for v in item_history(session, IMPL_CODE)] == [1, 2, 3, 4]
    session.commit()


def test_rerun_of_same_input_changes_nothing(session: Session) -> None:
    items = [make_item(), make_item(impl_code=IMPL_CODE_2, authority_uscc="91110108551385082Q")]
    batch = open_batch(session, "items", "sz")
    assert [write_item(session, batch.id, i, source="sz", now=T0) for i in items] == [
        "added",
        "added",
    ]
    session.commit()
    before = [(v.id, v.valid_to) for v in session.scalars(select(ItemVersion))]
    rerun = open_batch(session, "items", "sz")
    later = T0 + timedelta(days=1)
    outcomes = [write_item(session, rerun.id, i, source="sz", now=later) for i in items]
    session.commit()
    assert outcomes == ["unchanged", "unchanged"]
    assert [(v.id, v.valid_to) for v in session.scalars(select(ItemVersion))] == before


def test_version_cannot_start_before_current(session: Session) -> None:
    batch = open_batch(session, "items", "sz")
    write_item(session, batch.id, make_item(), source="sz", now=T0)
    with pytest.raises(ValueError, match="before the current version"):
        write_item(
            session, batch.id, make_item(name="新名称"), source="sz", now=T0 - timedelta(days=1)
        )


def test_naive_times_are_beijing_time(session: Session) -> None:
    batch = open_batch(session, "items", "sz")
    write_item(session, batch.id, make_item(), source="sz", now=datetime(2024, 3, 1, 8, 0))
    version = current_item(session, IMPL_CODE)
    session.commit()
    session.expire_all()
    assert version is not None
    assert version.valid_from == datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
