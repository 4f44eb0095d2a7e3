"""The item-sync half of ``tongyuan demo``: level systems, the item_sync DAG, the report.

The Shenzhen example's level systems (广东省, 深圳市, four districts, and 深圳市市场监督管理局's
own item database) are filled with generated items that disagree the way real systems do
(:mod:`tongyuan.sync.systems`). Then the ``item_sync`` DAG runs through Airflow itself —
``dag.test()`` against the embedded Airflow home — once on the systems' first exports and
once on their next ones (a cancellation), and the demo prints what each node's sync
changed and which disagreements between levels are open.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from tongyuan.cli.common import console
from tongyuan.config import Settings

if TYPE_CHECKING:
    from tongyuan.orchestration import DagRunOutcome
    from tongyuan.sync.systems import LevelSystems
    from tongyuan.topology import Topology

SYSTEMS_SEED = 2026
# Interactive runs: a failing step is retried once, two seconds later, not after minutes.
DEMO_RETRIES = {"TONGYUAN_SYNC_RETRIES": "1", "TONGYUAN_SYNC_RETRY_DELAY": "2"}
# When the systems' second exports were made (the department stamps its edits).
_SECOND_EXPORT = timedelta(days=1)


def prepare_level_systems(topology: Topology, *, seed: int = SYSTEMS_SEED) -> LevelSystems:
    """Write every level system's first export; return the systems (updates not yet out).

    A department's own items live in its own system only: they are taken out of its
    node's export and written into the department's database, and so are its later edits.
    """
    from tongyuan.sync.systems import build_level_systems, write_exports
    from tongyuan.topology.department_items import fill_department_system

    systems = build_level_systems(topology, seed=seed, plant=True)
    for dept in topology.departments:
        own = [i for i in systems.exports.get(dept.node, []) if i.authority_uscc == dept.code]
        fill_department_system(topology, dept.code, own)
        systems.exports[dept.node] = [
            i for i in systems.exports[dept.node] if i.authority_uscc != dept.code
        ]
    write_exports(systems)
    return systems


def publish_updates(topology: Topology, systems: LevelSystems) -> list[str]:
    """The systems' next exports (the planted cancellation); returns where they went."""
    from tongyuan.sync.systems import EXPORTED_AT, write_export
    from tongyuan.topology.department_items import fill_department_system

    written: list[str] = []
    departments = {d.code: d for d in topology.departments}
    for code, items in systems.updates.items():
        by_dept = [i for i in items if i.authority_uscc in departments]
        for item in by_dept:
            edited = item.model_copy(update={"updated_at": EXPORTED_AT + _SECOND_EXPORT})
            fill_department_system(topology, item.authority_uscc, [edited])
            written.append(departments[item.authority_uscc].name)
        rest = [i for i in items if i.authority_uscc not in departments]
        if write_export(topology, code, rest, "0002-update") is not None:
            written.append(topology.node(code).name)
    return written


def run_item_sync(settings: Settings, topology_path: Path, *, label: str) -> DagRunOutcome:
    """Run the item_sync DAG with dag.test() on the embedded Airflow; print and return it."""
    from tongyuan.orchestration import run_dag
    from tongyuan.orchestration.tasks import ENV_TOPOLOGY

    # Pin the topology for parsing (the Variable's env form beats the metadata DB) and for
    # the run, so a TONGYUAN_TOPOLOGY pointing at real systems is never touched by a demo.
    pin = {name: str(topology_path) for name in ("AIRFLOW_VAR_TONGYUAN_TOPOLOGY", ENV_TOPOLOGY)}
    started = time.monotonic()
    with console.status(f"item_sync ({label}) running in Airflow (dag.test)…"):
        outcome = run_dag(
            settings,
            "item_sync",
            conf={"topology": str(topology_path)},
            environ={**DEMO_RETRIES, **pin},
        )
    console.print(
        f"[bold]item_sync[/bold] {label}: DagRun [green]{outcome.state}[/green] in "
        f"{time.monotonic() - started:.0f} s, {len(outcome.tasks)} task instances "
        f"(Airflow log: {outcome.log_file})"
    )
    return outcome


