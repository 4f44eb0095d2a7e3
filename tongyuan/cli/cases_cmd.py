"""``tongyuan cases``: the case library for supervision — overdue cases (超期办件)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from tongyuan.cli.common import (
    console,
    err_console,
    library_session,
    require_migrated,
    settings_and_logging,
    shown,
)

app = typer.Typer(help="The case library (办件库): overdue cases for supervision.",
                  no_args_is_help=True)  # fmt: skip

EXIT_CALENDAR_UNKNOWN = 3


@app.command(
    "overdue",
    epilog="Example: [bold]tongyuan cases overdue --json[/bold]  (exit 3: some deadlines "
    "need a year the working-day calendar does not know; see TONGYUAN_CALENDAR_FILE)",
)
def overdue(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document on stdout instead.")
    ] = False,
    prereview: Annotated[
        bool,
        typer.Option("--prereview", help="Also list cases whose 预审 was late (2 working days)."),
    ] = False,
    limit: Annotated[
        int,
        typer.Option(
            min=1,
            help="Cases listed at most (oldest deadline first); the counts cover every case, "
            "and the output says when the list is cut (JSON: truncated).",
        ),
    ] = 200,
) -> None:
    """Recompute every case's deadline in working days as of today and list the overdue ones.

    Overdue (超期): not decided past the deadline, or decided after it. The deadline is the
    promised limit (the case's, else its item's) counted in working days from 受理, with
    statutory holidays and 调休 working weekends. Applicants are shown by masked ID only.
    Exit 0, or 3 when some deadline (a case's or its 预审's) could not be computed (year
    not in the calendar), or 2 when the hub or the calendar file cannot be used.
    """
    from tongyuan.ingest.overdue import overdue_cases

    settings = settings_and_logging(read_only=True)  # recomputes only cases already there
    # It refreshes stored deadlines, never the schema: an older one is named, as by the
    # read-only commands (`tongyuan db upgrade` first).
    require_migrated(settings, why="`cases overdue` migrates nothing")
    with library_session(settings, transaction=True) as session:
        report = overdue_cases(session, include_prereview=prereview, limit=limit)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2, default=str))
    else:
        _print(report)
    if report.deadlines_unknown:
        raise typer.Exit(EXIT_CALENDAR_UNKNOWN)


def _print(report) -> None:  # type: ignore[no-untyped-def]
    counts = report.counts
    title = f"超期办件 overdue cases as of {report.as_of}: {counts.overdue}"
    if report.truncated:
        title += f" (showing the first {len(report.cases)}, oldest deadline first)"
    table = Table(title=title)
    for col in ("serial", "department case", "实施编码", "state", "受理", "deadline",
                "status", "applicant"):  # fmt: skip
        table.add_column(col, overflow="fold")
    for c in report.cases:  # department numbers are free text: escaped, markup too
        table.add_row(*(shown(v or "") for v in (
            c["serial"], f"{c['source_system']}/{c['dept_case_no']}", c["impl_code"],
            c["state"], c["accepted_on"], c["deadline"], c["status"], c["applicant"],
        )))  # fmt: skip
    console.print(table)
    if report.truncated:
        console.print(
            f"list cut at {len(report.cases)} of {counts.overdue} overdue cases; "
            "use --limit N to list more, or --json for the counts"
        )
    console.print(
        f"{counts.cases} cases checked: {counts.overdue} overdue, "
        f"{counts.prereview_late} with a late 预审, {counts.unknown} without a known deadline, "
        f"{counts.prereview_unknown} without a known 预审 due date"
    )
    if report.prereview:
        cut = f" (showing the first {len(report.prereview)})" if report.prereview_truncated else ""
        console.print(
            f"预审 late (more than 2 working days after 接件): {counts.prereview_late}{cut}"
        )
        for c in report.prereview:
            line = f"  {c['serial']}  {c['source_system']}/{c['dept_case_no']}  "
            console.print(shown(f"{line}due {c['prereview_deadline']}", markup=False),
                          markup=False)  # fmt: skip
    for problem in counts.problems:
        err_console.print(f"[yellow]deadline unknown:[/yellow] {shown(problem)}", soft_wrap=True)
