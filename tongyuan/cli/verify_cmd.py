"""``tongyuan verify``: validate a signed file and print an ETSI-style report."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from signing.report import Indication, VerificationReport
from tongyuan.cli.common import console, err_console, shown

EPILOG = (
    "Example: [bold]tongyuan verify license.xml --trust var/pki --json[/bold]  "
    "A detached signature is looked for as FILE.sig.json.  Exit codes: 0 PASSED, "
    "1 FAILED, 3 INDETERMINATE, 4 signature PASSED but the license content failed a "
    "check, 2 unreadable or unsafe input (or trust directory)."
)

EXIT_CODES = {Indication.PASSED: 0, Indication.FAILED: 1, Indication.INDETERMINATE: 3}
_RULE = re.compile(r"\[([\w.]+)\]\s*$")  # the rule id a failed license check ends with
EXIT_CONTENT_FAILED = 4  # a valid signature over a license that breaks a license rule
_COLOURS = {
    Indication.PASSED: "green",
    Indication.FAILED: "red",
    Indication.INDETERMINATE: "yellow",
}


def verify(
    file: Annotated[Path, typer.Argument(help="Signed file (or its .sig.json).")],
    trust: Annotated[
        Path, typer.Option("--trust", help="Trust directory (anchors/, intermediates/, crls/).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Check signature, certificate chain, validity at signing time and CRLs, and for a
    license what it says (identifier check character and segments, issuer code, validity).
    """
    from signing.trust import TrustStore, TrustStoreError
    from signing.verify import InputRefused, verify_file

    try:
        store = TrustStore.load(trust)
    except (TrustStoreError, OSError) as exc:
        err_console.print(f"[red]trust directory unusable:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(2) from None
    try:
        report = verify_file(file, store)
    except InputRefused as exc:
        if as_json:
            sys.stdout.write(json.dumps({"error": str(exc)}, ensure_ascii=False) + "\n")
        err_console.print(f"[red]refused:[/red] {shown(str(exc), newlines=True)}")
        raise typer.Exit(2) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), ensure_ascii=False) + "\n")
    else:
        _print(file, report)
    raise typer.Exit(exit_code(report))


def exit_code(report: VerificationReport) -> int:
    """The signature's code; a PASSED signature over license content that fails a check
    has its own, so neither verdict hides the other."""
    if report.passed and report.content_passed is False:
        return EXIT_CONTENT_FAILED
    return EXIT_CODES[report.indication]


def _print(file: Path, report: VerificationReport) -> None:
    colour = _COLOURS[report.indication]
    headline = f"[bold {colour}]{report.indication.value}[/bold {colour}] {report.indication.label}"
    if report.subindication is not None:
        headline += f" — {report.subindication.value} ({report.subindication.label})"
    if report.content_passed is None:
        console.print(f"{shown(str(file))}: {headline}", highlight=False)
    else:  # two verdicts: say which one the indication is
        console.print(f"{shown(str(file))}: signature 签名 {headline}", highlight=False)
        console.print(f"  license content 证照内容: {_content_line(report)}", highlight=False)
    for label, value in (
        ("format 格式", report.format),
        ("signer 签名者", report.signer),
        ("fingerprint 证书指纹", report.signer_fingerprint),
        ("signing time 签名时间", report.signing_time.isoformat() if report.signing_time else None),
        ("algorithm 算法", report.algorithm),
    ):
        if value:
            console.print(f"  {label}: {shown(value)}", highlight=False)
    table = Table(show_header=True, header_style="bold")
    table.add_column("check 检查项")
    table.add_column("result 结果")
    table.add_column("detail 说明", overflow="fold")
    for check in report.checks:
        mark = {True: "[green]pass[/green]", False: "[red]fail[/red]", None: "[yellow]n/a[/yellow]"}
        table.add_row(shown(check.name), mark[check.passed], shown(check.detail))
    console.print(table)


def _content_line(report: VerificationReport) -> str:
    """The license checks' verdict, naming the failed checks (their details carry the rule)."""
    if report.content_passed:
        return "[green]pass 通过[/green]"
    failed = [
        c.name + (f" [{rule[1]}]" if (rule := _RULE.search(c.detail)) else "")
        for c in report.checks
        if c.name.startswith("license.") and c.passed is False
    ]
    return "[red]FAILED 不通过[/red] " + shown(", ".join(failed))
