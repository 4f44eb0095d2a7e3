"""Where an item is filed and how often it comes: the sync's checks of one delivery.

An item's region code decides which system owns it, so a system may only deliver items
filed under its own region or below it, and the region must be of the item's 行使层级;
the same 实施编码 twice in one delivery keeps the first record and refuses the second.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from test_node_sync_world import (
    BAOAN,
    CITY,
    NANSHAN,
    PROVINCE,
    changed,
    drop,
    generated_items,
    make_topology,
    system_dir,
)

from standards.formats import write_records
from standards.records import Item
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.items import current_item, item_history
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.sync import sync_node, unregister_copy_observer
from tongyuan.sync.deliver import deliver_up, push_down
from tongyuan.sync.ownership import region_within
from tongyuan.topology.model import AdapterRef, Department

ITEMS = generated_items()


@pytest.fixture(autouse=True)
def _no_review_tracking() -> Iterator[None]:
    from tongyuan.sync.review import observe_copy

    unregister_copy_observer(observe_copy)
    yield
    unregister_copy_observer(observe_copy)


@pytest.fixture
def hub(settings: Settings, db_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=db_url)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "world"


def _quarantined(hub: Settings) -> list[tuple[str, list[str], str, str]]:
    """(source file name, rules, message, impl code) of every open item entry."""
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            rows = session.scalars(select(QuarantineEntry).order_by(QuarantineEntry.id))
            return [
                (
                    Path(e.source_file).name,
                    sorted(r["rule"] for r in e.rules),
                    e.message or "",
                    str(e.payload_masked.get("impl_code")),
                )
                for e in rows
                if e.status == "open"
            ]
    finally:
        engine.dispose()


def _history(hub: Settings, impl: str) -> list[dict]:
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            return [dict(v.data) for v in item_history(session, impl)]
    finally:
        engine.dispose()


def _current(hub: Settings, impl: str) -> Item | None:
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            return current_item(session, impl)
    finally:
        engine.dispose()


def test_the_same_impl_code_twice_in_one_file_keeps_the_first(hub: Settings, root: Path) -> None:
    topo = make_topology(root)
    first = ITEMS[NANSHAN][0]
    second = changed(first, promised_limit_days=first.promised_limit_days - 1)
    drop(root, NANSHAN, [first, second], name="items-dup.xml")
    result = sync_node(hub, topo, NANSHAN)
    assert result.counts["quarantined"] == 1 and result.counts["added"] == 1
    [(file, rules, message, impl)] = _quarantined(hub)
    assert (file, rules, impl) == ("items-dup.xml", ["item.key.duplicate"], first.impl_code)
    assert "items-dup.xml#1" in message  # names the record it repeats
    [stored] = _history(hub, first.impl_code)  # one version, the first record's
    assert stored["promised_limit_days"] == first.promised_limit_days


def test_the_same_impl_code_in_two_files_of_one_pull_is_an_update(
    hub: Settings, root: Path
) -> None:
    """Successive files are successive states of the system: no duplicate across them."""
    topo = make_topology(root)
    first = ITEMS[NANSHAN][0]
    drop(root, NANSHAN, [first], name="items-1.xml")
    drop(root, NANSHAN, [changed(first, location="新地点")], name="items-2.xml")
    result = sync_node(hub, topo, NANSHAN)
    assert result.counts.get("quarantined", 0) == 0
    assert [v["location"] for v in _history(hub, first.impl_code)] == [first.location, "新地点"]


def test_an_item_filed_under_a_sibling_or_a_parent_is_quarantined(
    hub: Settings, root: Path
) -> None:
    """南山区 cannot deliver items under 宝安区's or 深圳市's code; the city may hold its
    districts' items (copies judged against theirs)."""
    topo = make_topology(root)
    own = ITEMS[NANSHAN][1]
    sibling = changed(ITEMS[NANSHAN][2], region_code=BAOAN)
    parents = ITEMS[CITY][0]  # a 市级 item, filed under 440300
    drop(root, NANSHAN, [own, sibling, parents], name="items-n.xml")
    result = sync_node(hub, topo, NANSHAN)
    assert result.counts["added"] == 1 and result.counts["quarantined"] == 2
    found = {impl: (rules, message) for _, rules, message, impl in _quarantined(hub)}
    assert found[sibling.impl_code][0] == ["item.region.outside_system"]
    assert f"under region {BAOAN}" in found[sibling.impl_code][1]
    assert f"neither {NANSHAN} nor below it" in found[sibling.impl_code][1]
    assert found[parents.impl_code][0] == ["item.region.outside_system"]
    assert _current(hub, sibling.impl_code) is None and _current(hub, parents.impl_code) is None
    # Below is fine: the city delivers a copy of 南山区's item, judged, not refused.
    drop(root, CITY, [ITEMS[CITY][1], changed(own, location="市里的副本")])
    city = sync_node(hub, topo, CITY)
    assert city.counts.get("quarantined", 0) == 0 and city.counts["judged"] == 1


