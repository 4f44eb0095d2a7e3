"""``tongyuan pull``: read one adapter stream into the libraries, incrementally."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tongyuan.cli.common import (
    console,
    database_errors,
    err_console,
    settings_and_logging,
    shown,
)

EPILOG = (
    "Example: [bold]tongyuan pull sql --config market.yaml --stream cases "
    "--name sz-market[/bold]  (ADAPTER: a built-in name, an installed entry point, or "
    "module:Class)"
)


def pull(
    adapter: Annotated[
        str, typer.Argument(help="sql, files, sftp, http, an entry point, or module:Class.")
    ],
    config: Annotated[
        Path, typer.Option("--config", exists=True, dir_okay=False, help="Adapter YAML.")
    ],
    stream: Annotated[str, typer.Option(help="Stream to read.")],
    name: Annotated[
        str | None,
        typer.Option(
            help="Source name the state and batches are kept under (default: ADAPTER:config stem)."
        ),
    ] = None,
) -> None:
    """Pull a stream through an adapter: store valid records, quarantine the rest, keep state.

    Runs again from where the last committed pull stopped. Exit 0 when the pull committed
    (quarantined records included), 1 when it failed (nothing stored, state unchanged;
    one line with the reason, and why its failed batch could not be recorded if it could
    not be: the server stopped mid-pull), 2 when the adapter, its configuration or the
    stream cannot be used, or the library database cannot be used (one line naming it).
    """
    from adapters.sdk import AdapterError, Source
    from adapters.sdk.contract import checked_spec
    from adapters.sdk.registry import load_adapter
    from standards.validation import rule_title
    from tongyuan.db import upgrade
    from tongyuan.pulling import pull as run_pull

    settings = settings_and_logging()
    try:
        cls = load_adapter(adapter)
        if not issubclass(cls, Source):
            raise AdapterError(f"{adapter} is a sink, not a source")
        source = cls.from_config(config)
        checked_spec(source, stream)
    except AdapterError as exc:
        err_console.print(f"[red]error:[/red] {shown(str(exc), newlines=True)}", soft_wrap=True)
        raise typer.Exit(2) from None
    except KeyError as exc:  # no such stream: the source's message names those it has
        err_console.print(f"[red]error:[/red] {shown(str(exc.args[0]))}", soft_wrap=True)
        raise typer.Exit(2) from None
    with database_errors(settings, doing="migrating its schema"):
        upgrade(settings.database_url)
    source_name = name or f"{adapter}:{config.stem}"
    # A drop-folder source's local folder is where its material records' files are found.
    folder = getattr(source, "folder", None)
    result = run_pull(
        settings, source, stream, source_name=source_name,
        base_dir=folder if isinstance(folder, Path) else None,
    )  # fmt: skip
    table = Table(title=f"pull {shown(source_name)}/{shown(stream)}: {result.status}")
    for col in ("read", "added", "changed", "unchanged", "quarantined"):
        table.add_column(col, justify="right")
    table.add_row(
        *(str(getattr(result, c)) for c in ("read", "added", "changed", "unchanged", "quarantined"))
    )
    console.print(table)
    for rule, n in result.rules.most_common(10):
        console.print(f"  {n:>6}  {rule}  {rule_title(rule)}", soft_wrap=True)
    for problem in result.problems:  # a deadline not computed, the source's close() failing
        err_console.print(f"[yellow]problem:[/yellow] {shown(problem)}", soft_wrap=True)
    if result.error:
        err_console.print(f"[red]failed:[/red] {shown(result.error)}", soft_wrap=True)
        raise typer.Exit(1)
