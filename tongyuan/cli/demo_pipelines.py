"""The demo's pipelines after the item sync: cases in, licences verified, quality reported.

Each step runs its real DAG through Airflow (dag.test on the embedded Airflow), the way
the scheduler would after the asset the step before announced, and prints counts only.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from tongyuan.cli.common import console
from tongyuan.cli.demo_items import DEMO_RETRIES
from tongyuan.config import Settings
from tongyuan.report.themes import format_rate, pooled_rate

if TYPE_CHECKING:
    from tongyuan.orchestration.runner import DagRunOutcome
    from tongyuan.topology import Topology

# The Shenzhen example's department with a case system (深圳市市场监督管理局).
DEMO_CASE_DEPARTMENT = "114403000040578006"
DEMO_DROP_CASES = 200
DROP_SEED = 7


def run_demo_dag(
    settings: Settings,
    dag_id: str,
    topology_path: Path,
    *,
    label: str = "",
    conf: dict[str, Any] | None = None,
) -> DagRunOutcome:
    """One DAG run on the embedded Airflow with the demo's topology pinned."""
    from tongyuan.orchestration import run_dag
    from tongyuan.orchestration.tasks import ENV_TOPOLOGY

    pin = {name: str(topology_path) for name in ("AIRFLOW_VAR_TONGYUAN_TOPOLOGY", ENV_TOPOLOGY)}
    started = time.monotonic()
    with console.status(f"{dag_id} running in Airflow (dag.test)…"):
        outcome = run_dag(
            settings,
            dag_id,
            conf={"topology": str(topology_path), **(conf or {})},
            environ={**DEMO_RETRIES, **pin},
        )
    colour = "green" if outcome.succeeded else "red"
    console.print(
        f"[bold]{dag_id}[/bold]{' ' + label if label else ''}: DagRun "
        f"[{colour}]{outcome.state}[/{colour}] in {time.monotonic() - started:.0f} s, "
        f"{len(outcome.tasks)} task instances (Airflow log: {outcome.log_file})"
    )
    for failed in outcome.errors:
        console.print(f"[red]{failed}[/red]", soft_wrap=True)
    return outcome


def ingest_cases(settings: Settings, topology: Topology, topology_path: Path) -> bool:
    """Deliver the department's cases once, run case_ingest; True when the run succeeded."""
    from tongyuan.ingest.demo_drop import write_case_drop

    console.rule("[bold]Case ingestion: department → case and material libraries[/bold]")
    marker = settings.home / "demo" / f"case-drop-s{DROP_SEED}.done"
    if marker.exists():
        console.print("department cases delivered earlier: ingesting whatever arrived since")
    else:
        drop = write_case_drop(
            settings, topology, DEMO_CASE_DEPARTMENT, cases=DEMO_DROP_CASES, seed=DROP_SEED
        )
        planted = ", ".join(f"{rule} ×{n}" for rule, n in drop.planted.items() if n)
        # Named, not by its folder: the folder is the department's USCC, and an all-digit
        # 机关 code looks like a personal ID to anyone scanning the output.
        dept = topology.case_department(DEMO_CASE_DEPARTMENT)
        console.print(
            f"delivered {drop.cases} cases and {drop.materials} materials to the drop folder "
            f"of {dept.name} ({drop.overdue_open} open cases past their deadline; planted: "
            f"{planted or 'none'})"
        )
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(f"{drop.cases}\n", encoding="utf-8")
    outcome = run_demo_dag(settings, "case_ingest", topology_path)
    table = Table(title="case_ingest, per department")
    table.add_column("department")
    names = ("read", "added", "changed", "unchanged", "quarantined", "rejected")
    for name in names:
        table.add_column(name, justify="right")
    [chosen] = outcome.results("departments") or [[]]
    for task in outcome.task("ingest"):
        counts: dict[str, Any] = (task.result or {}).get("counts", {})
        code = chosen[task.map_index] if 0 <= task.map_index < len(chosen or []) else None
        label = topology.case_department(code).name if code else f"#{task.map_index}"
        table.add_row(label, *(str(counts.get(n, 0)) for n in names))
    console.print(table)
    _print_overdue(settings)
    return outcome.succeeded


