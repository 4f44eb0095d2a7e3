"""Generated level systems: each node's item system filled from the base catalogue.

For tests, the demo and the benchmark, every node of a topology gets an item system
whose export (an ``outbox`` of standard item XML, read by the node's ``files`` source)
holds the implementations of every base item of its level, by one or more authorities
per line of government. Identifiers are real (USCC check characters, 实施编码 built and
parsed by :mod:`standards.identifiers`), and everything is reproducible from the seed.

With ``plant=True`` the systems disagree the way real ones do (see :class:`Planted`):

* ``base_element`` — a district's copy of an item carries a different statutory time
  limit (a base element) than the province's copy of the same 基本编码;
* ``city_cancel`` — the city cancels one of its items in a later export (a base item
  it passes down to its districts), which must propagate up and down;
* ``claim_incomplete`` — a district claims a base item but leaves its local elements as
  placeholders (待填写): the claim is never completed;
* ``claim_missing`` — a district never implements a base item its peers implement: the
  claim stays pushed;
* ``held`` — a district item waiting in review (registered), not published yet.

``authorities`` multiplies the authorities per line of government at each node (the
benchmark's 100k implementation items come from 325 base items × many authorities);
the generator in :mod:`tongyuan.generate` stops at one implementation per base item and
node.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from standards.codes.enums import ExerciseLevel, ReviewStatus
from standards.formats import write_records
from standards.identifiers import make_impl_code, uscc_check_char
from standards.records import Fee, Item, RequiredMaterial
from tongyuan.generate.catalogue import BaseItem, build_catalogue
from tongyuan.generate.topology import DEPARTMENT_KINDS, DepartmentKind

CST = timezone(timedelta(hours=8))
EXPORTED_AT = datetime(2026, 1, 5, 9, 0, tzinfo=CST)
PLACEHOLDER = "待填写"

_STREETS = ("人民路", "中山路", "建设路", "解放路", "新华路", "和平路", "文化路", "滨河路")
_HALLS = ("政务服务中心", "行政服务大厅", "市民中心")
_AREA_CODES = {"4403": "0755", "44": "020", "6201": "0931", "62": "0931"}


@dataclass(frozen=True, slots=True)
class Planted:
    """One planted disagreement: what, where, and what to expect of it."""

    kind: str
    node: str
    impl_code: str
    basic_code: str
    detail: str


@dataclass(slots=True)
class LevelSystems:
    """Each node's exported items (initial and later exports) and what was planted."""

    topology: Any
    exports: dict[str, list[Item]] = field(default_factory=dict)
    updates: dict[str, list[Item]] = field(default_factory=dict)
    planted: list[Planted] = field(default_factory=list)

    @property
    def item_count(self) -> int:
        return sum(len(items) for items in self.exports.values())

    def planted_of(self, kind: str) -> list[Planted]:
        return [p for p in self.planted if p.kind == kind]


_DROP_TOPOLOGY = """\
name: {name}
node_defaults:
  source:
    adapter: files
    stream: items
    config:
      path: "{{home}}/systems/{{code}}/outbox"
      streams:
        items: {{kind: item}}
      settle_seconds: 0
      staging_dir: "{{home}}/staging/{{code}}"
  sink:
    adapter: files-sink
    config:
      path: "{{home}}/systems/{{code}}/inbox"
nodes:
  - {{code: "440000", name: 广东省, level: province, parent: null}}
  - {{code: "440300", name: 深圳市, level: city, parent: "440000"}}
"""


def shenzhen_drop_topology(name: str, districts: Iterable[str]) -> str:
    """Topology YAML: 广东省 → 深圳市 → these districts, every node's item system a drop
    folder under the hub's home (``systems/CODE/outbox`` read, ``…/inbox`` written), as
    :func:`build_level_systems` fills them."""
    from standards.codes.regions import lookup_region

    lines = [_DROP_TOPOLOGY.format(name=name).rstrip()]
    for code in districts:
        region = lookup_region(code)
        if region is None:
            raise ValueError(f"{code} is not a region code")
        lines.append(
            f'  - {{code: "{code}", name: {region.name}, level: county, parent: "440300"}}'
        )
    return "\n".join(lines) + "\n"


def outbox_of(topology: Any, code: str) -> Path:
    """The folder a node's item system exports into (its ``files`` source's path)."""
    ref = topology.node(code).source
    config = ref.config
    if not isinstance(config, dict) or "path" not in config:
        raise ValueError(f"node {code}: its source is not a folder ({ref.adapter}); cannot export")
    path = Path(config["path"])
    if not path.is_absolute():
        base = ref.base_dir or Path.cwd()
        path = base / path
    return path


def inbox_of(topology: Any, code: str) -> Path | None:
    """The folder deliveries to a node land in (its ``files-sink``'s path), if any."""
    ref = topology.node(code).sink
    if ref is None or not isinstance(ref.config, dict) or "path" not in ref.config:
        return None
    return Path(ref.config["path"])


