"""Generated level systems: valid items, reproducible, with the planted disagreements."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_deliver_world import CITY, DISTRICTS, FUTIAN, LONGGANG, PROVINCE, TOPOLOGY_YAML

from standards.codes.enums import ReviewStatus
from standards.formats import validate_file_against_xsd
from standards.identifiers import parse_impl_code, validate_uscc
from standards.records import Item
from standards.validation import CheckOptions
from standards.validation.record_checks import check_record
from tongyuan.sync.systems import (
    PLACEHOLDER,
    build_level_systems,
    changed_items,
    outbox_of,
    write_exports,
)
from tongyuan.topology import Topology, load_topology


@pytest.fixture
def topology(tmp_path: Path) -> Topology:
    path = tmp_path / "topology.yaml"
    path.write_text(TOPOLOGY_YAML, encoding="utf-8")
    return load_topology(path, home=tmp_path / "home")


def test_items_are_valid_and_unique(topology: Topology) -> None:
    systems = build_level_systems(topology, plant=False)
    seen: set[str] = set()
    for code, items in systems.exports.items():
        assert items, code
        for item in items:
            again = Item.model_validate(item.model_dump(mode="json"))
            assert check_record(again, CheckOptions()) == []
            parsed = parse_impl_code(item.impl_code)
            assert parsed.basic.code == item.basic_code and parsed.level is item.exercise_level
            validate_uscc(item.authority_uscc)
            assert item.region_code == code and item.impl_code not in seen
            seen.add(item.impl_code)


def test_reproducible_and_scalable(topology: Topology) -> None:
    one = build_level_systems(topology, seed=5)
    assert one.exports == build_level_systems(topology, seed=5).exports
    three = build_level_systems(topology, authorities=3, plant=False)
    base = build_level_systems(topology, plant=False)
    assert three.item_count == 3 * base.item_count
    with pytest.raises(ValueError, match="authorities"):
        build_level_systems(topology, authorities=0)


def test_planted_disagreements(topology: Topology) -> None:
    systems = build_level_systems(topology)
    kinds = {p.kind: p for p in systems.planted}
    assert set(kinds) == {"base_element", "city_cancel", "claim_incomplete", "claim_missing",
                          "held"}  # fmt: skip
    base = kinds["base_element"]
    district = next(i for i in systems.exports[FUTIAN] if i.impl_code == base.impl_code)
    province = next(i for i in systems.exports[PROVINCE] if i.basic_code == base.basic_code)
    assert district.statutory_limit_days != province.statutory_limit_days
    cancelled = systems.updates[CITY]
    assert [(i.impl_code, i.status) for i in cancelled] == [
        (kinds["city_cancel"].impl_code, ReviewStatus.CANCELLED)
    ]
    incomplete = next(
        i for i in systems.exports[FUTIAN] if i.impl_code == kinds["claim_incomplete"].impl_code
    )
    assert incomplete.location == PLACEHOLDER
    missing = kinds["claim_missing"]
    assert missing.node == LONGGANG
    assert missing.basic_code not in {i.basic_code for i in systems.exports[LONGGANG]}
    assert all(
        missing.basic_code in {i.basic_code for i in systems.exports[d]} for d in DISTRICTS[:-1]
    )


def test_exports_are_schema_valid_files_in_each_outbox(topology: Topology) -> None:
    systems = build_level_systems(topology)
    paths = write_exports(systems)
    assert {p.parent for p in paths} == {outbox_of(topology, c) for c in topology.nodes}
    assert validate_file_against_xsd(paths[0]) == []


def test_changed_items_change_one_element_each(topology: Topology) -> None:
    items = build_level_systems(topology, plant=False).exports[CITY]
    changed = changed_items(items, 0.1, seed=3)
    assert len(changed) == round(len(items) * 0.1)
    by_code = {i.impl_code: i for i in items}
    for item in changed:
        before = by_code[item.impl_code]
        diff = [k for k, v in item.model_dump().items() if v != before.model_dump()[k]]
        assert len(diff) == 1 and item.promised_limit_days <= item.statutory_limit_days
    with pytest.raises(ValueError):
        changed_items(items, 1.5)