def print_run(topology: Topology, outcome: DagRunOutcome) -> None:
    """Per item system: what its sync changed, what it delivered up and pushed down."""
    from tongyuan.orchestration.tasks import per_system

    steps = per_system(outcome, topology)
    # Nodes by name and region code; a department by name (its code is a USCC, which an
    # all-digit 机关 code makes look like a personal ID to anyone scanning the output).
    names = {code: f"{node.name} {code}" for code, node in topology.nodes.items()}
    names.update({d.code: f"{d.name} (department)" for d in topology.departments})
    table = Table(title="What the run changed, per item system")
    table.add_column("system")
    for col in ("read", "added", "changed", "cancelled", "held", "findings", "up", "down"):
        table.add_column(col, justify="right")
    for code, by_step in steps.items():
        sync = (by_step.get("sync") or {}).get("counts", {})
        up = (by_step.get("deliver") or {}).get("counts", {})
        down = (by_step.get("push") or {}).get("counts", {})
        table.add_row(
            names.get(code, code),
            *(str(sync.get(k, 0)) for k in ("read", "added", "changed", "cancelled", "held")),
            _opened_resolved(sync),
            _moved(up),
            _moved(down),
        )
    console.print(table)
    announced = [e for e in outcome.asset_events if e["task_id"] == "library_updated"]
    if announced:
        console.print(f"asset [bold]{announced[0]['uri']}[/bold] updated: later pipelines run")
    else:
        console.print("the item library did not change: no asset event, nothing downstream runs")


def _opened_resolved(counts: dict[str, int]) -> str:
    opened, resolved = counts.get("findings_opened", 0), counts.get("findings_resolved", 0)
    return f"+{opened}/-{resolved}" if opened or resolved else "0"


def _moved(counts: dict[str, int]) -> str:
    if not counts:
        return "-"
    sent, cancelled = counts.get("delivered", 0), counts.get("cancelled", 0)
    return f"{sent}" + (f" ({cancelled} cancel)" if cancelled else "")


def print_disagreements(settings: Settings, topology: Topology, *, limit: int = 12) -> None:
    """Open consistency findings (both values, both systems) and the claims' progress."""
    from sqlalchemy import func, select

    from standards.privacy import mask_text
    from tongyuan.db import make_engine, make_session_factory
    from tongyuan.libraries.claims import Claim
    from tongyuan.libraries.consistency import open_findings

    names = {code: node.name for code, node in topology.nodes.items()}
    names.update({d.code: d.name for d in topology.departments})
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            findings = open_findings(session)
            claims = dict(
                session.execute(select(Claim.status, func.count()).group_by(Claim.status)).all()
            )
    finally:
        engine.dispose()
    table = Table(title=f"What disagreed: {len(findings)} open consistency findings")
    # A 实施编码 is never wrapped: a fragment of one looks like another code, or an ID.
    table.add_column("item (实施编码)", no_wrap=True, min_width=31)
    for col in ("element", "owner says", "copy says"):
        table.add_column(col)
    for f in findings[:limit]:
        table.add_row(
            f.impl_code,
            f.element,
            f"{names.get(f.owner_node, f.owner_node)}: {_short(mask_text(_text(f.owner_value)))}",
            f"{names.get(f.other_node, f.other_node)}: {_short(mask_text(_text(f.other_value)))}",
        )
    console.print(table)
    if len(findings) > limit:
        console.print(f"… and {len(findings) - limit} more")
    if claims:
        shown = ", ".join(f"{status} {n}" for status, n in sorted(claims.items()))
        console.print(f"claims of base items pushed down (认领): {shown}")


def _text(value: Any) -> str:
    return "—" if value is None else str(value)


def _short(text: str, width: int = 40) -> str:
    """Cut after masking: an ID cut first keeps 17 digits, which no masker knows as one
    (and which give away the 18th)."""
    return text if len(text) <= width else text[: width - 1] + "…"
