"""``tongyuan licenses``: verify the licenses in the library against a trust directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tongyuan.cli.common import console, err_console, settings_and_logging, shown

app = typer.Typer(
    help="E-licenses in the library: signature, status, holder and item checks.",
    no_args_is_help=True,
)

EXIT_DONE, EXIT_UNUSABLE_TRUST = 0, 2


@app.command(
    epilog="Example: [bold]tongyuan licenses verify --trust var/pki --json[/bold]  "
    "Which licenses: those of cases ingested since the last run, those never verified, "
    "and — when a CRL changed — those below its CA; --all checks every license. "
    "Exit codes: 0 run done (results stored, whatever they are), 2 trust directory unusable."
)
def verify(
    check_all: Annotated[bool, typer.Option("--all", help="Check every license.")] = False,
    crl_only: Annotated[
        bool,
        typer.Option(
            "--crl-changed",
            help="Only re-check licenses below a CA whose CRL changed (every license when "
            "the anchors or intermediates changed).",
        ),
    ] = False,
    trust: Annotated[
        Path | None,
        typer.Option(
            "--trust",
            help="Trust directory (default: $TONGYUAN_TRUST_DIR, else <home>/trust).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the counts as JSON.")] = False,
) -> None:
    """Verify licenses and store every result in the license library (counts are printed)."""
    from signing.trust import TrustStoreError
    from tongyuan.licensing.run import default_trust_dir, verify_licenses

    settings = settings_and_logging()
    trust_dir = trust or default_trust_dir(settings)
    try:
        result = verify_licenses(
            settings, only_new=not check_all, because_crl_changed=crl_only, trust_dir=trust_dir
        )
    except TrustStoreError as exc:
        err_console.print(f"[red]trust directory unusable:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(EXIT_UNUSABLE_TRUST) from None
    if as_json:
        print(json.dumps(result.to_dict(), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"License verification {result.run_id} (trust: {shown(str(trust_dir))})")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("checked", str(result.checked))
    table.add_row("usable (signature passed, valid, all checks)", str(result.usable))
    for label, counts in (
        ("reason", result.reasons),
        ("signature", result.indications),
        ("sub-indication", result.subindications),
        ("library status", result.statuses),
    ):
        for key, count in counts.items():
            table.add_row(f"{label}: {key}", str(count))
    table.add_row("signed content differs from the record", str(result.content_mismatches))
    table.add_row("holder is no applicant of the item", str(result.holder_mismatches))
    table.add_row("item not in force", str(result.missing_items))
    console.print(table)
    if result.crl_changed:
        console.print("CRLs changed since the last run: licenses below those CAs re-checked.")
    if result.trust_changed:
        console.print(
            "Trust anchors or intermediates changed since the last run: every license re-checked."
        )
