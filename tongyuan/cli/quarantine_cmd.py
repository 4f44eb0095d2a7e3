"""``tongyuan quarantine``: list, inspect and replay records that broke a rule.

Everything printed is masked; there is no option to reveal a payload in clear. Replay
calls :func:`tongyuan.quarantine.replay.replay`, the same code a scheduled task would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from tongyuan.cli.common import (
    console,
    err_console,
    require_migrated,
    settings_and_logging,
    shown,
)

app = typer.Typer(
    help="Quarantine: records that broke a rule, kept with every rule and their source.",
    epilog="Example: [bold]tongyuan quarantine list --rule mapping.code[/bold]",
    no_args_is_help=True,
)

LIST_EPILOG = (
    "Example: [bold]tongyuan quarantine list --status open --rule mapping.code[/bold]  "
    "(open entries whose department code was missing from a code table)"
)
SHOW_EPILOG = "Example: [bold]tongyuan quarantine show 42[/bold]  (masked payload and rules)"
DISCARD_EPILOG = (
    'Example: [bold]tongyuan quarantine discard 42 --reason "test record, withdrawn by the '
    'department"[/bold]'
)
REPLAY_EPILOG = (
    "Example: [bold]tongyuan quarantine replay --rule mapping.code --dry-run[/bold], then "
    "without --dry-run  (after fixing the code table in the mapping file)"
)


def _session():  # type: ignore[no-untyped-def]
    """Settings and sessions of an existing hub, for list and show (they only read)."""
    from tongyuan.db import make_engine, make_session_factory

    settings = settings_and_logging(read_only=True)
    # They only read: an older schema is named, never migrated (as `items history`).
    require_migrated(settings, why="a read-only command migrates nothing")
    engine = make_engine(settings.database_url)
    return settings, engine, make_session_factory(engine)


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, ensure_ascii=False, indent=2))


@app.command("list", epilog=LIST_EPILOG)
def list_(
    kind: Annotated[str | None, typer.Option(help="case, item, material or license.")] = None,
    rule: Annotated[str | None, typer.Option(help="Entries that broke this rule id.")] = None,
    source: Annotated[
        str | None, typer.Option(help="Source name (pull), batch source or file name.")
    ] = None,
    status: Annotated[
        str | None, typer.Option(help="open, resolved, replayed or discarded (default: all).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many entries.")] = 1000,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """List quarantine entries (masked): id, status, kind, first rule, source, location."""
    from tongyuan.quarantine.selection import Selection, SelectionError
    from tongyuan.quarantine.views import list_entries

    try:
        selection = Selection(rule=rule, source=source, kind=kind, status=status)
    except SelectionError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(2) from None
    _settings, engine, sessions = _session()
    try:
        with sessions() as session:
            rows = list_entries(session, selection, limit=limit)
    finally:
        engine.dispose()
    if as_json:
        _print_json([row.as_dict() for row in rows])
        return
    table = Table(
        title=f"quarantine ({len(rows)} entries, {selection.describe()})", show_edge=False
    )
    # At 80 columns the long rule ids squeezed source and where to nothing: those two keep
    # a floor and fold, as does the rule id (a wrapped id still reads; a hidden one not).
    folded = {"rule": 8, "source": 6, "where": 8}
    for column in ("id", "status", "kind", "rule", "rules", "source", "where", "replays"):
        table.add_column(
            column,
            justify="right" if column in ("id", "rules", "replays") else "left",
            no_wrap=column not in folded,
            overflow="fold" if column in folded else "ellipsis",
            min_width=folded.get(column, len(column)),
        )
    for row in rows:
        where = f"{row.file}#{row.record}" + (f" line {row.line}" if row.line else "")
        table.add_row(
            str(row.id), row.status, row.kind, row.rule, str(row.rules),
            shown(row.source), shown(where), str(row.replay_count),
        )  # fmt: skip
    console.print(table)


@app.command("show", epilog=SHOW_EPILOG)
def show(
    entry_id: Annotated[int, typer.Argument(help="Entry id (from quarantine list).")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """One entry: masked payload, source location, every rule it broke, its replays."""
    from tongyuan.materials.kept import describe_kept_copy, kept_copy_state
    from tongyuan.quarantine.views import entry_detail

    settings, engine, sessions = _session()
    try:
        with sessions() as session:
            detail = entry_detail(session, entry_id)
    except LookupError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(2) from None
    finally:
        engine.dispose()
    # Whether the copy kept for replay is still there, and still this entry's.
    detail["kept_copy"] = kept_copy_state(settings, detail["status"], detail["origin"])
    if as_json:
        _print_json(detail)
        return
    loc = detail["location"]
    console.print(
        f"[bold]entry {detail['id']}[/bold]  {detail['kind']}  status "
        f"[bold]{detail['status']}[/bold] ({shown(detail['status_meaning'])}), "
        f"replayed {detail['replay_count']}×"
    )
    console.print(
        f"from {shown(str(loc['file']))} record {loc['record']}"
        + (f" line {loc['line']}" if loc["line"] else "")
        + f"  (batch {detail['batch']['id']}, {shown(str(detail['batch']['source']))})",
        soft_wrap=True,
    )
    if detail["origin"]:
        origin = detail["origin"]
        mapping = origin.get("mapping") or {}
        # A record from an adapter names it, its stream and mapping; one from a file load
        # has none of them (it printed "adapter None stream None").
        pulled = [
            f"{label} {shown(str(origin[key]))}"
            for label, key in (("adapter", "adapter"), ("stream", "stream"))
            if origin.get(key)
        ]
        if mapping.get("file"):
            pulled.append(f"mapping {shown(str(mapping['file']))}")
        if pulled:
            console.print(", ".join(pulled), soft_wrap=True)
        if origin.get("files_dir"):
            # Where replay looks for the material files (docs/quarantine.md, Replay).
            console.print(f"files_dir {shown(str(origin['files_dir']))}", soft_wrap=True)
        if detail["kept_copy"]:
            console.print(describe_kept_copy(detail["kept_copy"]), soft_wrap=True)
    console.print(f"[bold]rules broken ({len(detail['rules'])})[/bold]")
    for r in detail["rules"]:
        where = f" [{shown(str(r['field']))}]" if r["field"] else ""
        console.print(
            f"  {r['rule']}  {r['title']}{where}: {shown(str(r['message'] or ''))}",
            soft_wrap=True,
        )
    console.print("[bold]payload (masked)[/bold]")
    payload = json.dumps(detail["payload"], ensure_ascii=False, indent=2)
    console.print(shown(payload, newlines=True))
    for h in detail["replays"]:
        console.print(
            f"replay {h['at']} batch {h['batch_id']}: {h['outcome']} "
            f"{shown(', '.join(r for r in h['rules'] if r))}",
            soft_wrap=True,
        )


@app.command("replay", epilog=REPLAY_EPILOG)
def replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Entry ids to replay.")] = None,
    rule: Annotated[str | None, typer.Option(help="Open entries that broke this rule.")] = None,
    source: Annotated[str | None, typer.Option(help="Open entries from this source.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Every open entry.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would happen; change nothing.")
    ] = False,
    files_dir: Annotated[
        Path | None,
        typer.Option(
            "--files-dir",
            exists=True,
            file_okay=False,
            help="Folder holding material files the hub kept no copy of (default: the one "
            "recorded with the entry).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """Send entries through the same checks and store again; accepted ones are resolved.

    Exit 0 when every replayed entry was accepted (or nothing was open), 1 when some
    stay open, 2 for a bad selection.
    """
    from tongyuan.quarantine.replay import replay as run_replay
    from tongyuan.quarantine.selection import Selection, SelectionError

    try:
        if not (ids or rule or source or everything):
            raise SelectionError("say what to replay: entry ids, --rule, --source or --all")
        selection = Selection(
            ids=tuple(ids or ()),
            rule=rule,
            source=source,
            status=None if ids else "open",
            everything=everything,
        )
        settings = settings_and_logging()
        from tongyuan.db import upgrade

        upgrade(settings.database_url)
        summary = run_replay(settings, selection, dry_run=dry_run, base_dir=files_dir)
    except SelectionError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(2) from None
    if as_json:
        _print_json(summary.as_dict())
    else:
        head = "dry run: " if dry_run else ""
        batch = f" (batch {summary.batch_id})" if summary.batch_id else ""
        console.print(
            f"{head}replayed {len(summary.outcomes) - summary.skipped}, accepted "
            f"{summary.accepted}, still open {summary.still_open}, skipped {summary.skipped}"
            f"{batch}"
        )
        table = Table()
        for column in ("id", "outcome", "rules", "message"):
            table.add_column(column, no_wrap=column != "message")
        for o in summary.outcomes:
            table.add_row(str(o.entry_id), o.outcome, ", ".join(o.rules), shown(o.message or ""))
        console.print(table)
    if summary.still_open:
        raise typer.Exit(1)


@app.command("discard", epilog=DISCARD_EPILOG)
def discard(
    ids: Annotated[list[int], typer.Argument(help="Entry ids to set aside.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the entry's history).")],
) -> None:
    """Set open entries aside for good; they are never replayed. Recorded as a batch."""
    from tongyuan.db import upgrade
    from tongyuan.quarantine.replay import discard as run_discard
    from tongyuan.quarantine.selection import SelectionError

    settings = settings_and_logging()
    upgrade(settings.database_url)
    try:
        summary = run_discard(settings, ids, reason=reason)
    except SelectionError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(2) from None
    for o in summary.outcomes:
        console.print(
            f"{o.entry_id}: {o.outcome}" + (f" ({shown(o.message)})" if o.message else "")
        )
