"""``tongyuan quality``: run the data quality suites over the libraries and keep the history."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from tongyuan.cli.common import console, database_errors, err_console, settings_and_logging

app = typer.Typer(
    help="Data quality suites (Great Expectations, run in the database) and their history.",
    no_args_is_help=True,
)

EPILOG = (
    "Examples: [bold]tongyuan quality run[/bold] · "
    "[bold]tongyuan quality run --suite timeliness --suite integrity --json[/bold] · "
    "[bold]tongyuan quality run --scope 440300[/bold]"
)


def _as_of(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"--as-of must be a date like 2026-06-30, got {value!r}") from None


@app.command(epilog=EPILOG)
def run(
    suite: Annotated[
        list[str] | None,
        typer.Option(
            "--suite",
            "-s",
            help="Suite to run (repeatable): completeness, consistency, rules, timeliness, "
            "integrity. Default: all.",
        ),
    ] = None,
    scope: Annotated[
        str, typer.Option(help="'all' or a region code (the region and everything under it).")
    ] = "all",
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Reference day for deadlines and validity (default: today)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the run summary as JSON.")] = False,
    strict: Annotated[
        bool, typer.Option(help="Exit with status 1 when any expectation failed.")
    ] = False,
) -> None:
    """Run the quality suites, store the run in the history and write GX Data Docs.

    Exit 2 for a bad option or a library database that cannot be used (unreachable,
    login refused, not migrated: one line naming it and the cause), 1 when the run
    failed, or with --strict when any expectation failed.
    """
    from tongyuan.quality import QualityError, run_quality
    from tongyuan.report.themes import format_rate, pooled_rate

    settings = settings_and_logging()
    day = _as_of(as_of)
    try:
        with database_errors(settings):
            summary = run_quality(settings, suites=suite, scope=scope, as_of=day)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    except QualityError as exc:
        err_console.print(f"[red]quality run failed:[/red] {exc}")
        raise typer.Exit(1) from None
    if as_json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        table = Table(
            title=f"Quality run {summary.run_id} ({summary.scope}, as of {summary.as_of})"
        )
        for column in ("suite", "rule", "规则", "kind", "evaluated", "failed", "pass rate"):
            table.add_column(
                column, justify="right" if column in ("evaluated", "failed") else "left"
            )
        for r in summary.rules:
            style = "red" if r.failed else None
            table.add_row(
                r.suite,
                r.rule,
                r.title,
                r.kind,
                f"{r.evaluated:,}",
                f"{r.failed:,}",
                format_rate(pooled_rate(r.evaluated, r.failed)),
                style=style,
            )
        console.print(table)
        overall = format_rate(pooled_rate(summary.evaluated, summary.failed))
        if summary.evaluated:
            console.print(
                f"status: {summary.status} · {summary.failed:,} failures in "
                f"{summary.evaluated:,} evaluations · pass rate {overall}"
            )
        else:
            # Nothing in the libraries to check: no rate at all, as the report shows it.
            console.print(f"status: {summary.status} · nothing to check · pass rate {overall}")
        console.print(f"GX Data Docs: {summary.data_docs_path}")
    if strict and summary.status != "passed":
        raise typer.Exit(1)
