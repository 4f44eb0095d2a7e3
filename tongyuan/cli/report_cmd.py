"""``tongyuan report``: render the auditor report from the stored quality history.

Rendering reads the database only (the quality runs and their results); it never runs
checks and never imports Great Expectations, so it is quick to run again after a
`tongyuan quality run`, on any machine that holds the database.
"""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from tongyuan.cli.common import (
    TopologyOption,
    console,
    err_console,
    settings_and_logging,
    shown,
)

EPILOG = (
    "Example: [bold]tongyuan report --open[/bold]  (write var/reports/index.html, "
    "var/reports/summary.pdf and var/exports/*.csv|xlsx, then open the report in a browser)"
)


def open_in_browser(url: str) -> bool:
    """Open ``url`` with the system browser; False when there is none (a server, CI)."""
    try:
        browser = webbrowser.get()
    except webbrowser.Error:
        return False
    return bool(browser.open(url))


def report(
    open_browser: Annotated[
        bool,
        typer.Option("--open", help="Open index.html with the system browser, if there is one."),
    ] = False,
    topology: TopologyOption = None,
) -> None:
    """Write the auditor report (HTML site, PDF summary, CSV/XLSX exports) from the database.

    Scorecards use the latest run of every suite; trend charts use every finished run.
    Departments are named as the topology declares them (else as their items in force,
    else their e-licenses, name them). Personal ID numbers appear masked only.

    Exit 2 when the hub or its quality tables are not there, 1 when a database error
    stopped the report half-way (one line: the error's class and the driver's first line,
    never the SQL statement).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from tongyuan.cli.sync_cmd import resolve_topology_path
    from tongyuan.db.errors import describe_error
    from tongyuan.report import ReportDataError, build_report
    from tongyuan.topology import TopologyError, load_topology

    settings = settings_and_logging(read_only=True)
    try:
        topo = load_topology(resolve_topology_path(topology), home=settings.home)
    except (TopologyError, FileNotFoundError) as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}", soft_wrap=True)
        raise typer.Exit(2) from None
    try:
        result = build_report(settings, topology=topo)
    except ReportDataError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:  # a statement timeout, the server gone mid-report
        err_console.print(
            f"[red]error:[/red] the report could not be built: {shown(describe_error(exc))}",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    if result.runs == 0:
        console.print(
            "[yellow]No finished quality run yet:[/yellow] the report says so. "
            "Run [bold]tongyuan quality run[/bold] first."
        )
    else:
        console.print(
            f"{result.runs} run(s), {result.expectations} rule(s), "
            f"{result.failing_expectations} with failing records."
        )
    # Paths are printed unwrapped so they can be copied (and opened) as they are.
    console.print(f"Report:  {shown(str(result.index))}", soft_wrap=True)
    console.print(f"PDF:     {shown(str(result.pdf))}", soft_wrap=True)
    for path in result.exports.all():
        console.print(f"Export:  {shown(str(path))}", soft_wrap=True)
    if open_browser and not open_in_browser(result.index.resolve().as_uri()):
        err_console.print("No browser available here; open the file above by hand.")