def _authority_uscc(region: str, kind_index: int, n: int) -> str:
    """A 机关 USCC (``11``) unique per region, line of government and authority number."""
    first17 = f"11{region}{kind_index:03d}{n:06d}"
    return first17 + uscc_check_char(first17)


def _authority_name(node_name: str, level: ExerciseLevel, kind: DepartmentKind, n: int) -> str:
    if level is ExerciseLevel.PROVINCE:
        name = kind.province_name
    elif level is ExerciseLevel.COUNTY and kind.district_name:
        name = kind.district_name
    else:
        name = kind.local_name
    return f"{node_name}{name}" + ("" if n == 0 else f"第{n}分局")


def _departments_by_line(topology: Any, code: str) -> dict[str, tuple[str, str]]:
    """Department systems of the topology at this node, by the line they belong to."""
    found = {}
    for dept in topology.departments_of(code):
        for kind in DEPARTMENT_KINDS:
            if dept.name.endswith(kind.local_name) or dept.name.endswith(kind.province_name):
                found[kind.key] = (dept.code, dept.name)
    return found


def _implement(
    rng: random.Random,
    base: BaseItem,
    *,
    region: str,
    node_name: str,
    level: ExerciseLevel,
    uscc: str,
    authority: str,
    area_code: str,
) -> Item:
    impl_code = make_impl_code(uscc, level, base.basic_code)
    statutory = base.statutory_limit_days
    promised = statutory if statutory <= 1 else rng.randint(max(1, statutory // 4), statutory)
    street = f"{node_name}{rng.choice(_STREETS)}{rng.randrange(1, 400)}号"
    location = f"{street}{node_name}{rng.choice(_HALLS)}{rng.randrange(1, 40)}号窗口"
    phone = f"{area_code}-{rng.randrange(2, 9)}{rng.randrange(10**6, 10**7)}"
    fees = [Fee(name=base.fee[0], standard=base.fee[1], basis=base.fee[2])] if base.fee else []
    materials = [
        RequiredMaterial(name=m.name, material_type=m.material_type, form=m.form)
        for m in base.materials
    ]
    return Item.model_construct(
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
        query_channels=f"{node_name}政务服务网；电话查询：{phone}",
        consult_channels=f"窗口咨询：{location}；电话咨询：{phone}",
        complaint_channels=f"12345政务服务便民热线；{authority}投诉电话：{phone}",
        materials=materials,
        authority_name=authority,
        authority_uscc=uscc,
        exercise_level=level,
        region_code=region,
        status=ReviewStatus.PUBLISHED,
        updated_at=EXPORTED_AT,
    )


def build_level_systems(
    topology: Any, *, seed: int = 2026, authorities: int = 1, plant: bool = True
) -> LevelSystems:
    """Every node's item export for ``topology`` (see the module docstring)."""
    if authorities < 1:
        raise ValueError(f"authorities must be at least 1, not {authorities}")
    rng = random.Random(f"tongyuan-level-systems-{seed}")  # noqa: S311 (synthetic data)
    root = topology.root
    catalogue = build_catalogue(root.code)
    kinds = {k.key: (i, k) for i, k in enumerate(DEPARTMENT_KINDS, 1)}
    systems = LevelSystems(topology)
    for code, node in topology.nodes.items():
        level = ExerciseLevel(getattr(node.level, "value", node.level))
        own_depts = _departments_by_line(topology, code)
        area = _AREA_CODES.get(code[:4]) or _AREA_CODES.get(code[:2], "010")
        items = []
        for base in catalogue:
            if level not in base.levels:
                continue
            index, kind = kinds[base.dept_key]
            for n in range(authorities):
                if n == 0 and base.dept_key in own_depts:
                    uscc, authority = own_depts[base.dept_key]
                else:
                    uscc = _authority_uscc(code, index, n)
                    authority = _authority_name(node.name, level, kind, n)
                items.append(
                    _implement(
                        rng, base, region=code, node_name=_full_name(topology, code),
                        level=level, uscc=uscc, authority=authority, area_code=area,
                    )
                )  # fmt: skip
        items.sort(key=lambda i: i.impl_code)
        systems.exports[code] = items
    if plant:
        _plant(systems, catalogue)
    return systems


def _full_name(topology: Any, code: str) -> str:
    """深圳市南山区 for a district, 深圳市 for a city, 广东省 for a province."""
    node = topology.node(code)
    parent = topology.parent(code)
    if parent is not None and getattr(node.level, "value", node.level) == "4":
        return parent.name + node.name
    return str(node.name)


def _levels(topology: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for code, node in topology.nodes.items():
        out.setdefault(getattr(node.level, "value", node.level), []).append(code)
    return out


def _first_of(items: list[Item], basic_code: str) -> int:
    return next(i for i, item in enumerate(items) if item.basic_code == basic_code)


def _plant(systems: LevelSystems, catalogue: tuple[BaseItem, ...]) -> None:
    by_level = _levels(systems.topology)
    provinces, cities, districts = (
        by_level.get("2", []),
        by_level.get("3", []),
        by_level.get("4", []),
    )
    if not (cities and districts):
        return
    city, first = cities[0], districts[0]
    everywhere = [
        b for b in catalogue if set(b.levels) >= {ExerciseLevel.CITY, ExerciseLevel.COUNTY}
    ]
    national = [b for b in everywhere if ExerciseLevel.PROVINCE in b.levels and provinces]
    city_owned = [b for b in everywhere if ExerciseLevel.PROVINCE not in b.levels]
    exports = systems.exports

    if national:
        base = national[0]
        items = exports[first]
        i = _first_of(items, base.basic_code)
        wrong = base.statutory_limit_days + 10
        items[i] = items[i].model_copy(update={"statutory_limit_days": wrong})
        systems.planted.append(Planted(
            "base_element", first, items[i].impl_code, base.basic_code,
            f"statutory_limit_days {wrong} at {first}, {base.statutory_limit_days} at "
            f"{provinces[0]}",
        ))  # fmt: skip

    if city_owned:
        base = city_owned[0]
        i = _first_of(exports[city], base.basic_code)
        cancelled = exports[city][i].model_copy(update={"status": ReviewStatus.CANCELLED})
        systems.updates.setdefault(city, []).append(cancelled)
        systems.planted.append(Planted(
            "city_cancel", city, cancelled.impl_code, base.basic_code,
            f"{base.name} cancelled by {city} in its second export",
        ))  # fmt: skip

    if len(city_owned) > 1:
        base = city_owned[1]
        items = exports[first]
        i = _first_of(items, base.basic_code)
        items[i] = items[i].model_copy(
            update={"location": PLACEHOLDER, "consult_channels": PLACEHOLDER}
        )
        systems.planted.append(Planted(
            "claim_incomplete", first, items[i].impl_code, base.basic_code,
            "location and consult_channels left as 待填写",
        ))  # fmt: skip

    if len(city_owned) > 2 and len(districts) > 1:
        base, last = city_owned[2], districts[-1]
        items = exports[last]
        gone = [item for item in items if item.basic_code == base.basic_code]
        exports[last] = [item for item in items if item.basic_code != base.basic_code]
        systems.planted.append(Planted(
            "claim_missing", last, gone[0].impl_code if gone else "", base.basic_code,
            f"{base.name} never implemented at {last}",
        ))  # fmt: skip

    if len(city_owned) > 3:
        base = city_owned[3]
        items = exports[first]
        i = _first_of(items, base.basic_code)
        items[i] = items[i].model_copy(update={"status": ReviewStatus.REGISTERED})
        systems.planted.append(Planted(
            "held", first, items[i].impl_code, base.basic_code, "registered, waiting in review",
        ))  # fmt: skip


def write_export(topology: Any, code: str, items: Iterable[Item], label: str) -> Path | None:
    """Write one export of a node's system into its outbox; ``None`` when there is nothing.

    The file name carries ``label`` so successive exports sort in order; writing is
    atomic (the ``files`` source never sees half a file).
    """
    records = list(items)
    if not records:
        return None
    folder = outbox_of(topology, code)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"items-{label}.xml"
    write_records(path, records)
    return path


def write_exports(systems: LevelSystems, label: str = "0001-initial") -> list[Path]:
    """Every node's initial export into its outbox (and an empty inbox beside it)."""
    paths = []
    for code, items in systems.exports.items():
        path = write_export(systems.topology, code, items, label)
        if path is not None:
            paths.append(path)
        inbox = inbox_of(systems.topology, code)
        if inbox is not None:
            inbox.mkdir(parents=True, exist_ok=True)
    return paths


def write_updates(systems: LevelSystems, label: str = "0002-update") -> list[Path]:
    """The later exports (the planted cancellation) into the outboxes."""
    paths = []
    for code, items in systems.updates.items():
        path = write_export(systems.topology, code, items, label)
        if path is not None:
            paths.append(path)
    return paths


def changed_items(items: list[Item], fraction: float, *, seed: int = 1) -> list[Item]:
    """A ``fraction`` of ``items`` with a changed implementation element (a new export).

    Changes the promised time limit (kept within the statutory one) or the consultation
    channel, as a local authority updating its implementation list would.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be within [0, 1], not {fraction}")
    rng = random.Random(f"tongyuan-changes-{seed}")  # noqa: S311 (synthetic data)
    count = round(len(items) * fraction)
    out = []
    for item in rng.sample(items, count):
        if item.statutory_limit_days > 1:
            days = item.promised_limit_days - 1 if item.promised_limit_days > 1 else 2
            out.append(item.model_copy(update={"promised_limit_days": days}))
        else:
            out.append(
                item.model_copy(update={"consult_channels": item.consult_channels + "（更新）"})
            )
    out.sort(key=lambda i: i.impl_code)
    return out
