"""``tongyuan adapter``: check an adapter against the conformance kit, scaffold one, list them."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from adapters.conformance.kit import (
    CHECK_NAMES,
    DEFAULT_BULK_ROWS,
    DEFAULT_MEMORY_BOUND_MIB,
    DEFAULT_SAMPLE_ROWS,
    Check,
    run_kit,
)
from adapters.conformance.report import print_report, report_json
from adapters.scaffold import KINDS, ScaffoldError, create_adapter_package
from adapters.sdk import AdapterError, Source
from adapters.sdk.registry import adapter_entries, load_adapter
from tongyuan.cli.common import console, err_console, shown

app = typer.Typer(
    help="Department adapters: run the conformance kit, scaffold a new adapter, list adapters.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

CHECK_EPILOG = (
    "Example: [bold]tongyuan adapter check market_adapter.source:MarketCases --config "
    "adapter.yaml --rows 100000[/bold]  Exit codes: 0 every check passed, 1 a check failed "
    "or errored, 2 the adapter or configuration file cannot be found."
)


NEW_EPILOG = (
    "Example: [bold]tongyuan adapter new market-cases --kind sql --out ~/src[/bold]  "
    "Exit codes: 0 created, 2 an unusable name or kind, or the folder already exists."
)
LIST_EPILOG = "Example: [bold]tongyuan adapter list[/bold]  (after pip install of an adapter)"


def _importable_here() -> None:
    """``MODULE:CLASS`` resolves against the current folder too, as ``python -m`` does."""
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


@app.command("check", epilog=CHECK_EPILOG)
def check(
    adapter: Annotated[
        str, typer.Argument(help="MODULE:CLASS of the source, or a registered adapter name.")
    ],
    config: Annotated[
        Path, typer.Option("--config", "-c", help="The adapter's YAML configuration file.")
    ],
    rows: Annotated[
        int, typer.Option(min=1, help="Rows the memory check streams (the kit wants ≥ 1M).")
    ] = DEFAULT_BULK_ROWS,
    stream: Annotated[
        str | None, typer.Option(help="Stream to check (default: the harness's stream).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    memory_bound: Annotated[
        float, typer.Option(min=1, help="Memory bound of the memory check, in MiB.")
    ] = DEFAULT_MEMORY_BOUND_MIB,
    sample_rows: Annotated[
        int, typer.Option(min=10, help="Rows the other checks add to the source system.")
    ] = DEFAULT_SAMPLE_ROWS,
    only: Annotated[
        list[str] | None,
        typer.Option(
            "--check", help=f"Run only these checks (repeatable): {', '.join(CHECK_NAMES)}."
        ),
    ] = None,
) -> None:
    """Run the conformance suite against a source adapter and print a pass/fail table."""
    if only:
        unknown = sorted(set(only) - set(CHECK_NAMES))
        if unknown:
            raise typer.BadParameter(
                f"unknown checks {', '.join(unknown)}; known: {', '.join(CHECK_NAMES)}",
                param_hint="--check",
            )
    if not config.is_file():
        err_console.print(f"[red]configuration file not found:[/red] {shown(str(config))}")
        raise typer.Exit(2)
    _importable_here()
    try:
        cls = load_adapter(adapter)
    except AdapterError as exc:
        err_console.print(f"[red]{shown(str(exc), newlines=True)}[/red]")
        raise typer.Exit(2) from None
    if not issubclass(cls, Source):
        err_console.print(f"[red]{shown(adapter)} is a sink; the kit checks sources[/red]")
        raise typer.Exit(2)

    with err_console.status("starting the conformance kit") as status:

        def progress(c: Check) -> None:
            status.update(f"checking: {c.title}")

        report = run_kit(
            cls,
            config,
            stream=stream,
            rows=rows,
            sample_rows=sample_rows,
            memory_bound_mib=memory_bound,
            only=only,
            progress=progress,
        )
    if as_json:
        sys.stdout.write(report_json(report) + "\n")
    else:
        print_report(report, console)
    raise typer.Exit(report.exit_code)


@app.command("new", epilog=NEW_EPILOG)
def new(
    name: Annotated[
        str,
        typer.Argument(help="Adapter name: lower-case letters, digits, hyphens (market-cases)."),
    ],
    kind: Annotated[
        str, typer.Option(help=f"Which built-in adapter to build on: {', '.join(KINDS)}.")
    ] = "sql",
    out: Annotated[
        Path, typer.Option(help="Folder to create the package in (default: current folder).")
    ] = Path("."),
) -> None:
    """Scaffold a department adapter package that passes the conformance kit as created."""
    try:
        created = create_adapter_package(name, kind=kind, out=out)
    except ScaffoldError as exc:
        err_console.print(f"[red]{shown(str(exc), newlines=True)}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[green]created[/green] {shown(str(created.root))}")
    for path in created.files:
        console.print(f"  {shown(str(path.relative_to(created.root)))}")
    console.print(
        "\nNext: edit the mapping, then run the kit (README.md shows the environment it\n"
        "needs: point it at a scratch copy — the kit empties the system it tests):\n"
        f"  cd {shown(str(created.root))}\n"
        f"  tongyuan adapter check {created.module}.source:{created.class_name} "
        "--config adapter.yaml --rows 100000\n"
        "  pip install -e .   # registers the adapter under its entry point"
    )


@app.command("list", epilog=LIST_EPILOG)
def list_adapters() -> None:
    """Adapters the hub can use: built-in and installed through entry points."""
    _importable_here()
    table = Table(title="Adapters")
    table.add_column("name")
    table.add_column("class")
    table.add_column("from")
    table.add_column("status")
    # One row per provider: a name two providers declare shows both, each with the error.
    for entry in sorted(adapter_entries(), key=lambda e: (e.name, e.provider != "built-in")):
        if entry.conflict is not None:
            status = f"[red]{shown(entry.conflict, newlines=True)}[/red]"
        else:
            try:
                cls = load_adapter(entry.name)
                kind = "source" if issubclass(cls, Source) else "sink"
                status = f"[green]ok[/green] ({kind})"
            except AdapterError as exc:
                status = f"[red]{shown(str(exc), newlines=True)}[/red]"
        table.add_row(shown(entry.name), shown(entry.target), shown(entry.provider), status)
    console.print(table)
