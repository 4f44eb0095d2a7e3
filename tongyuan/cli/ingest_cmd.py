"""``tongyuan ingest``: pull departments' case systems into the case and material libraries."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from standards.privacy import mask_text
from tongyuan.cli.common import (
    TopologyOption,
    console,
    database_errors,
    err_console,
    require_migrated,
    settings_and_logging,
    shown,
)

EPILOG = (
    "Example: [bold]tongyuan ingest 114403000040578006 --dry-run[/bold]  (DEPARTMENT: "
    "USCC or name of a department with a case system; default: every such department)"
)
# Another ingest of a department was running: nothing of it done, run again later.
EXIT_BUSY = 3
_COLUMNS = ("read", "added", "changed", "unchanged", "quarantined")


def ingest(
    departments: Annotated[
        list[str] | None,
        typer.Argument(
            help="Departments (USCC or name) whose case systems to ingest. Default: all.",
            show_default=False,
        ),
    ] = None,
    topology: TopologyOption = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Read and check everything, write nothing, acknowledge nothing.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout instead.")
    ] = False,
) -> None:
    """Ingest departments' case systems: materials, then cases, checked against the libraries.

    Valid records are stored (upserted; case events only appended), the others
    quarantined with every rule they broke; deadlines (working days) are recomputed.
    A department marked signing: true must deliver a signed manifest, verified before
    anything is read. Exit 0 when every department committed (or dry-ran), 1 when one
    failed, its delivery was rejected or its adapter package is broken (the others are
    still ingested; `tongyuan sync check` lists the problem), 2 for a topology that does
    not load, an unknown department or a library database that cannot be used
    (unreachable, login refused, another application's tables; for --dry-run also one
    not migrated to the current schema: run `tongyuan db upgrade`), 3 when another
    ingest of a department was running (that department skipped, the others ingested;
    run it again later).
    """
    from tongyuan.cli.sync_cmd import resolve_topology_path
    from tongyuan.db import upgrade
    from tongyuan.ingest import IngestBusy, IngestResult, ingest_department
    from tongyuan.topology import TopologyError, load_topology

    settings = settings_and_logging()
    try:
        path = resolve_topology_path(topology)
        topo = load_topology(path, home=settings.home)
        chosen = [topo.case_department(d) for d in departments or []] or topo.case_departments
    except (TopologyError, FileNotFoundError) as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}", soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc.args[0]))}", soft_wrap=True)
        raise typer.Exit(2) from None
    if not chosen:
        err_console.print(f"topology {topo.name} has no department with a case system")
        raise typer.Exit(0)

    if dry_run:
        require_migrated(settings)  # a dry run writes nothing, not even the schema
    else:
        with database_errors(settings, doing="migrating its schema"):
            upgrade(settings.database_url)
    results = []
    # A PII key that does not fit the libraries (or a database lost on the way) stops
    # every department alike: one line, exit 2.
    with database_errors(settings):
        for dept in chosen:
            try:
                results.append(ingest_department(settings, topo, dept.code, dry_run=dry_run))
            except IngestBusy as exc:
                results.append(IngestResult(dept.code, dept.name, status="busy", error=str(exc)))
    if as_json:
        document = {
            "topology": topo.name,
            "dry_run": dry_run,
            "departments": [_describe(r) for r in results],
        }
        print(json.dumps(document, ensure_ascii=False, indent=2))
    else:
        _print(results, dry_run=dry_run)
    if any(r.status in ("failed", "rejected") for r in results):
        raise typer.Exit(1)
    if any(r.status == "busy" for r in results):
        raise typer.Exit(EXIT_BUSY)


def _describe(result) -> dict:  # type: ignore[no-untyped-def]
    return {
        "department": result.department,
        "name": result.name,
        "status": result.status,
        "batch_ids": result.batch_ids,
        "counts": result.counts,
        "rules": dict(result.rules.most_common()),
        "error": mask_text(result.error) if result.error else None,
        "problems": [mask_text(p) for p in result.problems],
        "signer_fingerprint": result.signer_fingerprint,
        "streams": [
            {
                "stream": s.stream,
                "kind": s.kind,
                "status": s.status,
                "batch_id": s.batch_id,
                "counts": s.counts,
            }
            for s in result.streams
        ],
    }


def _print(results, *, dry_run: bool) -> None:  # type: ignore[no-untyped-def]
    from standards.validation import rule_title

    title = "ingest (dry run: nothing written)" if dry_run else "ingest"
    table = Table(title=title)
    table.add_column("department")
    table.add_column("stream")
    table.add_column("status")
    for col in _COLUMNS:
        table.add_column(col, justify="right")
    for r in results:
        for s in r.streams:
            table.add_row(f"{r.name} {r.department}", s.stream, s.status,
                          *(str(s.counts[c]) for c in _COLUMNS))  # fmt: skip
        if not r.streams:
            table.add_row(f"{r.name} {r.department}", "—", r.status, *("0" for _ in _COLUMNS))
    console.print(table)
    for r in results:
        if r.signer_fingerprint:
            console.print(f"{r.department}: delivery signed by certificate {r.signer_fingerprint}")
        for rule, n in r.rules.most_common(10):
            console.print(f"  {n:>6}  {rule}  {rule_title(rule)}", soft_wrap=True, markup=False)
        for problem in r.problems:
            # A deadline not computed, or a source's close() failing after its batch.
            err_console.print(f"[yellow]problem:[/yellow] {shown(problem)}", soft_wrap=True)
        if r.error:
            verb = {"rejected": "rejected", "busy": "skipped"}.get(r.status, "failed")
            err_console.print(f"[red]{r.department} {verb}:[/red] {shown(mask_text(r.error))}",
                              soft_wrap=True)  # fmt: skip
