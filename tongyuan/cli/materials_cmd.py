"""``tongyuan materials``: what a holder has already submitted that can be reused.

The holder's ID is an argument, or ``-`` to read it from standard input so that it stays
out of shell history and the process list. It is never printed unmasked, nor is any ID a
department glued into a material number: every value shown passes :func:`mask_text`.
"""

from __future__ import annotations

import json
import sys
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from standards.privacy import mask_text
from tongyuan.cli.common import (
    console,
    err_console,
    library_session,
    require_migrated,
    settings_and_logging,
    shown,
)

app = typer.Typer(
    help="Materials (材料库): reuse of what holders have already submitted.",
    epilog="Example: [bold]echo $ID | tongyuan materials for -[/bold]",
    no_args_is_help=True,
)

FOR_EPILOG = (
    "Example: [bold]tongyuan materials for - --at 2026-12-01 < id.txt[/bold]  (the ID read "
    "from a file, never typed on the command line; its materials and licenses valid on that "
    "day in Beijing time)"
)


@app.command("for", epilog=FOR_EPILOG)
def for_holder(
    holder_id: Annotated[
        str, typer.Argument(metavar="HOLDER_ID", help="ID number, or - to read it from stdin.")
    ],
    at: Annotated[
        str | None,
        typer.Option(help="Day the items must be valid on (YYYY-MM-DD; today in Beijing)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON on stdout.")] = False,
) -> None:
    """List the holder's reusable materials and licenses (found by keyed hash).

    Reusable: valid on the day, the stored file present and, for a license, the last
    signature verification PASSED; items valid on the day that fail the rest are listed
    apart as withheld, with the reason.
    """
    from tongyuan.config import ConfigError
    from tongyuan.ingest.timeliness import hub_today
    from tongyuan.materials.holder import holdings_for
    from tongyuan.privacy import PiiProtector

    if holder_id == "-":
        holder_id = sys.stdin.readline().strip()
    try:
        day = date.fromisoformat(at) if at else hub_today()
    except ValueError:
        err_console.print(f"[red]error:[/red] --at {shown(at or '')!r} is not a YYYY-MM-DD date")
        raise typer.Exit(2) from None
    if not holder_id:
        err_console.print("[red]error:[/red] give the holder's ID number (or - and stdin)")
        raise typer.Exit(2)
    settings = settings_and_logging(read_only=True)
    # A read-only query: an older schema is named, never migrated (as `items history`).
    require_migrated(settings, why="a read-only command migrates nothing")
    try:
        protector = PiiProtector.from_settings(settings)  # the hub's key, never a new one
    except ConfigError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}", soft_wrap=True)
        raise typer.Exit(2) from None
    with library_session(settings) as session:
        held = holdings_for(session, protector, holder_id, day, settings=settings)
    if as_json:
        typer.echo(json.dumps(held.as_dict(), ensure_ascii=False, indent=2))  # masked
        return
    console.print(
        f"holder [bold]{held.holder_masked}[/bold] on {held.at}: {len(held.materials)} "
        f"materials, {len(held.licenses)} licenses reusable"
        + (f", {len(held.withheld)} withheld" if held.withheld else "")
    )
    if held.materials:
        table = Table(title="materials (材料)")
        for column in ("material", "name", "type", "media type", "valid", "case"):
            table.add_column(column)
        for m in held.materials:
            valid = f"{m.valid_from or '…'} – {m.valid_to or '…'}"
            table.add_row(
                _cell(m.material_id), _cell(m.name), _cell(m.material_type),
                _cell(m.media_type), valid, _cell(m.source_case or ""),
            )  # fmt: skip
        console.print(table)
    if held.licenses:
        table = Table(title="licenses (电子证照)")
        for column in ("identifier", "name", "type", "issuer", "valid"):
            table.add_column(column)
        for lic in held.licenses:
            valid = f"{lic.valid_from} – {lic.valid_to or '…'}"
            table.add_row(
                _cell(lic.identifier), _cell(lic.name), _cell(lic.type_name),
                _cell(lic.issuer_name), valid,
            )  # fmt: skip
        console.print(table)
    if held.withheld:
        table = Table(title="withheld: valid on the day but not reusable (不可复用)")
        for column in ("kind", "material / license", "name", "reason"):
            table.add_column(column)
        for item in held.withheld:
            table.add_row(item.kind, _cell(item.key), _cell(item.name), _cell(item.detail))
        console.print(table)


def _cell(value: str) -> str:
    """A table cell: IDs masked (also inside numbers), then made safe to print."""
    return shown(mask_text(value))
