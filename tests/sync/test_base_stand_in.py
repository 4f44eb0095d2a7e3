"""A base code whose issuer has not supplied it: the stand-in rewrites nobody's copy, and
the library and findings do not depend on which system synced first (QA: 南山区 synced
first, renamed a national item and re-versioned its city's and siblings' items)."""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from test_node_sync_world import (
    BAOAN,
    CITY,
    NANSHAN,
    PROVINCE,
    changed,
    drop,
    dump,
    generated_items,
    make_topology,
)

from standards.codes.enums import ExerciseLevel, ReviewStatus
from standards.records import Item
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.consistency import BaseCatalogueEntry
from tongyuan.libraries.items import current_item, item_history
from tongyuan.sync import sync_node, unregister_copy_observer
from tongyuan.sync.review import observe_copy

ITEMS = generated_items()
SYSTEMS = (CITY, NANSHAN, BAOAN)


@pytest.fixture(autouse=True)
def _no_review_tracking() -> None:
    unregister_copy_observer(observe_copy)


@pytest.fixture
def hub(settings: Settings, db_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=db_url)


def _code() -> str:
    """A national 基本编码 the city and both districts implement and the province does not."""
    held = [{i.basic_code for i in ITEMS[n] if i.basic_code.startswith("00")} for n in SYSTEMS]
    province = {i.basic_code for i in ITEMS[PROVINCE]}
    return min(set.intersection(*held) - province)


CODE = _code()


def _copy(node: str) -> Item:
    return next(i for i in ITEMS[node] if i.basic_code == CODE)


def _renamed(item: Item) -> Item:
    """南山区's own base elements: another name, legal basis and statutory limit 20 → 60."""
    return changed(
        item,
        name="南山区自拟名称",
        legal_basis="南山区文件",
        statutory_limit_days=item.statutory_limit_days + 40,
    )


def _world(root: Path) -> dict[str, Item]:
    copies = {node: _copy(node) for node in SYSTEMS}
    copies[NANSHAN] = _renamed(copies[NANSHAN])
    for node, item in copies.items():
        drop(root, node, [item])
    return copies


def _open(state: dict[str, Any]) -> list[Any]:
    return [f for f in state["findings"] if f[5] == "open"]


@pytest.mark.parametrize("order", list(itertools.permutations(SYSTEMS)), ids="-".join)
def test_a_stand_in_rewrites_nobodys_copy_and_the_outcome_ignores_sync_order(
    hub: Settings, tmp_path: Path, order: tuple[str, ...]
) -> None:
    root = tmp_path / "world"
    topo = make_topology(root)
    copies = _world(root)
    for node in order:
        assert sync_node(hub, topo, node).status == "committed"
    state = dump(hub.database_url)
    # Every system's item is in the library with its own base elements, once.
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            for node, item in copies.items():
                stored = current_item(session, item.impl_code)
                assert stored is not None and stored.source == f"node:{node}"
                assert stored.content_hash == item.content_hash()
                assert len(item_history(session, item.impl_code)) == 1
            entry = session.get(BaseCatalogueEntry, CODE)
            assert entry is not None
            # The city stands in (nearest the top of the topology), whoever came first.
            assert (entry.owner_node, entry.owner_kind) == (CITY, "provisional")
            assert entry.elements["name"] == copies[CITY].name
    finally:
        engine.dispose()
    # 南山区's differing elements are findings naming both values; nobody else is blamed.
    # (Every order asserts this same library and these same findings.)
    ours, theirs = copies[CITY], copies[NANSHAN]
    assert sorted((f[1], f[2], f[3], f[6], f[7]) for f in _open(state)) == sorted(
        (element, NANSHAN, CITY, repr(getattr(ours, element)), repr(getattr(theirs, element)))
        for element in ("name", "legal_basis", "statutory_limit_days")
    )


@pytest.mark.parametrize("order", ["issuer_first", "issuer_last"])
def test_the_issuer_then_owns_and_re_versions_every_copy(
    hub: Settings, tmp_path: Path, order: str
) -> None:
    root = tmp_path / "world"
    topo = make_topology(root)
    copies = _world(root)
    authority = ITEMS[PROVINCE][0]
    impl = authority.authority_uscc + ExerciseLevel.PROVINCE.value + CODE
    issued = changed(
        copies[CITY], impl_code=impl, handling_code=impl + "01", region_code=PROVINCE,
        authority_uscc=authority.authority_uscc, authority_name=authority.authority_name,
        exercise_level=ExerciseLevel.PROVINCE, name="省级规范名称",
    )  # fmt: skip
    drop(root, PROVINCE, [issued])
    systems = [*SYSTEMS, PROVINCE] if order == "issuer_last" else [PROVINCE, *SYSTEMS]
    for node in systems:
        sync_node(hub, topo, node)
    state = dump(hub.database_url)
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            entry = session.get(BaseCatalogueEntry, CODE)
            assert entry is not None and (entry.owner_node, entry.owner_kind) == (
                PROVINCE,
                "issuer",
            )
            for item in copies.values():
                stored = current_item(session, item.impl_code)
                assert stored is not None and stored.name == issued.name
                assert stored.statutory_limit_days == issued.statutory_limit_days
    finally:
        engine.dispose()
    blamed = {(f[2], f[1]) for f in _open(state)}
    assert {(node, "name") for node in SYSTEMS} <= blamed
    assert {f[3] for f in _open(state)} == {PROVINCE}


