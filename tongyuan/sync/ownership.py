"""Who owns which element of an item (一数一源), decided from the topology alone.

Base elements (``Item.BASE_ELEMENTS``) belong to the level that issued the base
catalogue, which the 基本编码's first two characters name: ``00`` is the national
catalogue (no node of a topology issues it), a province code (``44``) is that
province's catalogue, owned by the node ``440000`` when the topology has it.

Implementation elements belong to the implementing authority, i.e. to the system that
holds the authority's own items: a department item system of the topology whose code is
the item's ``authority_uscc``, else the node whose region code is the item's
``region_code`` (a township or village item, whose region code is longer than six
digits, is held by its county's system). When no system of the topology owns an
implementation element the first one to supply it stands in; a base code whose issuer
has not supplied it has a stand-in ranked by :meth:`Ownership.stand_in_rank`, which
rewrites nobody's copy (see :mod:`tongyuan.sync.node_sync`).

Since the region code decides who owns an item, a system may only file items under its
own region or a region below it (:meth:`Ownership.may_file`): a district that files an
item under its sibling's code would make the sibling its authority, and under its
city's or province's code would have it pushed back down as a base item to claim.
A department system files under the region of the node it is attached to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from standards.codes.regions import parent_of
from standards.records import Item

NATIONAL = "national"
# The element of a consistency finding on a published item whose base item a level above
# cancelled (tongyuan.sync.deliver): judged by the push, never by a copy's sync.
BASE_CANCELLED = "base_status"
SOURCE_PREFIX = "node:"


class NodeLike(Protocol):
    code: str


class DepartmentLike(Protocol):
    code: str
    node: str


class TopologyLike(Protocol):
    """The part of :class:`tongyuan.topology.Topology` ownership needs."""

    @property
    def nodes(self) -> Mapping[str, Any]: ...

    @property
    def departments(self) -> Sequence[Any]: ...


def base_issuer(basic_code: str) -> str:
    """``national`` for a ``00`` code, else the issuing province's region code."""
    prefix = basic_code[:2]
    if len(basic_code) < 2 or not prefix.isdigit():
        raise ValueError(f"基本编码 {basic_code!r} does not start with two digits")
    return NATIONAL if prefix == "00" else prefix + "0000"


def source_label(system: str) -> str:
    """How an item version names the system it came from (``node:440305``)."""
    return SOURCE_PREFIX + system


def system_of_label(label: str) -> str | None:
    """The system code in a source label, ``None`` for labels sync did not write."""
    return label[len(SOURCE_PREFIX) :] if label.startswith(SOURCE_PREFIX) else None


def _canonical(code: str) -> str:
    """A 12-digit code of a county or above (``440305000000``) in its 6-digit form."""
    return code[:6] if len(code) == 12 and code[6:] == "000000" else code


def region_within(region: str, ancestor: str) -> bool:
    """Whether ``region`` is ``ancestor`` or a division below it, by GB/T 2260 structure.

    The structure, not the topology, decides: a city's system may hold an item of a
    district the topology has no node for. A malformed code is within nothing.
    """
    target = _canonical(ancestor)
    code: str | None = _canonical(region)
    while code is not None:
        if code == target:
            return True
        try:
            code = parent_of(code)
        except ValueError:
            return False
        code = None if code is None else _canonical(code)
    return False


@dataclass(frozen=True, slots=True)
class Ownership:
    """Ownership questions answered for one topology (built once per sync run)."""

    nodes: frozenset[str]
    departments: Mapping[str, str]  # department code (USCC) -> its node
    top: str | None = None  # the node the national catalogue enters the topology through
    depths: Mapping[str, int] = field(default_factory=dict)  # node -> edges below its top

    @classmethod
    def of(cls, topology: TopologyLike) -> Ownership:
        departments = {d.code: d.node for d in getattr(topology, "departments", ()) or ()}
        tops = [code for code, node in topology.nodes.items() if node.parent is None]
        depths = {code: _depth(topology.nodes, code) for code in topology.nodes}
        top = tops[0] if len(tops) == 1 else None
        return cls(frozenset(topology.nodes), departments, top, depths)

    def base_owner(self, basic_code: str) -> str | None:
        """The node that supplies the code's catalogue, ``None`` when no node does."""
        issuer = base_issuer(basic_code)
        if issuer == NATIONAL:
            return self.top
        return issuer if issuer in self.nodes else None

    def stand_in_rank(self, system: str) -> tuple[int, int, str]:
        """Which non-issuing system stands in for a base code's issuer: the lowest rank.

        Decided from the topology alone, never from sync order, so the stand-in (and the
        findings named after it) is the same whichever system synced first: the system
        nearest the top of the topology (a city before its districts), a node's own
        system before its departments', then the smaller code. A system the topology
        does not know comes last.
        """
        home = self.home_region(system)
        depth = self.depths.get(home, len(self.depths)) if home is not None else 1 << 16
        return (depth, 0 if system in self.nodes else 1, system)

    def home_region(self, system: str) -> str | None:
        """The region a system files its items under: a node's own code, a department's
        node; ``None`` for a code the topology does not know."""
        if system in self.nodes:
            return system
        return self.departments.get(system)

    def may_file(self, system: str, region: str) -> bool:
        """Whether ``system`` may deliver items whose region code is ``region``: its own
        region or one below it (a system the topology does not know is not judged)."""
        home = self.home_region(system)
        return home is None or region_within(region, home)

    def implementation_owner(self, item: Item) -> str | None:
        """The system holding the implementing authority's own items, if the topology has it."""
        if item.authority_uscc in self.departments:
            return item.authority_uscc
        region = item.region_code
        if region in self.nodes:
            return region
        if len(region) > 6 and region[:6] in self.nodes:
            return region[:6]
        return None


def _depth(nodes: Mapping[str, Any], code: str) -> int:
    """How many parents lie between a node and its top (a cycle or unknown parent stops)."""
    depth, seen = 0, {code}
    parent = getattr(nodes[code], "parent", None)
    while parent is not None and parent in nodes and parent not in seen:
        seen.add(parent)
        depth += 1
        parent = getattr(nodes[parent], "parent", None)
    return depth


def as_json(item: Item | Mapping[str, Any]) -> Mapping[str, Any]:
    """The JSON form the item library stores (``None`` left out at every depth).

    Values are compared in this one form only, so a copy read from a node and a version
    read back from the library are equal exactly when their contents are.
    """
    return item.model_dump(mode="json", exclude_none=True) if isinstance(item, Item) else item


def base_elements(item: Item | Mapping[str, Any]) -> dict[str, Any]:
    """The base elements of an item (or of its JSON form), JSON-ready."""
    data = as_json(item)
    return {name: data.get(name) for name in Item.BASE_ELEMENTS}


def implementation_elements(item: Item | Mapping[str, Any]) -> dict[str, Any]:
    """The implementation elements of an item (or of its JSON form), JSON-ready."""
    data = as_json(item)
    return {name: data.get(name) for name in Item.IMPLEMENTATION_ELEMENTS}


def differing(owner: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    """Elements whose values differ, in the order the owner lists them."""
    return [name for name in owner if owner.get(name) != other.get(name)]
