"""A small generated province → city → districts world for the item sync tests.

Each node's item system is a ``files`` drop folder with standard item XML; items come
from the generator's building blocks (topology, base catalogue, implementation lists).
Not a test module: the helpers live here so that the sync tests and the kill/resume
subprocess share them.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from sqlalchemy import select

from standards.codes.enums import ExerciseLevel
from standards.formats import write_records
from standards.records import Item
from tongyuan.db import make_engine, make_session_factory
from tongyuan.generate.catalogue import build_catalogue
from tongyuan.generate.items import build_items
from tongyuan.generate.topology import build_topology
from tongyuan.libraries.adapter_states import AdapterState
from tongyuan.libraries.consistency import BaseCatalogueEntry, ConsistencyFinding, NodeItem
from tongyuan.libraries.items import ItemVersion
from tongyuan.topology.model import AdapterRef, Node, Topology

PROVINCE, CITY, NANSHAN, BAOAN = "440000", "440300", "440305", "440306"
CODES = (PROVINCE, CITY, NANSHAN, BAOAN)
LEVELS = {
    PROVINCE: ExerciseLevel.PROVINCE,
    CITY: ExerciseLevel.CITY,
    NANSHAN: ExerciseLevel.COUNTY,
    BAOAN: ExerciseLevel.COUNTY,
}
PARENTS = {PROVINCE: None, CITY: PROVINCE, NANSHAN: CITY, BAOAN: CITY}


def system_dir(root: Path, code: str) -> Path:
    return root / "systems" / code


def make_topology(root: Path, *, snapshot: frozenset[str] = frozenset()) -> Topology:
    """Four nodes, each reading its own drop folder of standard item XML."""
    nodes = {}
    for code in CODES:
        folder = system_dir(root, code)
        folder.mkdir(parents=True, exist_ok=True)
        config = {"path": str(folder), "streams": {"items": {"kind": "item"}},
                  "settle_seconds": 0, "staging_dir": str(root / "staging" / code)}  # fmt: skip
        ref = AdapterRef("files", config, snapshot=code in snapshot)
        nodes[code] = Node(code, code, LEVELS[code], PARENTS[code], ref)
    return Topology("test", nodes)


def generated_items(count: int = 200) -> dict[str, list[Item]]:
    """Generated published items by node code (only the four nodes above)."""
    topo = build_topology("shenzhen")
    items = build_items(random.Random(7), topo, build_catalogue(topo.province_code), count)
    by_node: dict[str, list[Item]] = {code: [] for code in CODES}
    for implemented in items:
        if implemented.node.code in by_node:
            by_node[implemented.node.code].append(
                Item.model_validate(implemented.record.model_dump(mode="json", exclude_none=True))
            )
    return by_node


_counter = {"n": 0}


def drop(root: Path, code: str, items: list[Item], name: str | None = None) -> Path:
    """Drop one export file with these items into the node's folder."""
    _counter["n"] += 1
    path = system_dir(root, code) / (name or f"items_{_counter['n']:04d}.xml")
    write_records(path, items, kind="item")
    return path


def changed(item: Item, **values: Any) -> Item:
    """A validated copy of ``item`` with some elements replaced."""
    return Item.model_validate({**item.model_dump(mode="json", exclude_none=True), **values})


def dump(url: str) -> dict[str, Any]:
    """The libraries the sync writes, normalised: no batch ids, row ids or timestamps."""
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            versions = sorted(
                (v.impl_code, v.version_no, v.is_tombstone, v.content_hash, v.source,
                 v.valid_to is None)
                for v in session.scalars(select(ItemVersion))
            )  # fmt: skip
            copies = sorted(
                (c.node, c.impl_code, c.content_hash, c.status)
                for c in session.scalars(select(NodeItem))
            )
            catalogue = sorted(
                (e.basic_code, e.owner_node, e.owner_kind, e.content_hash, e.version)
                for e in session.scalars(select(BaseCatalogueEntry))
            )
            findings = sorted(
                (f.impl_code, f.element, f.other_node, f.owner_node, f.scope, f.status,
                 repr(f.owner_value), repr(f.other_value))
                for f in session.scalars(select(ConsistencyFinding))
            )  # fmt: skip
            states = sorted(
                (s.source, s.stream, repr(s.state)) for s in session.scalars(select(AdapterState))
            )
    finally:
        engine.dispose()
    return {
        "versions": versions,
        "copies": copies,
        "catalogue": catalogue,
        "findings": findings,
        "states": states,
    }