def test_the_stand_in_withdrawing_hands_the_code_to_the_next_copy(
    hub: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "world"
    topo = make_topology(root)
    copies = _world(root)
    for node in SYSTEMS:
        sync_node(hub, topo, node)
    drop(root, CITY, [changed(copies[CITY], status=ReviewStatus.CANCELLED)])
    sync_node(hub, topo, CITY)
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            entry = session.scalars(
                select(BaseCatalogueEntry).where(BaseCatalogueEntry.basic_code == CODE)
            ).one()
            # 南山区 (440305) ranks before 宝安区 (440306) among the districts left.
            assert (entry.owner_node, entry.elements["name"]) == (NANSHAN, copies[NANSHAN].name)
    finally:
        engine.dispose()
    opened = _open(dump(hub.database_url))
    assert {(f[2], f[3]) for f in opened} == {(BAOAN, NANSHAN)}


@pytest.mark.parametrize("order", [(CITY, NANSHAN), (NANSHAN, CITY)], ids="-".join)
def test_a_promise_above_the_stand_in_s_statutory_limit_is_the_same_in_either_order(
    hub: Settings, tmp_path: Path, order: tuple[str, ...]
) -> None:
    """Review: refusing, against a stand-in's elements, a copy raising its own statutory
    limit (20 → 60) to fit a promise of 50 worked only when the stand-in synced first.
    A stand-in refuses nobody: in either order the copy is stored and the 法定时限
    disagreement is an open finding naming both values."""
    root = tmp_path / "world"
    topo = make_topology(root)
    copies = {node: _copy(node) for node in (CITY, NANSHAN)}
    limit = copies[CITY].statutory_limit_days
    copies[NANSHAN] = changed(_renamed(copies[NANSHAN]), promised_limit_days=limit + 30)
    for node, item in copies.items():
        drop(root, node, [item])
    for node in order:
        assert sync_node(hub, topo, node).counts["quarantined"] == 0
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            stored = current_item(session, copies[NANSHAN].impl_code)
            assert stored is not None and stored.content_hash == copies[NANSHAN].content_hash()
    finally:
        engine.dispose()
    limits = [f for f in _open(dump(hub.database_url)) if f[1] == "statutory_limit_days"]
    assert [(f[2], f[3], f[6], f[7]) for f in limits] == [
        (NANSHAN, CITY, repr(limit), repr(limit + 40))
    ]


@pytest.mark.parametrize("order", [(CITY, BAOAN), (BAOAN, CITY)], ids="-".join)
def test_a_stand_in_back_in_review_hands_over_whatever_the_order(
    hub: Settings, tmp_path: Path, order: tuple[str, ...]
) -> None:
    """Review: the stand-in was elected again only when it cancelled or some copy changed;
    its copy going back to review kept it standing in until another system's copy
    changed — the outcome depended on the sync order."""
    root = tmp_path / "world"
    topo = make_topology(root)
    copies = _world(root)
    for node in SYSTEMS:
        sync_node(hub, topo, node)
    drop(root, CITY, [changed(copies[CITY], status=ReviewStatus.REVIEWED)])
    drop(root, BAOAN, [changed(copies[BAOAN], location="宝安区新地点")])
    for node in order:
        assert sync_node(hub, topo, node).status == "committed"
    engine = make_engine(hub.database_url)
    try:
        with make_session_factory(engine)() as session:
            entry = session.get(BaseCatalogueEntry, CODE)
            assert entry is not None and entry.owner_node == NANSHAN
    finally:
        engine.dispose()
    theirs, ours = copies[BAOAN], copies[NANSHAN]
    assert sorted((f[1], f[2], f[3]) for f in _open(dump(hub.database_url))) == sorted(
        (element, BAOAN, NANSHAN) for element in ("name", "legal_basis", "statutory_limit_days")
    ), (theirs.name, ours.name)
