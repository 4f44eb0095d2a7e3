"""``tongyuan validate``: check exchange files against the standard."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from standards.validation import CheckOptions, Severity, rule_title
from tongyuan.cli.common import console, err_console, shown
from tongyuan.validating import ValidationReport, validate_paths

EPILOG = (
    "Example: [bold]tongyuan validate var/demo/dataset --json > report.json[/bold]  "
    "Exit codes: 0 all valid, 1 invalid records found, 2 a file unreadable or unsafe."
)

_MAX_SHOWN = 200


def validate(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders (searched recursively).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    uscc_check: Annotated[
        str,
        typer.Option(
            help="How a bad USCC check character on an authority code counts: error or warning "
            "(legacy data holds registered codes that fail it)."
        ),
    ] = "error",
    workers: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Processes for large XML files (default: one per core, up to 4; 0 = none).",
        ),
    ] = None,
) -> None:
    """Check files or folders and print each problem with file, record, field and rule."""
    if uscc_check not in ("error", "warning"):
        raise typer.BadParameter("--uscc-check must be error or warning")
    for p in paths:
        if not p.exists():
            err_console.print(f"[red]not found:[/red] {shown(p)}", soft_wrap=True)
            raise typer.Exit(2)
    options = CheckOptions(uscc_check_severity=Severity(uscc_check))
    report = validate_paths(paths, options=options, workers=workers)
    if as_json:
        sys.stdout.write(json.dumps(report.as_dict(), ensure_ascii=False) + "\n")
    else:
        _print(report)
    raise typer.Exit(report.exit_code)


def _print(report: ValidationReport) -> None:
    """One line per problem, compiler style, so it greps and reads in any terminal width."""
    problems = report.errors + report.warnings
    for e in problems[:_MAX_SHOWN]:
        where = e.file + (f":{e.line}" if e.line is not None else "")
        record = f" record {e.record}" if e.record is not None else ""
        field = f" {e.field}:" if e.field else ""
        level = "[yellow]warning[/yellow]" if e.severity == "warning" else "[red]error[/red]"
        console.print(
            f"{shown(where)}:{record}{shown(field)} {level} [bold]{e.rule}[/bold] "
            f"({rule_title(e.rule)}) {shown(e.message)}",
            soft_wrap=True,
            highlight=False,
        )
    if len(problems) > _MAX_SHOWN:
        console.print(f"… and {len(problems) - _MAX_SHOWN} more (use --json for all)")
    status = "[green]valid[/green]" if report.valid else "[red]invalid[/red]"
    console.print(
        f"{status}: {report.files} files, {report.records} records, "
        f"{report.invalid_records} invalid, {report.unreadable_files} unreadable, "
        f"{len(report.warnings)} warnings"
    )
    for rule, n in report.rule_counts().most_common(10):
        console.print(f"  {n:>6}  {rule}  {rule_title(rule)}", highlight=False, soft_wrap=True)
