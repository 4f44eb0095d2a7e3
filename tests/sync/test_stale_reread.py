"""Re-reading a drop folder (docs/operations.md, Backfills) puts back no older state: an
export older than the copy the hub holds is skipped as stale (QA: items-1 and items-2
re-read over a cancelled item published it again and recorded a refused review step)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from test_node_sync_world import NANSHAN, changed, drop, dump, generated_items, make_topology

from standards.codes.enums import ReviewStatus
from tongyuan.config import Settings
from tongyuan.db import make_engine
from tongyuan.sync import register_copy_observer, sync_node, unregister_copy_observer
from tongyuan.sync.review import observe_copy

ITEMS = generated_items()


@pytest.fixture(autouse=True)
def _review_tracking() -> Iterator[None]:
    """The review tracker watches, as in ``sync items``: a re-applied old copy would be
    recorded as a cancelled → published step."""
    register_copy_observer(observe_copy)
    yield
    unregister_copy_observer(observe_copy)


@pytest.fixture
def hub(settings: Settings, db_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=db_url)


def _reviews(url: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT * FROM item_review_events")).all()
            reviews = connection.execute(
                text("SELECT impl_code, status FROM item_reviews ORDER BY impl_code")
            ).all()
        return sorted(map(tuple, rows), key=repr) + [tuple(r) for r in reviews]
    finally:
        engine.dispose()


def test_re_reading_older_exports_changes_nothing(hub: Settings, tmp_path: Path) -> None:
    root = tmp_path / "world"
    topo = make_topology(root)
    target = ITEMS[NANSHAN][0]
    start = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
    exports = [
        [changed(target, updated_at=start)],
        [changed(target, updated_at=start + timedelta(hours=1), location="新地点")],
        [changed(target, updated_at=start + timedelta(hours=2), location="新地点",
                 status=ReviewStatus.CANCELLED)],
    ]  # fmt: skip
    for export in exports:
        drop(root, NANSHAN, export)
        assert sync_node(hub, topo, NANSHAN).status == "committed"
    before, reviews = dump(hub.database_url), _reviews(hub.database_url)
    # The operator moves done/* back into the folder and syncs the node again.
    for export in exports:
        drop(root, NANSHAN, export)
    again = sync_node(hub, topo, NANSHAN)
    assert again.status == "committed"
    assert (again.counts["stale"], again.counts["unchanged"], again.counts["refused"]) == (2, 1, 0)
    assert again.counts["added"] == again.counts["changed"] == again.counts["cancelled"] == 0
    after = dump(hub.database_url)
    for part in ("versions", "copies", "catalogue", "findings"):
        assert after[part] == before[part], part
    assert _reviews(hub.database_url) == reviews


def test_a_newer_export_still_applies(hub: Settings, tmp_path: Path) -> None:
    root = tmp_path / "world"
    topo = make_topology(root)
    target = ITEMS[NANSHAN][0]
    start = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
    drop(root, NANSHAN, [changed(target, updated_at=start)])
    sync_node(hub, topo, NANSHAN)
    drop(root, NANSHAN, [changed(target, updated_at=start + timedelta(days=1), location="新地点")])
    result = sync_node(hub, topo, NANSHAN)
    assert (result.counts["changed"], result.counts["stale"]) == (1, 0)


def test_a_clock_running_ahead_blocks_no_later_change(hub: Settings, tmp_path: Path) -> None:
    """Review: judged by updated_at, one record stamped a year ahead made every later fix
    and the cancellation 'stale' — dropped, counted unchanged. Content decides now."""
    root = tmp_path / "world"
    topo = make_topology(root)
    target = ITEMS[NANSHAN][0]
    ahead = datetime.fromisoformat("2027-03-02T09:00:00+08:00")
    now = datetime.fromisoformat("2026-03-03T09:00:00+08:00")
    drop(root, NANSHAN, [changed(target, updated_at=ahead, location="错误地点")])
    sync_node(hub, topo, NANSHAN)
    drop(root, NANSHAN, [changed(target, updated_at=now, location="正确地点")])
    fixed = sync_node(hub, topo, NANSHAN)
    assert (fixed.counts["changed"], fixed.counts["stale"]) == (1, 0)
    drop(root, NANSHAN, [changed(target, updated_at=now, location="正确地点",
                                 status=ReviewStatus.CANCELLED)])  # fmt: skip
    cancelled = sync_node(hub, topo, NANSHAN)
    assert (cancelled.counts["cancelled"], cancelled.counts["stale"]) == (1, 0)


def test_a_re_read_copy_the_issuer_s_elements_rewrote_is_stale_too(
    hub: Settings, tmp_path: Path
) -> None:
    """Review: the library stores a copy merged with the issuer's base elements, whose
    hash never equals the raw copy's: re-read, such exports were applied again (a refused
    cancelled → published review step)."""
    from test_node_sync_world import PROVINCE

    root = tmp_path / "world"
    topo = make_topology(root)
    province_codes = {i.basic_code for i in ITEMS[PROVINCE]}
    target = next(i for i in ITEMS[NANSHAN] if i.basic_code in province_codes)
    drop(root, PROVINCE, ITEMS[PROVINCE])
    sync_node(hub, topo, PROVINCE)
    start = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
    own = changed(target, name="南山区自拟名称", updated_at=start)
    exports = [[own], [changed(own, updated_at=start + timedelta(hours=2),
                               status=ReviewStatus.CANCELLED)]]  # fmt: skip
    for export in exports:
        drop(root, NANSHAN, export)
        assert sync_node(hub, topo, NANSHAN).status == "committed"
    reviews = _reviews(hub.database_url)
    for export in exports:
        drop(root, NANSHAN, export)
    again = sync_node(hub, topo, NANSHAN)
    assert (again.counts["stale"], again.counts["unchanged"], again.counts["refused"]) == (1, 1, 0)
    assert _reviews(hub.database_url) == reviews
