"""Who owns which element: base elements by the issuing catalogue, implementation
elements by the implementing authority's own system."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_node_sync_world import CITY, NANSHAN, PROVINCE, changed, generated_items, make_topology

from tongyuan.sync.ownership import (
    NATIONAL,
    Ownership,
    base_elements,
    base_issuer,
    differing,
    implementation_elements,
    source_label,
    system_of_label,
)
from tongyuan.topology.model import AdapterRef, Department, Topology

ITEMS = generated_items()


def test_the_base_code_prefix_names_the_issuer() -> None:
    assert base_issuer("000100137005") == NATIONAL
    assert base_issuer("440101580003") == "440000"
    assert base_issuer("620701580003") == "620000"
    with pytest.raises(ValueError, match="two digits"):
        base_issuer("X40101580003")


def test_base_owner_is_the_issuing_province_node_when_the_topology_has_it(tmp_path: Path) -> None:
    owners = Ownership.of(make_topology(tmp_path))
    assert owners.base_owner("440101580003") == PROVINCE
    assert owners.base_owner("000100137005") == PROVINCE  # national: enters through the top
    assert owners.base_owner("620101580003") is None  # another province's catalogue


def test_implementation_owner_is_the_authority_system(tmp_path: Path) -> None:
    topo = make_topology(tmp_path)
    item = ITEMS[NANSHAN][0]
    assert Ownership.of(topo).implementation_owner(item) == NANSHAN
    township = changed(item, region_code=NANSHAN + "001")
    assert Ownership.of(topo).implementation_owner(township) == NANSHAN
    elsewhere = changed(item, region_code="620102")
    assert Ownership.of(topo).implementation_owner(elsewhere) is None
    # A department with its own item system owns its items, whichever node holds copies.
    dept = Department("市场监督管理局", item.authority_uscc, CITY, AdapterRef("files", {}))
    with_dept = Topology(topo.name, topo.nodes, [dept])
    assert Ownership.of(with_dept).implementation_owner(item) == item.authority_uscc


def test_elements_compare_in_the_stored_json_form() -> None:
    item = ITEMS[CITY][0]
    stored = item.model_dump(mode="json", exclude_none=True)
    assert differing(base_elements(item), base_elements(stored)) == []
    assert differing(implementation_elements(item), implementation_elements(stored)) == []
    other = changed(item, promised_limit_days=item.promised_limit_days + 1, name="别名")
    assert differing(base_elements(item), base_elements(other)) == ["name"]
    assert differing(implementation_elements(item), implementation_elements(other)) == [
        "promised_limit_days"
    ]


def test_source_labels_round_trip() -> None:
    assert system_of_label(source_label(NANSHAN)) == NANSHAN
    assert system_of_label("adapter:market") is None
