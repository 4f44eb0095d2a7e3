"""The topology as loaded: nodes (levels of government), their systems, departments, edges.

Objects here are already validated (see :mod:`tongyuan.topology.validate`): every parent
exists, the tree has one root and no cycle, every adapter is known and its configuration
accepted. Code that receives a :class:`Topology` never re-checks any of that. The one
exception is a department's adapter whose installed package was broken when the file was
checked: its reference carries the problem (``AdapterRef.problem``) and refuses to open,
so that department fails with it while the others run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standards.codes.enums import ExerciseLevel


@dataclass(frozen=True, slots=True)
class AdapterRef:
    """Which adapter reaches a system, and with which configuration.

    ``adapter`` is a name as :mod:`adapters.sdk.registry` resolves it (built-in name,
    installed entry point, or ``module:Class``). ``config`` is the configuration mapping
    itself, with ``{home}`` (and ``{code}``) already expanded, or the path of an adapter
    YAML file. ``base_dir`` is the folder relative paths inside the configuration are
    taken from (the topology file's folder). ``env_defaults`` are the topology's non-secret
    fallbacks for ``env:NAME`` references (an embedded SQLite URL), used only when the
    variable is not set. ``snapshot`` says every read that delivers anything delivers the
    system's full list, so an item absent from it was withdrawn (the sync engine cancels
    it); incremental streams leave it false. ``problem`` is ``(place in the file,
    message)`` when a department's adapter package failed its checks (did not import,
    failed while built, streams() raised, its name unknown or ambiguous): :meth:`open`
    raises it instead of running code whose streams were never checked.
    """

    adapter: str
    config: dict[str, Any] | Path
    stream: str = "items"
    base_dir: Path | None = field(default=None, compare=False)
    env_defaults: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    snapshot: bool = False
    problem: tuple[str, str] | None = None

    def resolve_secret(self, ref: str):  # type: ignore[no-untyped-def]
        """Resolve ``env:``/``airflow:`` references; the environment wins over the defaults."""
        from adapters.sdk.config import SecretStr, resolve_secret

        if ref.startswith("env:"):
            name = ref[4:]
            if name not in os.environ and name in self.env_defaults:
                return SecretStr(self.env_defaults[name])
        return resolve_secret(ref)

    def open(self):  # type: ignore[no-untyped-def]
        """A ready adapter instance (Source or Sink); nothing is connected yet.

        Raises :class:`adapters.sdk.AdapterError` (ConfigError for configuration; a plain
        AdapterError with the problem found when the topology was loaded for a broken
        department package).
        """
        from adapters.sdk.registry import load_adapter

        if self.problem is not None:
            from adapters.sdk import AdapterError

            where, message = self.problem
            raise AdapterError(f"the department's adapter is unusable ({where}): {message}")

        cls = load_adapter(self.adapter)
        if isinstance(self.config, Path):
            return cls.configured(
                self.config, base_dir=self.config.resolve().parent, secrets=self.resolve_secret
            )
        return cls.configured(
            self.config,
            source=f"adapter {self.adapter!r}",
            base_dir=self.base_dir,
            secrets=self.resolve_secret,
        )


@dataclass(frozen=True, slots=True)
class Node:
    """One level of government: a GB/T 2260 region, its item system, its edge upwards.

    ``source`` reads the node's item system; ``sink`` writes into it (deliveries from
    the child nodes, pushes from the parent). ``schedule`` is the cron expression of the
    edge to the parent — when this node syncs and delivers up; on the root, when it syncs.
    """

    code: str
    name: str
    level: ExerciseLevel
    parent: str | None
    source: AdapterRef
    sink: AdapterRef | None = None
    schedule: str | None = None


@dataclass(frozen=True, slots=True)
class Department:
    """A department attached to a node: its own item system, its case system, or both.

    ``source`` reads the department's item system (its items are that node's); it is None
    for a department that only delivers cases. ``cases`` reads its case system (cases and
    the materials submitted with them); ``case_schedule`` is the cron of its ingestion.
    ``signing`` says every delivery must carry a manifest signed with the department's
    certificate, verified before anything of it is ingested. ``signing_ca`` says who
    issues that certificate: ``shared`` (a CA that certifies other departments too, such
    as a provincial government CA) — the certificate must then name the department's
    USCC — or ``dedicated`` (a CA of the department's own, trusted under
    ``anchors/<code>/``), where a certificate naming no USCC is accepted when its chain
    ends under those anchors.
    """

    name: str
    code: str  # USCC of the department
    node: str
    source: AdapterRef | None
    streams: list[str] = field(default_factory=lambda: ["items"])
    cases: AdapterRef | None = None
    case_schedule: str | None = None
    signing: bool = False
    signing_ca: str = "shared"

    @property
    def problems(self) -> list[str]:
        """Why this department's adapters cannot run (``place: message``); empty when
        they can. Set only for package problems; see :mod:`tongyuan.topology.validate`."""
        refs = (self.source, self.cases)
        return [f"{r.problem[0]}: {r.problem[1]}" for r in refs if r and r.problem]


@dataclass(frozen=True, slots=True)
class Topology:
    """A validated tree of nodes with its departments.

    ``home`` is the data directory ``{home}`` was expanded to when the file was loaded;
    ``path`` the file it came from.
    """

    name: str
    nodes: dict[str, Node]
    departments: list[Department] = field(default_factory=list)
    title: str | None = None
    path: Path | None = None
    home: Path | None = None
    # Departments that deliver only cases (no item system): kept apart from
    # ``departments``, which the item sync walks.
    case_only_departments: list[Department] = field(default_factory=list)
    # Where the certificates that signed deliveries are checked against (anchors/,
    # intermediates/, crls/); None: the hub's default (see tongyuan.ingest.signed).
    trust_dir: Path | None = None
    # ``(place in the file, message)`` of every department adapter whose package failed
    # its checks, in file order: those departments fail when run, the others do not.
    # ``tongyuan sync check`` lists them and exits 2.
    adapter_problems: list[tuple[str, str]] = field(default_factory=list)

    def node(self, code: str) -> Node:
        """The node with this region code; KeyError names the topology's codes if absent."""
        try:
            return self.nodes[code]
        except KeyError:
            known = ", ".join(self.nodes)
            raise KeyError(f"no node {code!r} in topology {self.name!r} (nodes: {known})") from None

    @property
    def root(self) -> Node:
        return next(n for n in self.nodes.values() if n.parent is None)

    def parent(self, code: str) -> Node | None:
        """The node above ``code`` (None for the root)."""
        parent = self.node(code).parent
        return None if parent is None else self.nodes[parent]

    def children(self, code: str) -> list[Node]:
        """The nodes directly below ``code``, in file order."""
        self.node(code)
        return [n for n in self.nodes.values() if n.parent == code]

    def descendants(self, code: str) -> list[Node]:
        """Every node below ``code``, parents before their children."""
        out: list[Node] = []
        frontier = self.children(code)
        while frontier:
            out.extend(frontier)
            frontier = [c for n in frontier for c in self.children(n.code)]
        return out

    def depth(self, code: str) -> int:
        """Edges between ``code`` and the root (the root is 0)."""
        depth, node = 0, self.node(code)
        while node.parent is not None:
            depth, node = depth + 1, self.nodes[node.parent]
        return depth

    def levels_bottom_up(self) -> list[list[str]]:
        """Node codes grouped by depth, deepest first: districts, then cities, the root last.

        Each group can sync in parallel; a group delivers up only after the one before it.
        """
        by_depth: dict[int, list[str]] = {}
        for code in self.nodes:
            by_depth.setdefault(self.depth(code), []).append(code)
        return [by_depth[d] for d in sorted(by_depth, reverse=True)]

    def edges(self) -> list[tuple[str, str, str | None]]:
        """``(child, parent, schedule)`` for every edge, deepest edges first."""
        return [
            (code, parent, self.nodes[code].schedule)
            for group in self.levels_bottom_up()
            for code in group
            if (parent := self.nodes[code].parent) is not None
        ]

    def departments_of(self, code: str) -> list[Department]:
        """Departments with an item system attached to the node ``code``."""
        self.node(code)
        return [d for d in self.departments if d.node == code]

    @property
    def case_departments(self) -> list[Department]:
        """Every department with a case system (those with an item system first)."""
        return [d for d in [*self.departments, *self.case_only_departments] if d.cases]

    def case_department(self, code: str) -> Department:
        """The department ``code`` (USCC) with a case system; KeyError names the known ones."""
        for dept in self.case_departments:
            if dept.code == code or dept.name == code:
                return dept
        known = ", ".join(f"{d.code} {d.name}" for d in self.case_departments) or "none"
        raise KeyError(
            f"no department with a case system {code!r} in topology {self.name!r} "
            f"(departments with cases: {known})"
        )
