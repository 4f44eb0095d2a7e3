"""Two departments of one node with case systems of their own: the usual ingest world
plus 深圳市南山区人力资源局, for what one department's deliveries may do to another's cases."""

from __future__ import annotations

from pathlib import Path

from ingest_world import World, make_world, topology_yaml

from standards.identifiers import uscc_check_char
from tongyuan.config import Settings
from tongyuan.topology import load_topology

OTHER17 = "11440305" + "007520000"
OTHER = OTHER17 + uscc_check_char(OTHER17)  # a second department of the same node


def two_departments(settings: Settings, tmp: Path) -> World:
    """The usual world plus a second department with a drop folder of its own."""
    world = make_world(settings, tmp)
    second = f"""\
  - name: 深圳市南山区人力资源局
    code: "{OTHER}"
    node: "440305"
    cases:
      adapter: files
      config:
        path: "{{home}}/drops/{OTHER}"
        streams:
          cases: {{kind: case, patterns: ["cases_*.xml"]}}
        settle_seconds: 0
"""
    path = tmp / "topology2.yaml"
    path.write_text(topology_yaml() + second, encoding="utf-8")
    world.topology = load_topology(path, home=settings.home)
    (settings.home / "drops" / OTHER).mkdir(parents=True, exist_ok=True)
    return world
