"""``tongyuan sync``: run the three-level item sync by hand, or see what it would change.

The same core functions the ``item_sync`` DAG calls (:mod:`tongyuan.sync`), without a
scheduler: an engineer can sync one node after fixing its system, or dry-run a whole
topology before its first scheduled night to read the diff it would apply.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from standards.privacy import mask_text
from tongyuan.cli.common import (
    EXIT_BAD_DATABASE,
    TopologyOption,
    console,
    database_errors,
    err_console,
    require_migrated,
    settings_and_logging,
    shown,
)
from tongyuan.config import ConfigError

ITEMS_EPILOG = (
    "Example: [bold]tongyuan sync items --node 440305 --dry-run[/bold]  (what 南山区's "
    "system would change, writing nothing); [bold]tongyuan sync items --topology "
    "lanzhou --json[/bold]  (sync every node of the shipped Lanzhou example, JSON output)"
)

# Another real `sync items` of the hub holds the sync lock: nothing done, run again later.
EXIT_BUSY = 3


def _case_schedule_text(case_schedule: str | None) -> str:
    """When the case_ingest DAG ingests a department: its own cron, else the DAG's default
    (a department without one is still ingested, every half hour, not by hand only)."""
    from tongyuan.orchestration.tasks import DEFAULT_CASE_SCHEDULE

    if case_schedule:
        return f"schedule {case_schedule}"
    return f"schedule {DEFAULT_CASE_SCHEDULE} (the default: no case_schedule given)"


app = typer.Typer(
    help="Item sync between the levels (district ⇄ city ⇄ province).",
    epilog="Example: [bold]tongyuan sync items --dry-run[/bold]",
    no_args_is_help=True,
)


def resolve_topology_path(value: str | None) -> Path:
    """A topology file, or the name of a shipped example; the Shenzhen example by default."""
    from tongyuan.topology import example_path

    if value is None or not value.strip():
        return example_path()
    path = Path(value).expanduser()
    if path.exists() or path.suffix in (".yaml", ".yml") or "/" in value:
        return path
    return example_path(value.strip())


@app.command("items", epilog=ITEMS_EPILOG)
def items(
    topology: TopologyOption = None,
    node: Annotated[
        str | None,
        typer.Option(
            "--node",
            "-n",
            help="Sync one node (its departments' systems, its own, delivery up, push "
            "down) or one department system (its USCC). Default: the whole topology.",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the diff per node (added, changed, cancelled); write nothing."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout instead.")
    ] = False,
    show_diff: Annotated[
        bool | None,
        typer.Option(
            "--diff/--no-diff",
            help="List the items added, changed and cancelled per node. Default: with --dry-run.",
        ),
    ] = None,
    max_items: Annotated[
        int, typer.Option(min=1, help="Items listed per node in the text diff.")
    ] = 50,
) -> None:
    """Sync the item systems of a topology into the item library, and deliver up and down.

    Without --node the whole topology syncs: districts first, then their city, then the
    province, each level delivering its aggregate to the one above; then base items are
    pushed down. Exit 0 when every step committed (or dry-ran), 1 when any failed (a
    failed step stores nothing; run again once its system is fixed), 2 for a topology
    that does not load, an unknown node or a library database that cannot be used
    (unreachable, login refused, another application's tables; for --dry-run also one
    not migrated to the current schema: run `tongyuan db upgrade`) or a PII key that
    does not decrypt the libraries' personal data, 3 when another
    (not dry) run of `sync items` on the hub was running (nothing done; run again later).
    """
    from tongyuan.topology import TopologyError, load_topology

    settings = settings_and_logging()
    try:
        path = resolve_topology_path(topology)
        topo = load_topology(path, home=settings.home)
    except (TopologyError, FileNotFoundError) as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}", soft_wrap=True)
        raise typer.Exit(2) from None
    if node is not None and node not in topo.nodes and node not in _department_codes(topo):
        known = ", ".join([*topo.nodes, *_department_codes(topo)])
        err_console.print(
            f"[red]error:[/red] no node or department {shown(repr(node))} in {shown(path)} "
            f"({shown(known)})",
            soft_wrap=True,
        )
        raise typer.Exit(2)

    from tongyuan.db import upgrade

    if dry_run:
        require_migrated(settings)  # a dry run writes nothing, not even the schema
    else:
        with database_errors(settings, doing="migrating its schema"):
            upgrade(settings.database_url)
    from tongyuan.db.locks import LockBusy, exclusive_lock
    from tongyuan.sync.run_all import SYNC_LOCK

    try:
        # Two real syncs at once raced to insert the same item versions and batches and
        # ended in raw IntegrityErrors; a dry run writes nothing and needs no lock.
        lock = (
            contextlib.nullcontext()
            if dry_run
            else exclusive_lock(settings.database_url, SYNC_LOCK, fallback_dir=settings.home)
        )
        with lock:
            results = _run(settings, topo, node, dry_run=dry_run)
    except LockBusy:
        err_console.print(
            "[red]error:[/red] another `tongyuan sync items` of this hub is running; nothing "
            "was read or written — run again once it has finished",
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_BUSY) from None
    except ConfigError as exc:  # a PII key that does not fit the libraries: as `ingest` says
        err_console.print(f"[red]error:[/red] {shown(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_DATABASE) from None
    except Exception as exc:  # the engine's own failures come back as results, not raised
        from tongyuan.db.errors import describe_error  # its own text carries the whole SQL

        reason = shown(describe_error(exc))
        err_console.print(f"[red]sync failed:[/red] {reason}", soft_wrap=True)
        raise typer.Exit(1) from None

    steps = [_describe(r) for r in results]
    if as_json:
        document = {"topology": topo.name, "file": str(path), "dry_run": dry_run, "steps": steps}
        print(json.dumps(document, ensure_ascii=False, indent=2, default=str))
    else:
        listing = dry_run if show_diff is None else show_diff
        _print_text(
            topo.name, results, steps, dry_run=dry_run, max_items=max_items if listing else 0
        )
    if any(s["status"] == "failed" for s in steps):
        raise typer.Exit(1)


CHECK_EPILOG = (
    "Example: [bold]tongyuan sync check --topology /etc/tongyuan/guangdong.yaml[/bold]  "
    "(every problem listed with its place in the file; exit 2 if there is any)"
)


@app.command("check", epilog=CHECK_EPILOG)
def check(
    topology: TopologyOption = None,
) -> None:
    """Check a topology file and print its tree; touches no database and no system.

    Run it after every edit: unknown region codes, parents at the wrong level, cycles,
    duplicate nodes, unknown adapters, bad adapter configuration and cron schedules are
    all reported at once, each with its place in the file. A department whose adapter
    package is broken is reported the same way (exit 2), though the rest of the topology
    still runs.
    """
    from tongyuan.config import load_settings
    from tongyuan.topology import TopologyError, load_topology

    try:
        path = resolve_topology_path(topology)
        topo = load_topology(path, home=load_settings().home)
    except (TopologyError, FileNotFoundError) as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}", soft_wrap=True)
        raise typer.Exit(2) from None
    if topo.adapter_problems:
        # The topology loads for the other departments, but a check is not "OK" while
        # one department's adapter package is broken: same lines, same exit as before.
        problem = TopologyError(str(path), topo.adapter_problems)
        err_console.print(
            f"[red]error:[/red] {shown(str(problem), newlines=True)}\n"
            "  (the other departments and nodes still sync and ingest; these departments "
            "fail until their adapter packages are fixed)",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    departments = [*topo.departments, *topo.case_only_departments]
    cases = sum(1 for d in departments if d.cases is not None)
    console.print(
        f"topology {shown(topo.name, markup=False)} ({shown(path, markup=False)}): "
        f"{_count(len(topo.nodes), 'node')}, {_count(len(departments), 'department')} "
        f"({_count(len(topo.departments), 'item system')}, {_count(cases, 'case system')}) — OK",
        markup=False,
        soft_wrap=True,
    )

    def show(code: str, indent: int) -> None:
        node = topo.node(code)
        when = f"  schedule {node.schedule}" if node.schedule else "  (manual runs only)"
        sink = f", sink {node.sink.adapter}" if node.sink else ", no sink"
        console.print(
            f"{'  ' * indent}{node.code} {shown(node.name, markup=False)} [{node.level.label}]  "
            f"source {node.source.adapter}{sink}{when}",
            markup=False,
            soft_wrap=True,
        )
        # Every department of the node, an item system, a case system or both: a
        # department that only delivers cases is part of the tree too.
        for dept in (d for d in departments if d.node == code):
            pad = "  " * (indent + 1)
            lines = [f"{pad}department {shown(dept.name, markup=False)} ({dept.code})"]
            if dept.source is not None:
                lines.append(
                    f"{pad}  items: source {shown(dept.source.adapter, markup=False)}, "
                    f"streams {shown(', '.join(dept.streams), markup=False)}"
                )
            if dept.cases is not None:
                when = _case_schedule_text(dept.case_schedule)
                signed = ", signed deliveries" if dept.signing else ""
                lines.append(
                    f"{pad}  cases: source {shown(dept.cases.adapter, markup=False)}, stream "
                    f"{shown(dept.cases.stream, markup=False)}, {when}{signed}"
                )
            console.print("\n".join(lines), markup=False, soft_wrap=True)
        for child in topo.children(code):
            show(child.code, indent + 1)

    show(topo.root.code, 0)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _department_codes(topo: Any) -> list[str]:
    return [d.code for d in topo.departments]


def _run(settings: Any, topo: Any, code: str | None, *, dry_run: bool) -> list[Any]:
    """The engine's results, in the order the steps ran."""
    from tongyuan import sync
    from tongyuan.sync.deliver import deliver_up, push_down
    from tongyuan.sync.review import install_review_tracking

    if code is None:
        return list(sync.sync_all(settings, topo, dry_run=dry_run))
    # As sync_all does: node syncs keep the review workflow's statuses and deadlines.
    install_review_tracking()
    if code not in topo.nodes:  # a department system alone
        return [sync.sync_node(settings, topo, code, dry_run=dry_run)]
    results: list[Any] = [
        sync.sync_node(settings, topo, dept.code, dry_run=dry_run)
        for dept in topo.departments_of(code)
    ]
    results.append(sync.sync_node(settings, topo, code, dry_run=dry_run))
    if any(getattr(r, "status", None) == "failed" for r in results):
        return results  # deliver nothing a failed pull may have left half-known
    if topo.parent(code) is not None:
        results.append(deliver_up(settings, topo, code, dry_run=dry_run))
    if topo.children(code):
        results.append(push_down(settings, topo, code, dry_run=dry_run))
    return results


