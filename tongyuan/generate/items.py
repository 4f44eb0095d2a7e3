"""Implementation lists (实施清单): base items implemented by departments at each node."""

from __future__ import annotations

import random
from dataclasses import dataclass

from standards.codes.enums import ItemType, ReviewStatus
from standards.identifiers import make_impl_code
from standards.records import Fee, Item, RequiredMaterial
from tongyuan.generate import names
from tongyuan.generate.catalogue import BaseItem
from tongyuan.generate.clock import ITEMS_UPDATED, day_index, office_time
from tongyuan.generate.topology import Department, Node, Topology


@dataclass(frozen=True, slots=True)
class ImplementedItem:
    """One authority's implementation of a base item, with the record that describes it."""

    base: BaseItem
    node: Node
    dept: Department
    record: Item

    @property
    def impl_code(self) -> str:
        return self.record.impl_code


def capacity(topology: Topology, catalogue: tuple[BaseItem, ...]) -> int:
    """How many distinct implementations the topology supports (one per base item and node)."""
    return sum(1 for base in catalogue for node in topology.nodes if node.level in base.levels)


def _pick_implementations(
    rng: random.Random, topology: Topology, catalogue: tuple[BaseItem, ...], count: int
) -> list[tuple[BaseItem, Node]]:
    """Whole base items in random order, each implemented at every node of its levels.

    Taking every implementation of a base item (rather than scattering single ones) is what
    makes cross-level consistency (四级四同) checkable in the generated data.
    """
    available = capacity(topology, catalogue)
    if count > available:
        raise ValueError(
            f"items={count} exceeds the {available} implementations the {topology.name!r} "
            f"topology supports (one per base item and node)"
        )
    order = list(catalogue)
    rng.shuffle(order)
    # Licensing items first so that even small datasets issue licenses.
    first = next((i for i, b in enumerate(order) if b.issues_license), 0)
    order.insert(0, order.pop(first))
    picked: list[tuple[BaseItem, Node]] = []
    for base in order:
        for node in topology.nodes:
            if node.level in base.levels:
                picked.append((base, node))
                if len(picked) == count:
                    return picked
    return picked


def _portal(topology: Topology) -> str:
    province = topology.nodes[0].name
    return province.removesuffix("省") + "政务服务网"


def build_items(
    rng: random.Random, topology: Topology, catalogue: tuple[BaseItem, ...], count: int
) -> list[ImplementedItem]:
    """``count`` implemented items, ordered by node (as each node's item system exports them)."""
    picked = _pick_implementations(rng, topology, catalogue, count)
    node_order = {node.code: i for i, node in enumerate(topology.nodes)}
    picked.sort(key=lambda bn: (node_order[bn[1].code], bn[0].basic_code))
    portal = _portal(topology)
    updated_day = day_index(ITEMS_UPDATED)
    result: list[ImplementedItem] = []
    for base, node in picked:
        dept = node.department(base.dept_key)
        impl_code = make_impl_code(dept.uscc, node.level, base.basic_code)
        statutory = base.statutory_limit_days
        if statutory <= 1 or rng.random() < 0.2:
            promised = statutory
        else:
            promised = rng.randint(max(1, statutory // 4), statutory)
        street = names.street_address(rng, node.address_city, node.address_district)
        if rng.random() < 0.7:
            location = street + names.service_hall(rng, node.name)
        else:
            location = f"{street}{dept.name}办事大厅"
        center_phone = names.landline(rng, node.area_code, node.phone_digits)
        fees = (
            [Fee.model_construct(name=base.fee[0], standard=base.fee[1], basis=base.fee[2])]
            if base.fee
            else []
        )
        materials = [
            RequiredMaterial.model_construct(
                name=m.name,
                material_type=m.material_type,
                form=m.form,
                copies=1,
                required=m is not base.materials[-1] or len(base.materials) < 3,
                source="申请人自备" if m.material_type != "申请表" else f"{portal}下载",
            )
            for m in base.materials
        ]
        record = Item.model_construct(
            basic_code=base.basic_code,
            impl_code=impl_code,
            handling_code=impl_code + "01",
            name=base.name,
            item_type=base.item_type,
            legal_basis=base.legal_basis,
            conditions=base.conditions,
            statutory_limit_days=statutory,
            promised_limit_days=promised,
            location=location,
            process=base.process,
            fees=fees,
            query_channels=f"登录{portal}查询办理进度；电话查询：{dept.phone}",
            consult_channels=f"窗口咨询：{location}；电话咨询：{dept.phone}",
            complaint_channels=f"12345政务服务便民热线；{node.name}政务服务中心投诉电话：{center_phone}",
            materials=materials,
            authority_name=dept.name,
            authority_uscc=dept.uscc,
            exercise_level=node.level,
            region_code=node.code,
            status=ReviewStatus.PUBLISHED,
            updated_at=office_time(updated_day, rng.randrange(25_200)),
        )
        result.append(ImplementedItem(base, node, dept, record))
    return result


# Relative weight of an item in case volume: licensing and services at district level
# carry most of the applications.
_TYPE_WEIGHT = {
    ItemType.LICENSING: 0.6,
    ItemType.CONFIRMATION: 3.0,
    ItemType.PUBLIC_SERVICE: 4.0,
    ItemType.BENEFIT: 1.5,
    ItemType.OTHER_POWER: 0.3,
}
_LEVEL_WEIGHT = {"2": 1.0, "3": 2.0, "4": 3.0}


def case_weight(item: ImplementedItem, rng: random.Random) -> float:
    """How many cases an item attracts relative to others (with some item-to-item spread)."""
    base = _TYPE_WEIGHT.get(item.base.item_type, 1.0) * _LEVEL_WEIGHT[item.node.level.value]
    return base * (0.2 + rng.random() * 1.6)
