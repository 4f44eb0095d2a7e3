"""The administrative topologies the generator can populate: nodes and their departments.

A node is one level of government (province, city, district) with its region code and
the departments that implement items there. Department codes are derived from the
topology name only, not from the dataset seed: an authority keeps its USCC whatever
dataset is generated, as in reality.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from standards.codes.enums import ExerciseLevel
from standards.identifiers import USCC_ALPHABET, uscc_check_char


@dataclass(frozen=True, slots=True)
class DepartmentKind:
    """A line of government (市场监管, 公安 …), named differently at province level."""

    key: str
    abbr: str  # used in source-system names, e.g. SZ-SCJGJ
    province_name: str
    local_name: str
    district_name: str | None = None  # when districts name it differently (卫生健康局)


DEPARTMENT_KINDS: tuple[DepartmentKind, ...] = (
    DepartmentKind("scjg", "SCJGJ", "市场监督管理局", "市场监督管理局"),
    DepartmentKind("ga", "GAJ", "公安厅", "公安局"),
    DepartmentKind("rs", "RSJ", "人力资源和社会保障厅", "人力资源和社会保障局"),
    DepartmentKind("wj", "WJW", "卫生健康委员会", "卫生健康委员会", "卫生健康局"),
    DepartmentKind("zj", "ZJJ", "住房和城乡建设厅", "住房和城乡建设局"),
    DepartmentKind("mz", "MZJ", "民政厅", "民政局"),
    DepartmentKind("jt", "JTJ", "交通运输厅", "交通运输局"),
    DepartmentKind("jy", "JYJ", "教育厅", "教育局"),
    DepartmentKind("zr", "ZRZYJ", "自然资源厅", "规划和自然资源局"),
    DepartmentKind("wh", "WHLYJ", "文化和旅游厅", "文化广电旅游体育局"),
)
KIND_BY_KEY: dict[str, DepartmentKind] = {k.key: k for k in DEPARTMENT_KINDS}


@dataclass(frozen=True, slots=True)
class Department:
    """One implementing authority at one node."""

    kind: DepartmentKind
    name: str  # full name, e.g. 深圳市南山区市场监督管理局
    uscc: str
    source_system: str  # the department's case system, e.g. SZNS-SCJGJ
    phone: str


@dataclass(frozen=True, slots=True)
class Node:
    """One level of government in a topology."""

    code: str  # GB/T 2260 region code
    name: str  # full name used as a prefix, e.g. 深圳市南山区
    short_name: str  # 南山区
    level: ExerciseLevel
    prefix: str  # source-system prefix, e.g. SZNS
    area_code: str  # telephone area code
    phone_digits: int
    address_city: str  # where the node's offices are: city part of addresses
    address_district: str  # and district part
    departments: tuple[Department, ...]

    def department(self, key: str) -> Department:
        """The department of one line at this node (every node has every line)."""
        for dept in self.departments:
            if dept.kind.key == key:
                return dept
        raise KeyError(f"node {self.code} has no department {key!r}")


@dataclass(frozen=True, slots=True)
class Topology:
    """A province → city → districts chain."""

    name: str
    province_code: str
    nodes: tuple[Node, ...]

    @property
    def city_code(self) -> str:
        return next(n.code for n in self.nodes if n.level is ExerciseLevel.CITY)

    @property
    def citizen_region_codes(self) -> tuple[str, ...]:
        """County codes that appear in residents' ID numbers (districts of the topology)."""
        return tuple(n.code for n in self.nodes if n.level is ExerciseLevel.COUNTY)


@dataclass(frozen=True, slots=True)
class _NodeSpec:
    code: str
    name: str
    short_name: str
    level: ExerciseLevel
    prefix: str
    area_code: str
    phone_digits: int
    address_city: str
    address_district: str


_SPECS: dict[str, tuple[_NodeSpec, ...]] = {
    "shenzhen": (
        _NodeSpec("440000", "广东省", "广东省", ExerciseLevel.PROVINCE, "GD", "020", 8,
                  "广州市", "越秀区"),
        _NodeSpec("440300", "深圳市", "深圳市", ExerciseLevel.CITY, "SZ", "0755", 8,
                  "深圳市", "福田区"),
        _NodeSpec("440305", "深圳市南山区", "南山区", ExerciseLevel.COUNTY, "SZNS", "0755", 8,
                  "深圳市", "南山区"),
        _NodeSpec("440306", "深圳市宝安区", "宝安区", ExerciseLevel.COUNTY, "SZBA", "0755", 8,
                  "深圳市", "宝安区"),
        _NodeSpec("440307", "深圳市龙岗区", "龙岗区", ExerciseLevel.COUNTY, "SZLG", "0755", 8,
                  "深圳市", "龙岗区"),
    ),
    "lanzhou": (
        _NodeSpec("620000", "甘肃省", "甘肃省", ExerciseLevel.PROVINCE, "GS", "0931", 7,
                  "兰州市", "城关区"),
        _NodeSpec("620100", "兰州市", "兰州市", ExerciseLevel.CITY, "LZ", "0931", 7,
                  "兰州市", "城关区"),
        _NodeSpec("620102", "兰州市城关区", "城关区", ExerciseLevel.COUNTY, "LZCG", "0931", 7,
                  "兰州市", "城关区"),
    ),
}  # fmt: skip

TOPOLOGY_NAMES: tuple[str, ...] = tuple(_SPECS)


def _government_uscc(rng: random.Random, region: str) -> str:
    """A USCC of an organ of state power: ``11`` + region + 9-char organisation code + check."""
    org = "00" + "".join(rng.choice("0123456789") for _ in range(6)) + rng.choice(USCC_ALPHABET)
    first17 = "11" + region + org
    return first17 + uscc_check_char(first17)


def _department_name(spec: _NodeSpec, kind: DepartmentKind) -> str:
    if spec.level is ExerciseLevel.PROVINCE:
        return spec.name + kind.province_name
    if spec.level is ExerciseLevel.COUNTY and kind.district_name:
        return spec.name + kind.district_name
    return spec.name + kind.local_name


def build_topology(name: str) -> Topology:
    """The named topology with its departments; ValueError names the known ones."""
    try:
        specs = _SPECS[name]
    except KeyError:
        raise ValueError(
            f"unknown topology {name!r}: expected one of {', '.join(TOPOLOGY_NAMES)}"
        ) from None
    rng = random.Random(f"tongyuan-topology-{name}")  # noqa: S311 (synthetic, reproducible)
    used: set[str] = set()
    nodes = []
    for spec in specs:
        depts = []
        for kind in DEPARTMENT_KINDS:
            uscc = _government_uscc(rng, spec.code)
            while uscc in used:
                uscc = _government_uscc(rng, spec.code)
            used.add(uscc)
            phone = _phone(rng, spec)
            depts.append(
                Department(kind, _department_name(spec, kind), uscc,
                           f"{spec.prefix}-{kind.abbr}", phone)
            )  # fmt: skip
        nodes.append(
            Node(spec.code, spec.name, spec.short_name, spec.level, spec.prefix, spec.area_code,
                 spec.phone_digits, spec.address_city, spec.address_district, tuple(depts))
        )  # fmt: skip
    return Topology(name, specs[0].code, tuple(nodes))


def _phone(rng: random.Random, spec: _NodeSpec) -> str:
    first = str(rng.randrange(2, 9))
    rest = "".join(str(rng.randrange(10)) for _ in range(spec.phone_digits - 1))
    return f"{spec.area_code}-{first}{rest}"