def _describe(result: Any) -> dict[str, Any]:
    """One step as plain data: what the JSON output holds and the text output prints."""
    counts = {str(k): int(v) for k, v in (getattr(result, "counts", None) or {}).items()}
    out: dict[str, Any] = {"node": result.node, "batch_id": result.batch_id, "counts": counts}
    if hasattr(result, "diff"):
        out["step"] = "sync"
        out["status"] = result.status
        out["diff"] = result.diff.as_dict()
        if getattr(result, "error", None):
            out["error"] = mask_text(str(result.error))
        if getattr(result, "problems", None):
            out["problems"] = [mask_text(str(p)) for p in result.problems]
    else:
        out["step"] = "deliver" if getattr(result, "direction", "up") == "up" else "push"
        out["status"] = "failed" if getattr(result, "error", None) else (
            "dry-run" if getattr(result, "dry_run", False) else "committed"
        )  # fmt: skip
        out["deliveries"] = [
            {
                "to": d.to_node,
                "items": d.items,
                "cancelled": d.cancelled,
                "unchanged": d.unchanged,
                "file": d.file,
                "skipped": d.skipped,
                # Items this delivery could not write (text XML cannot carry), named.
                "withheld": [mask_text(w) for w in d.withheld],
            }
            for d in getattr(result, "deliveries", ())
        ]
        if getattr(result, "error", None):
            out["error"] = mask_text(str(result.error))
    return out


