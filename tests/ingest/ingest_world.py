"""Test world: a hub with one department case system on a local drop folder."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import func, select
from std_factories import AUTHORITY, make_item

from standards.formats import write_records
from standards.records import StandardRecord
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.loading import Loader
from tongyuan.topology import Topology, load_topology

DEPT = AUTHORITY  # 深圳市南山区市场监督管理局, the authority of the factories' item


def topology_yaml(
    *, signing: bool = False, trust_dir: Path | None = None, signing_ca: str | None = None
) -> str:
    trust = f'trust_dir: "{trust_dir}"\n' if trust_dir is not None else ""
    ca = f"\n    signing_ca: {signing_ca}" if signing_ca is not None else ""
    return f"""\
name: ingest-test
{trust}nodes:
  - code: "440305"
    source:
      adapter: files
      config:
        path: "{{home}}/systems/440305/outbox"
        streams: {{items: {{kind: item}}}}
        settle_seconds: 0
departments:
  - name: 深圳市南山区市场监督管理局
    code: "{DEPT}"
    node: "440305"
    cases:
      adapter: files
      config:
        path: "{{home}}/drops/{DEPT}"
        streams:
          materials: {{kind: material, patterns: ["materials_*.xml"]}}
          cases: {{kind: case, patterns: ["cases_*.xml"]}}
        settle_seconds: 0
    signing: {"true" if signing else "false"}{ca}
"""


@dataclasses.dataclass
class World:
    """The hub (settings on one database), its topology and the department's drop."""

    settings: Settings
    topology: Topology
    drop: Path
    tmp: Path

    def deliver(self, name: str, records: Sequence[StandardRecord]) -> Path:
        path = self.drop / name
        tmp = self.drop / f".{name}"  # a leading dot: not read while being written
        write_records(tmp, list(records))
        tmp.replace(path)
        return path

    def load_items(self, items: Sequence[StandardRecord]) -> None:
        folder = self.tmp / f"items-{len(list(self.tmp.glob('items-*')))}"
        folder.mkdir()
        write_records(folder / "items.xml", list(items))
        loader = Loader(self.settings)
        try:
            summary = loader.load([folder])
        finally:
            loader.close()
        assert not summary.failed

    def count(self, model, *where) -> int:  # type: ignore[no-untyped-def]
        engine = make_engine(self.settings.database_url)
        try:
            with make_session_factory(engine)() as s:
                stmt = select(func.count()).select_from(model)
                for clause in where:
                    stmt = stmt.where(clause)
                return int(s.scalar(stmt) or 0)
        finally:
            engine.dispose()

    def query(self, stmt):  # type: ignore[no-untyped-def]
        engine = make_engine(self.settings.database_url)
        try:
            with make_session_factory(engine)() as s:
                return list(s.execute(stmt))
        finally:
            engine.dispose()


def make_world(settings: Settings, tmp: Path, *, signing: bool = False,
               trust_dir: Path | None = None, items: bool = True,
               signing_ca: str | None = None) -> World:  # fmt: skip
    path = tmp / "topology.yaml"
    text = topology_yaml(signing=signing, trust_dir=trust_dir, signing_ca=signing_ca)
    path.write_text(text, encoding="utf-8")
    topology = load_topology(path, home=settings.home)
    drop = settings.home / "drops" / DEPT
    drop.mkdir(parents=True, exist_ok=True)
    world = World(settings, topology, drop, tmp)
    if items:
        world.load_items([make_item()])
    return world
