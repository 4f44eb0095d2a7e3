"""``tongyuan quality``: run the data quality suites over the libraries and keep the history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tongyuan.cli.common import (
    console,
    database_errors,
    err_console,
    require_migrated,
    settings_and_logging,
    shown,
)

if TYPE_CHECKING:
    from tongyuan.config import Settings

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

    With the timeliness suite (the default runs all), every case's stored deadline is
    first judged again as of today, as the Airflow quality DAG's refresh_timeliness task
    does (and ``tongyuan cases overdue``), so a run from a shell or cron counts what
    turned overdue since the last refresh. ``--as-of`` does not change that refresh:
    the stored rows are today's; the suite judges the past day from them. The refresh
    covers the whole hub, whatever ``--scope`` (it only writes rows that changed).

    Exit 2 for a bad option or a library database that cannot be used (unreachable,
    login refused, schema not at this version's: one line naming it and the cause), 1
    when the run failed (one line with the reason it is stored with: a database error
    such as a statement timeout, the ledger unreadable, GX disagreeing), when the
    timeliness refresh failed (the suites still ran, on the rows as of their last
    refresh), or with --strict when any expectation failed.
    """
    from tongyuan.quality import run_quality
    from tongyuan.quality.checks import region_prefix
    from tongyuan.quality.runner import resolve_suites
    from tongyuan.report.themes import format_rate, pooled_rate

    settings = settings_and_logging()
    day = _as_of(as_of)
    try:
        chosen = resolve_suites(suite)
        if scope != "all":
            region_prefix(scope)  # a bad scope is refused before the refresh writes anything
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    # A run never migrates: an older schema is named, as by the other commands.
    require_migrated(settings, why="`quality run` migrates nothing")
    refreshed = _refresh_timeliness(settings) if "timeliness" in chosen else True
    try:
        with database_errors(settings), run_failures():
            summary = run_quality(settings, suites=chosen, scope=scope, as_of=day)
    except ValueError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
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
    if not refreshed or (strict and summary.status != "passed"):
        raise typer.Exit(1)


@contextmanager
def run_failures() -> Iterator[None]:
    """A run that failed after it started is one line and exit 1, never a traceback.

    ``require_migrated`` has just reached the database, so what goes wrong inside the run
    is the run's failure, stored as ``error`` with its reason: GX and the breakdown
    disagreeing (QualityError), the ledger check unable to read the ledger
    (LedgerUnreadable, a statement timeout on a big hub), any other database error. The
    last two printed a 250–370-line traceback, and a database error's own text carries
    the SQL statement; the line is :func:`tongyuan.db.errors.describe_error`'s form.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from tongyuan.db.errors import describe_error
    from tongyuan.ledger import LedgerUnreadable
    from tongyuan.quality import QualityError

    try:
        yield
    except (QualityError, LedgerUnreadable, SQLAlchemyError) as exc:
        # QualityError's and LedgerUnreadable's own text is already the short form.
        why = describe_error(exc) if isinstance(exc, SQLAlchemyError) else str(exc)
        err_console.print(f"[red]quality run failed:[/red] {shown(why)}", soft_wrap=True)
        raise typer.Exit(1) from None


def _refresh_timeliness(settings: Settings) -> bool:
    """Judge every case's deadline again as of today before the timeliness suite reads
    the stored rows (:func:`tongyuan.ingest.timeliness.refresh_all`, the function of the
    quality DAG's refresh_timeliness task). After ``db upgrade`` across 0012 the stored
    statuses stay stale until something refreshes them; CLI and cron runs under-reported
    case.overdue. One line on stderr either way, so --json stays a single document on
    stdout. False when the refresh failed (a calendar file that cannot be used, or the
    database refusing it: locked by an ingest, a deadlock): the suites still run, as in
    the DAG, whose run_suites runs whatever refresh_timeliness did, and the command
    exits 1 after them."""
    from sqlalchemy.exc import SQLAlchemyError

    from standards.workdays import CalendarFileError
    from tongyuan.db import make_engine, make_session_factory
    from tongyuan.db.errors import describe_error
    from tongyuan.ingest.timeliness import refresh_all

    engine = make_engine(settings.database_url)
    try:
        counts = refresh_all(make_session_factory(engine))
    except (CalendarFileError, SQLAlchemyError) as exc:
        why = str(exc) if isinstance(exc, CalendarFileError) else describe_error(exc)
        err_console.print(
            f"[red]timeliness refresh failed:[/red] {shown(why)}; the suites run "
            "on the stored rows as of their last refresh",
            soft_wrap=True,
        )
        return False
    finally:
        engine.dispose()
    err_console.print(
        f"timeliness refreshed as of today: {counts.cases:,} cases checked, "
        f"{counts.overdue:,} overdue",
        soft_wrap=True,
    )
    return True