# Every count of a node sync worth a reader's eye (those at 0 are left out of the line):
# refused copies too, or a copy the review workflow turned away would read as "read 1".
_SHOWN_COUNTS = ("read", "added", "changed", "cancelled", "unchanged", "held", "refused",
                 "judged", "quarantined", "findings_opened", "findings_resolved")  # fmt: skip


def _print_text(
    name: str, results: list[Any], steps: list[dict[str, Any]], *, dry_run: bool, max_items: int
) -> None:
    from tongyuan.sync import format_diffs

    mode = " (dry run: nothing written)" if dry_run else ""
    console.print(f"[bold]item sync[/bold] of topology {shown(name)}{mode}")
    for result, step in zip(results, steps, strict=True):
        status = step["status"]
        colour = {"failed": "red", "dry-run": "yellow"}.get(status, "green")
        batch = f" batch {step['batch_id']}" if step["batch_id"] else ""
        if step["step"] == "sync":
            figures = ", ".join(
                f"{k} {step['counts'][k]}" for k in _SHOWN_COUNTS if step["counts"].get(k)
            )
            console.print(
                f"sync {step['node']}: [{colour}]{status}[/{colour}]{batch}"
                + (f" — {figures}" if figures else " — no records"),
                soft_wrap=True,
            )
            if step.get("error"):
                err_console.print(f"  [red]{shown(step['error'])}[/red]", soft_wrap=True)
            for problem in step.get("problems", ()):
                err_console.print(f"  [yellow]problem:[/yellow] {shown(problem)}", soft_wrap=True)
            if max_items and not result.diff.empty:
                text = format_diffs([result.diff], max_items=max_items)
                # The first line repeats the node's totals; the items follow.
                head, _, body = text.partition("\n")
                # Item names and values come from the departments' systems.
                console.print(shown(head.replace("node ", "  diff ", 1), markup=False),
                              markup=False)  # fmt: skip
                if body:
                    console.print(
                        shown(body, markup=False, newlines=True), markup=False, soft_wrap=True
                    )
        else:
            arrow = "→" if step["step"] == "deliver" else "⇢"
            # A dry run applies nothing, so the delivery is computed from the library as
            # it stands, without the sync above it.
            note = " (from the library as it is now)" if dry_run else ""
            console.print(
                f"{step['step']} {step['node']}: [{colour}]{status}[/{colour}]{batch}{note}",
                soft_wrap=True,
            )
            for d in step["deliveries"]:
                if d["skipped"]:
                    console.print(
                        f"  {arrow} {d['to']}: skipped ({shown(d['skipped'], markup=False)})",
                        markup=False,
                        soft_wrap=True,
                    )
                    continue
                console.print(
                    f"  {arrow} {d['to']}: {d['items']} items, {d['cancelled']} cancelled, "
                    f"{d['unchanged']} unchanged"
                    + (f" ({shown(d['file'], markup=False)})" if d["file"] else ""),
                    markup=False,
                    soft_wrap=True,
                )
                for withheld in d["withheld"]:
                    err_console.print(
                        f"    withheld {shown(withheld, markup=False)}",
                        markup=False,
                        soft_wrap=True,
                    )
            claims = {k: v for k, v in step["counts"].items() if k.startswith("claims_")}
            if claims:
                console.print(
                    "  claims: " + ", ".join(f"{k[7:]} {v}" for k, v in claims.items()),
                    markup=False,
                )
