"""The kit's report for people (a table) and for machines (one JSON object)."""

from __future__ import annotations

import json

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from adapters.conformance.kit import KitReport

_STYLE = {"pass": "green", "fail": "red", "error": "magenta"}


def report_table(report: KitReport) -> Table:
    """One row per check: what it tests, its outcome, and why."""
    stream = f" · stream {report.stream}" if report.stream else ""
    table = Table(
        title=f"Conformance of {report.adapter}{stream}",
        caption=f"configuration: {report.config}",
        show_lines=True,
        expand=True,
    )
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("reason", ratio=1, overflow="fold")
    table.add_column("s", justify="right", no_wrap=True)
    for r in report.results:
        style = _STYLE[r.status]
        table.add_row(
            escape(r.title),
            f"[bold {style}]{r.status.upper()}[/]",
            escape(r.reason),
            f"{r.seconds:.1f}",
        )
    return table


def print_report(report: KitReport, console: Console) -> None:
    """The table and a one-line verdict."""
    console.print(report_table(report))
    failed = [r.name for r in report.results if r.status != "pass"]
    if failed:
        console.print(
            f"[bold red]{len(failed)} of {len(report.results)} checks did not pass:[/] "
            + ", ".join(failed)
        )
    else:
        console.print(f"[bold green]all {len(report.results)} checks passed[/]")


def report_json(report: KitReport) -> str:
    """The whole report as one JSON object on one line."""
    return json.dumps(report.as_dict(), ensure_ascii=False, default=str)


__all__ = ["print_report", "report_json", "report_table"]
