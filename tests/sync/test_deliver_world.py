"""Generated level systems for the delivery, claim and review tests (helpers, no tests).

广东省 → 深圳市 → 福田区 / 南山区 / 龙岗区, described in YAML and loaded through the real
topology loader; each node's system is an outbox (``files`` source) and an inbox
(``files-sink``) under the hub home, filled by :mod:`tongyuan.sync.systems` with its
planted disagreements.
"""

from __future__ import annotations

import base64
import shutil
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from standards.formats import iter_raw_records, to_record
from standards.records import Item
from tongyuan.config import ENV_HOME, ENV_PII_KEY, Settings, load_settings
from tongyuan.db import make_engine, make_session_factory, upgrade
from tongyuan.libraries.claims import Claim
from tongyuan.sync import sync_node
from tongyuan.sync.deliver import deliver_up, push_down
from tongyuan.sync.systems import (
    LevelSystems,
    build_level_systems,
    shenzhen_drop_topology,
    write_exports,
)
from tongyuan.topology import Topology, load_topology

CST = timezone(timedelta(hours=8))
PROVINCE, CITY, FUTIAN, NANSHAN, LONGGANG = "440000", "440300", "440304", "440305", "440307"
DISTRICTS = (FUTIAN, NANSHAN, LONGGANG)

TOPOLOGY_YAML = shenzhen_drop_topology("test-shenzhen", DISTRICTS)


def at(month: int, day: int, hour: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=CST)


@dataclass
class World:
    settings: Settings
    topology: Topology
    systems: LevelSystems

    def session(self):  # type: ignore[no-untyped-def]
        engine = make_engine(self.settings.database_url)
        return make_session_factory(engine)()

    def sync_up(self, now: datetime) -> None:
        """Every node synced (districts first), then every level delivered up."""
        levels = self.topology.levels_bottom_up()
        for group in levels:
            for code in group:
                result = sync_node(self.settings, self.topology, code, now=now)
                assert result.status == "committed", result.error
        for group in levels:
            for code in group:
                deliver_up(self.settings, self.topology, code, now=now)

    def push(self, now: datetime) -> None:
        for group in reversed(self.topology.levels_bottom_up()):
            for code in group:
                push_down(self.settings, self.topology, code, now=now)

    def run(self, now: datetime) -> None:
        self.sync_up(now)
        self.push(now)

    def inbox(self, code: str) -> Path:
        return self.settings.home / "systems" / code / "inbox"

    def outbox(self, code: str) -> Path:
        return self.settings.home / "systems" / code / "outbox"

    def delivered(self, code: str) -> list[Item]:
        """Every record delivered into a node's inbox, file by file in delivery order."""
        out = []
        for path in sorted(self.inbox(code).glob("*.xml"), key=lambda p: p.stat().st_mtime_ns):
            for raw in iter_raw_records(path):
                record, findings = to_record(raw)
                assert not findings and isinstance(record, Item)
                out.append(record)
        return out

    def claim(self, node: str, basic_code: str) -> Claim:
        with self.session() as session:
            found = session.scalars(
                select(Claim).where(Claim.node == node, Claim.basic_code == basic_code)
            ).one()
            session.expunge(found)
            return found


def make_world(settings: Settings, tmp_path: Path, *, plant: bool = True) -> World:
    upgrade(settings.database_url)
    path = tmp_path / "topology.yaml"
    path.write_text(TOPOLOGY_YAML, encoding="utf-8")
    topology = load_topology(path, home=settings.home)
    systems = build_level_systems(topology, plant=plant)
    write_exports(systems)
    return World(settings, topology, systems)


def build_template(root: Path) -> Path:
    """A world after its first full run, built once and copied by :func:`clone_world`."""
    home = root / "home"
    key = base64.b64encode(bytes(range(32))).decode()
    settings = load_settings({ENV_HOME: str(home), ENV_PII_KEY: key})
    settings.ensure_dirs()
    world = make_world(settings, root)
    world.run(at(3, 2))
    return home


def clone_world(template: Path, settings: Settings, tmp_path: Path) -> World:
    """A private copy of the template world under this test's hub home."""
    shutil.copytree(template, settings.home, dirs_exist_ok=True)
    path = tmp_path / "topology.yaml"
    path.write_text(TOPOLOGY_YAML, encoding="utf-8")
    topology = load_topology(path, home=settings.home)
    return World(settings, topology, build_level_systems(topology))