def test_a_county_item_under_a_province_code_is_refused_and_never_pushed(
    hub: Settings, root: Path
) -> None:
    """The QA case: 南山区's own item with region 440000 was stored, then pushed to the
    districts as a base item held by the province."""
    topo = make_topology(root)
    own = next(i for i in ITEMS[NANSHAN] if i.basic_code.startswith("44"))
    misfiled = changed(own, region_code=PROVINCE)
    drop(root, NANSHAN, [misfiled])
    for code in (BAOAN, CITY, PROVINCE):
        drop(root, code, ITEMS[code][:3])
    for code in (NANSHAN, BAOAN, CITY, PROVINCE):
        sync_node(hub, topo, code)
    [(_, rules, message, impl)] = _quarantined(hub)
    # Both: a 县级 code is not a province's, and 440000 is above 南山区.
    assert impl == own.impl_code
    assert rules == ["item.region.level_mismatch", "item.region.outside_system"]
    assert "440000" in message
    assert _current(hub, own.impl_code) is None
    for code in (NANSHAN, BAOAN, CITY):
        deliver_up(hub, topo, code)
    for code in (PROVINCE, CITY):
        push_down(hub, topo, code)
    for code in (NANSHAN, BAOAN):
        for pushed in (system_dir(root, code) / "inbox").glob("*.xml"):
            assert own.impl_code not in pushed.read_text(encoding="utf-8")


def test_a_department_files_under_its_node(hub: Settings, root: Path) -> None:
    """A department of 深圳市 delivers items of 440300 (and below), not of 440000."""
    topo = make_topology(root)
    city_item = ITEMS[CITY][0]
    folder = system_dir(root, "dept")
    folder.mkdir(parents=True)
    config = {"path": str(folder), "streams": {"items": {"kind": "item"}},
              "settle_seconds": 0, "staging_dir": str(root / "staging" / "dept")}  # fmt: skip
    dept = Department("市局", city_item.authority_uscc, CITY, AdapterRef("files", config))
    topo = dataclasses.replace(topo, departments=[dept])
    province_item = ITEMS[PROVINCE][0]
    write_records(folder / "items-d.xml", [city_item, province_item], kind="item")
    result = sync_node(hub, topo, dept.code)
    assert result.counts["added"] == 1 and result.counts["quarantined"] == 1
    [(_, rules, message, impl)] = _quarantined(hub)
    assert (rules, impl) == (["item.region.outside_system"], province_item.impl_code)
    assert f"department of node {CITY}" in message


@pytest.mark.parametrize(
    ("region", "ancestor", "within"),
    [
        ("440305", "440305", True),
        ("440305", "440300", True),
        ("440305", "440000", True),
        ("440305001000", "440305", True),  # a township of the district
        ("440305001002", "440305001000", True),  # a village of the township
        ("440305000000", "440305", True),  # the 12-digit form of the district itself
        ("440306", "440305", False),  # a sibling
        ("440300", "440305", False),  # the parent
        ("440000", "440305", False),
        ("429004", "420000", True),  # province-administered county (city part 90)
        ("429004", "420100", False),
        ("44030x", "440300", False),  # malformed: within nothing
    ],
)
def test_region_within_follows_the_gb2260_structure(
    region: str, ancestor: str, within: bool
) -> None:
    assert region_within(region, ancestor) is within


def test_a_replay_does_not_store_what_only_the_delivery_could_refuse(
    hub: Settings, root: Path
) -> None:
    """A replay has neither the sending system nor the delivery: an entry refused for
    where the item is filed, or for repeating a record of its file, stays open with a
    message saying how it closes, and nothing is stored."""
    from tongyuan.quarantine.replay import replay_ids

    topo = make_topology(root)
    first = ITEMS[NANSHAN][0]
    sibling = changed(ITEMS[NANSHAN][2], region_code=BAOAN)
    dup = changed(first, promised_limit_days=first.promised_limit_days - 1)
    drop(root, NANSHAN, [first, dup, sibling], name="items-r.xml")
    assert sync_node(hub, topo, NANSHAN).counts["quarantined"] == 2
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            ids = list(session.scalars(select(QuarantineEntry.id)))
    finally:
        engine.dispose()
    summary = replay_ids(hub, ids)
    assert summary.accepted == 0 and summary.still_open == 2
    assert all("quarantine discard" in (o.message or "") for o in summary.outcomes)
    assert _current(hub, sibling.impl_code) is None
    [stored] = _history(hub, first.impl_code)
    assert stored["promised_limit_days"] == first.promised_limit_days