def _print_overdue(settings: Settings) -> None:
    from tongyuan.db import make_engine, make_session_factory
    from tongyuan.ingest.overdue import overdue_cases

    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            report = overdue_cases(session, include_prereview=True, limit=5).as_dict()
    finally:
        engine.dispose()
    console.print(
        f"timeliness as of {report['as_of']}: {report['checked']} cases checked, "
        f"[bold]{report['overdue']}[/bold] overdue (超期办件), {report['prereview_late']} "
        f"pre-reviews late, {report['deadline_unknown']} without a known deadline"
    )


def verify_licenses(settings: Settings, dataset: Path, topology_path: Path) -> bool:
    """Trust the generated PKI, run license_verify; True when the run succeeded.

    The dataset's development PKI becomes the hub's trust directory (the default one,
    ``<home>/trust``) unless a trust directory is configured already; the run re-issues
    its CRLs first, since a dataset generated more than a week ago has stale ones and
    stale CRLs must never give PASSED.
    """
    from tongyuan.licensing.run import default_trust_dir

    console.rule("[bold]E-license verification (电子证照验证)[/bold]")
    trust = default_trust_dir(settings)
    if not (trust / "anchors").is_dir() and (dataset / "pki").is_dir():
        shutil.copytree(dataset / "pki", trust, dirs_exist_ok=True)
        console.print(f"trust directory: the generated development PKI, copied to {trust}")
    outcome = run_demo_dag(settings, "license_verify", topology_path, conf={"refresh_crls": True})
    [result] = outcome.results("verify") or [None]
    counts: dict[str, int] = (result or {}).get("counts", {})
    table = Table(title="Licences checked this run")
    table.add_column("outcome")
    table.add_column("licences", justify="right")
    for name, value in licence_rows(counts):
        table.add_row(name.replace("indication_", "signature ").replace("_", " "), str(value))
    console.print(table)
    return outcome.succeeded


_LICENCE_GROUPS = ("indication_", "status_")


def licence_rows(counts: dict[str, int]) -> list[tuple[str, int]]:
    """The licence table's non-zero rows in a fixed order: ``checked``, the signature
    indications in EN 319 102-1's order (PASSED, FAILED, INDETERMINATE), then the
    licence statuses in the code table's order; a name neither knows comes after its
    group's, by name.

    The counts come back from Airflow as JSON, whose key order PostgreSQL (jsonb) and
    SQLite do not keep alike, so their order must not decide the table's.
    """
    from signing.report import Indication
    from standards.codes.enums import LicenseStatus

    known = [f"indication_{i.value.lower()}" for i in Indication]
    known += [f"status_{s.value}" for s in LicenseStatus]
    rank = {name: i for i, name in enumerate(known)}

    def key(row: tuple[str, int]) -> tuple[bool, bool, int, str]:
        name = row[0]
        return name != "checked", name.startswith("status_"), rank.get(name, len(rank)), name

    shown = [
        (n, v) for n, v in counts.items() if v and (n == "checked" or n.startswith(_LICENCE_GROUPS))
    ]
    return sorted(shown, key=key)


def check_quality(settings: Settings, topology_path: Path) -> bool:
    """Run the quality DAG (suites, then the auditor report); True when it succeeded."""
    console.rule("[bold]Data quality checks and the auditor report (数据质量报告)[/bold]")
    outcome = run_demo_dag(settings, "quality", topology_path)
    [run] = outcome.results("run_suites") or [None]
    counts: dict[str, int] = (run or {}).get("counts", {})
    if counts:
        evaluated, failed = counts.get("evaluated", 0), counts.get("failed", 0)
        rate = format_rate(pooled_rate(evaluated, failed))
        console.print(
            f"quality run {run.get('run_id')}: {evaluated} checks of records, {failed} failed "
            f"(pass rate {rate})"
        )
    index = settings.reports_dir / "index.html"
    if index.exists():
        console.print(f"[bold]auditor report:[/bold] {index}")
        console.print(f"exports (CSV, XLSX): {settings.exports_dir}")
    return outcome.succeeded
