"""A whole sync over a topology: pull every system, deliver up level by level, push down.

The same order the ``item_sync`` DAG runs, for the CLI and for scripts. Every system is
pulled (districts first, a node after its departments) before anything is delivered:
the top node supplies the national catalogue's base elements, so a district's copy
pulled earlier may still be re-versioned to them, and a delivery made before that would
send a stale copy and need a second run to converge. A node delivers up only when its
pull did not fail, and base items are pushed down only after every level has delivered,
so what goes down is what the top now holds.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from datetime import datetime
from typing import Any

from tongyuan.config import Settings
from tongyuan.sync.deliver import deliver_up, push_down
from tongyuan.sync.node_sync import sync_node
from tongyuan.sync.review import install_review_tracking

# A whole `tongyuan sync items` holds this lock exclusively; the steps of an Airflow sync
# run share it (tongyuan.db.locks), so a manual run and a scheduled one never interleave.
SYNC_LOCK = "sync-items"


def fully_pulled(topology: Any, codes: Iterable[str], pulled: Collection[str]) -> list[str]:
    """The nodes among ``codes`` whose own system and every department system are in
    ``pulled`` (pulled without failure this run): only they deliver up and push down — a
    failed pull may have left what the node would send half-known. The CLI's run and the
    ``item_sync`` DAG decide with this one rule."""
    return [
        c
        for c in codes
        if c in pulled and all(d.code in pulled for d in topology.departments_of(c))
    ]


def sync_all(
    settings: Settings, topology: Any, *, dry_run: bool = False, now: datetime | None = None
) -> Iterator[Any]:
    """Run every step, yielding each step's result as it completes (sync, deliver, push)."""
    install_review_tracking()
    pulled: set[str] = set()
    for level in topology.levels_bottom_up():
        for code in level:
            for dept in topology.departments_of(code):
                result = sync_node(settings, topology, dept.code, dry_run=dry_run, now=now)
                if result.status != "failed":
                    pulled.add(dept.code)
                yield result
            result = sync_node(settings, topology, code, dry_run=dry_run, now=now)
            if result.status != "failed":
                pulled.add(code)
            yield result
    levels = [fully_pulled(topology, level, pulled) for level in topology.levels_bottom_up()]
    for level in levels:
        for code in level:
            if topology.parent(code) is not None:
                yield deliver_up(settings, topology, code, dry_run=dry_run, now=now)
    for level in reversed(levels):
        for code in level:
            if topology.children(code):
                yield push_down(settings, topology, code, dry_run=dry_run, now=now)
