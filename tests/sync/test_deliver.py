"""Delivery up (aggregates) and down (base items), idempotent, published items only."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from test_deliver_world import (
    CITY,
    DISTRICTS,
    FUTIAN,
    LONGGANG,
    PROVINCE,
    World,
    at,
    build_template,
    clone_world,
    make_world,
)

from standards.codes.enums import ReviewStatus
from tongyuan.config import Settings
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.claims import ItemDelivery
from tongyuan.sync import deliver as deliver_module
from tongyuan.sync import sync_node
from tongyuan.sync.deliver import deliver_up, push_down
from tongyuan.sync.systems import write_export, write_updates


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_template(tmp_path_factory.mktemp("deliver-world"))


@pytest.fixture
def world(template: Path, settings: Settings, tmp_path: Path) -> World:
    return clone_world(template, settings, tmp_path)


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.xml"))


def test_city_aggregate_reaches_the_province(world: World) -> None:
    at_province = {i.impl_code for i in world.delivered(PROVINCE)}
    published = {
        i.impl_code
        for code in (CITY, *DISTRICTS)
        for i in world.systems.exports[code]
        if i.status is ReviewStatus.PUBLISHED
    }
    assert at_province == published
    # The districts deliver to the city (which also gets the province's pushes).
    at_city = {i.impl_code for i in world.delivered(CITY) if i.region_code != PROVINCE}
    assert at_city == {
        i.impl_code
        for code in DISTRICTS
        for i in world.systems.exports[code]
        if i.status is ReviewStatus.PUBLISHED
    }


def test_only_published_items_leave(world: World) -> None:
    (held,) = world.systems.planted_of("held")
    assert all(i.status is ReviewStatus.PUBLISHED for i in world.delivered(PROVINCE))
    assert held.impl_code not in {i.impl_code for i in world.delivered(CITY)}
    assert held.impl_code not in {i.impl_code for i in world.delivered(PROVINCE)}
    # Once published in the district's system, it goes up with the next delivery.
    item = next(i for i in world.systems.exports[FUTIAN] if i.impl_code == held.impl_code)
    for status in (ReviewStatus.REVIEWED, ReviewStatus.CHECKED, ReviewStatus.PUBLISHED):
        write_export(world.topology, FUTIAN, [item.model_copy(update={"status": status})],
                     f"0009-{status.value}")  # fmt: skip
        sync_node(world.settings, world.topology, FUTIAN, now=at(3, 3))
    result = deliver_up(world.settings, world.topology, FUTIAN, now=at(3, 3))
    assert result.counts["delivered"] == 1
    assert held.impl_code in {i.impl_code for i in world.delivered(CITY)}


def test_redelivery_changes_nothing(world: World) -> None:
    before = {code: _files(world.inbox(code)) for code in (PROVINCE, CITY, *DISTRICTS)}
    with world.session() as session:
        ledger = session.scalar(select(func.count()).select_from(ItemDelivery))
    world.run(at(3, 3))
    world.run(at(3, 4))
    assert {code: _files(world.inbox(code)) for code in before} == before
    with world.session() as session:
        assert session.scalar(select(func.count()).select_from(ItemDelivery)) == ledger
    again = deliver_up(world.settings, world.topology, CITY, now=at(3, 5))
    assert again.counts["delivered"] == 0 and again.counts["unchanged"] > 900
    assert again.batch_id is not None  # every run is a recorded batch


def test_killed_between_file_and_ledger_resends_the_same_file(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = world.systems.exports[LONGGANG][0].model_copy(update={"promised_limit_days": 1})
    write_export(world.topology, LONGGANG, [changed], "0003-change")
    sync_node(world.settings, world.topology, LONGGANG, now=at(3, 3))

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed after the file was written")

    monkeypatch.setattr(deliver_module, "_record_ledger", crash)
    with pytest.raises(RuntimeError):
        deliver_up(world.settings, world.topology, LONGGANG, now=at(3, 3))
    written = _files(world.inbox(CITY))
    monkeypatch.undo()
    result = deliver_up(world.settings, world.topology, LONGGANG, now=at(3, 3))
    assert result.counts["delivered"] == 1
    assert _files(world.inbox(CITY)) == written  # the same content, the same file
    assert deliver_up(world.settings, world.topology, LONGGANG).counts["delivered"] == 0


def test_city_cancellation_propagates_up_and_down(world: World) -> None:
    (planted,) = world.systems.planted_of("city_cancel")
    write_updates(world.systems)
    world.run(at(3, 3))
    at_province = [i for i in world.delivered(PROVINCE) if i.impl_code == planted.impl_code]
    assert [i.status for i in at_province] == [ReviewStatus.PUBLISHED, ReviewStatus.CANCELLED]
    for district in DISTRICTS:
        pushed = [i for i in world.delivered(district) if i.basic_code == planted.basic_code]
        assert [i.status for i in pushed] == [ReviewStatus.PUBLISHED, ReviewStatus.CANCELLED]
        assert world.claim(district, planted.basic_code).status == "cancelled"


def test_district_cancellation_propagates_up_to_the_province(world: World) -> None:
    item = world.systems.exports[FUTIAN][5]
    cancelled = item.model_copy(update={"status": ReviewStatus.CANCELLED})
    write_export(world.topology, FUTIAN, [cancelled], "0003-cancel")
    world.sync_up(at(3, 3))
    for code in (CITY, PROVINCE):
        statuses = [i.status for i in world.delivered(code) if i.impl_code == item.impl_code]
        assert statuses == [ReviewStatus.PUBLISHED, ReviewStatus.CANCELLED]
    # Delivered once: a later run sends the cancellation no more.
    world.sync_up(at(3, 4))
    assert [i.impl_code for i in world.delivered(PROVINCE)].count(item.impl_code) == 2


def test_a_cancellation_never_sent_before_is_not_delivered(
    settings: Settings, tmp_path: Path
) -> None:
    w = make_world(settings, tmp_path, plant=False)
    item = w.systems.exports[LONGGANG][0]
    # Cancelled before the city was ever sent it.
    for code in (LONGGANG,):
        sync_node(w.settings, w.topology, code, now=at(3, 2))
    write_export(w.topology, LONGGANG, [item.model_copy(update={"status": ReviewStatus.CANCELLED})],
                 "0002-cancel")  # fmt: skip
    sync_node(w.settings, w.topology, LONGGANG, now=at(3, 3))
    deliver_up(w.settings, w.topology, LONGGANG, now=at(3, 3))
    assert item.impl_code not in {i.impl_code for i in w.delivered(CITY)}


def test_push_down_sends_base_items_with_the_catalogue_elements(world: World) -> None:
    (planted,) = world.systems.planted_of("base_element")
    province_item = next(
        i for i in world.systems.exports[PROVINCE] if i.basic_code == planted.basic_code
    )
    pushed = [i for i in world.delivered(CITY) if i.region_code == PROVINCE]
    (base,) = [i for i in pushed if i.basic_code == planted.basic_code]
    a, b = base.model_dump(mode="json"), province_item.model_dump(mode="json")
    assert {k: (v, b[k]) for k, v in a.items() if v != b[k]} == {}
    # Only base items some city implements are pushed to a city: province-only ones are not.
    city_codes = {i.basic_code for i in world.systems.exports[CITY]}
    assert {i.basic_code for i in pushed} == city_codes & {
        i.basic_code for i in world.systems.exports[PROVINCE]
    }


def test_dry_run_writes_nothing(world: World) -> None:
    (planted,) = world.systems.planted_of("city_cancel")
    write_updates(world.systems)
    sync_node(world.settings, world.topology, CITY, now=at(3, 3))
    inboxes = {code: _files(world.inbox(code)) for code in (PROVINCE, *DISTRICTS)}
    with world.session() as session:
        batches = session.scalar(select(func.count()).select_from(Batch))
    up = deliver_up(world.settings, world.topology, CITY, dry_run=True, now=at(3, 3))
    down = push_down(world.settings, world.topology, CITY, dry_run=True, now=at(3, 3))
    assert up.batch_id is None and up.counts["cancelled"] == 1
    assert down.batch_id is None and down.counts["cancelled"] == len(DISTRICTS)
    assert {code: _files(world.inbox(code)) for code in inboxes} == inboxes
    with world.session() as session:
        assert session.scalar(select(func.count()).select_from(Batch)) == batches
    assert world.claim(FUTIAN, planted.basic_code).status != "cancelled"


def test_root_delivers_nowhere(world: World) -> None:
    result = deliver_up(world.settings, world.topology, PROVINCE)
    assert result.batch_id is None and result.counts["targets"] == 0


def test_items_under_a_cancelled_base_item_get_a_finding_until_cancelled_too(
    world: World,
) -> None:
    """The city cancels a base item: the districts' own implementations stay published
    (not the hub's to cancel) and each gets an open finding, resolved once cancelled."""
    from tongyuan.libraries.consistency import ConsistencyFinding
    from tongyuan.libraries.items import ItemVersion
    from tongyuan.sync.ownership import BASE_CANCELLED

    (planted,) = world.systems.planted_of("city_cancel")
    write_updates(world.systems)
    world.run(at(3, 3))

    def findings() -> dict[str, tuple[str, str, str]]:
        with world.session() as session:
            rows = session.scalars(
                select(ConsistencyFinding).where(ConsistencyFinding.element == BASE_CANCELLED)
            )
            return {r.impl_code: (r.status, r.owner_node, r.other_node) for r in rows}

    with world.session() as session:
        below = {
            v.impl_code: v.region_code
            for v in session.scalars(
                select(ItemVersion).where(
                    ItemVersion.basic_code == planted.basic_code,
                    ItemVersion.valid_to.is_(None),
                    ItemVersion.is_tombstone.is_(False),
                    ItemVersion.region_code.in_(DISTRICTS),
                )
            )
        }
    assert below  # the districts implement it
    assert findings() == {impl: ("open", CITY, region) for impl, region in below.items()}
    world.run(at(3, 4))  # judged again: still one finding per item
    assert findings() == {impl: ("open", CITY, region) for impl, region in below.items()}
    impl, district = next(iter(below.items()))
    item = next(i for i in world.systems.exports[district] if i.impl_code == impl)
    withdrawn = item.model_copy(update={"status": ReviewStatus.CANCELLED})
    write_export(world.topology, district, [withdrawn], "0010-cancel")
    world.run(at(3, 5))
    assert findings()[impl] == ("resolved", CITY, district)
    assert all(f[0] == "open" for i, f in findings().items() if i != impl)
