"""``tongyuan items``: the item library (事项库) — one item's versions and who wrote them."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import typer

from tongyuan.cli.common import (
    console,
    err_console,
    library_session,
    require_migrated,
    settings_and_logging,
    shown,
)

app = typer.Typer(help="The item library (事项库): every version of an item, traced.",
                  no_args_is_help=True)  # fmt: skip

EXIT_UNKNOWN_ITEM = 1
_BEIJING = timezone(timedelta(hours=8))


@app.command(
    "history",
    epilog="Example: [bold]tongyuan items history 11440305004000000P4000100655002[/bold]  "
    "(exit 1: the library never held the item)",
)
def history(
    impl_code: Annotated[str, typer.Argument(help="The item's 实施编码 (as typed: folded).")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout instead.")
    ] = False,
) -> None:
    """Every version of one item (全程留痕): when it was in force, which elements changed,
    and which batch wrote it — its kind, source and ledger entry, so `tongyuan ledger
    verify` can prove the trail unaltered. Values are shown with personal IDs masked."""
    from tongyuan.sync.history import item_trail

    settings = settings_and_logging(read_only=True)
    # An auditor's copy is read as it is: an older schema is named, never migrated.
    require_migrated(settings, why="a read-only command migrates nothing")
    with library_session(settings) as session:
        trail = item_trail(session, impl_code)
    if not trail:
        err_console.print(f"no item with 实施编码 {shown(impl_code)} in the library")
        raise typer.Exit(EXIT_UNKNOWN_ITEM)
    if as_json:
        doc = {"impl_code": trail[0].impl_code, "versions": [v.as_dict() for v in trail]}
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return
    _print(trail)


def _when(value: datetime | None) -> str:
    return value.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M:%S") if value else "—"


def _value(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _print(trail: list[Any]) -> None:
    """One block per version, oldest first, as ``git log`` lays out commits."""
    last, impl_code = trail[-1], trail[0].impl_code
    state = "cancelled" if last.cancelled else last.status
    console.print(
        f"[bold]事项 {shown(impl_code)}[/bold] {shown(last.as_dict()['name'])}: "
        f"{len(trail)} version(s), now {state} (times Beijing)"
    )
    for v in trail:
        doc = v.as_dict()
        batch = doc["batch"]
        ledger = (
            f"ledger #{batch['ledger_seq']}"
            if batch["ledger_seq"] is not None
            else ("not in the ledger")
        )
        until = _when(v.valid_to) if v.valid_to else "now"
        console.print(
            f"[bold]v{v.version_no}[/bold]  {_when(v.valid_from)} → {until}  "
            f"{shown(batch['kind'])} {shown(batch['source'])}  {ledger}  batch {batch['id']}",
            soft_wrap=True,
        )
        changes = doc["changes"]
        if v is trail[0] and not v.cancelled:
            console.print(f"    first version ({len(changes)} elements)")
            continue
        for c in changes or [None]:
            if c is None:
                console.print("    (content unchanged)")
                continue
            before = "—" if c["before"] is None else _value(c["before"])
            console.print(
                f"    {shown(c['element'])}: {shown(before)} → {shown(_value(c['after']))}",
                soft_wrap=True,
            )
