"""``tongyuan generate``: synthetic exchange files for development, tests and demos."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tongyuan.cli.common import console, err_console, progress_bar

EPILOG = (
    "Example: [bold]tongyuan generate --out /tmp/data --seed 7 --items 200 --cases 5000 "
    "--bad-rate 0.05[/bold]"
)


def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write into (created).")],
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same bytes.")] = 0,
    items: Annotated[int, typer.Option(min=1, help="Item records across all nodes.")] = 200,
    cases: Annotated[int, typer.Option(min=0, help="Case records.")] = 2000,
    bad_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of deliberately bad records.")
    ] = 0.0,
    topology: Annotated[str, typer.Option(help="shenzhen or lanzhou.")] = "shenzhen",
    fmt: Annotated[str, typer.Option("--format", help="xml or jsonl.")] = "xml",
) -> None:
    """Write realistic synthetic items, cases, materials and licenses.

    One subfolder per kind (items/, cases/, materials/, licenses/). With --bad-rate, that
    share of each kind breaks exactly one named rule; the list of planted defects is
    written to expected_defects.json so checks can be verified against it.
    """
    from tongyuan.generate import generate_dataset

    if fmt not in ("xml", "jsonl"):
        raise typer.BadParameter("--format must be xml or jsonl")
    with progress_bar() as bar:
        tasks: dict[str, int] = {}

        def on_progress(kind: str, done: int, total: int) -> None:
            if kind not in tasks:
                tasks[kind] = bar.add_task(kind, total=total)
            bar.update(tasks[kind], completed=done, total=total)

        try:
            summary = generate_dataset(
                out,
                seed=seed,
                items=items,
                cases=cases,
                bad_rate=bad_rate,
                topology=topology,
                fmt=fmt,
                progress=on_progress,
            )
        except ValueError as exc:
            err_console.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(2) from None
    table = Table(title=f"Generated into {out}")
    table.add_column("kind")
    table.add_column("records", justify="right")
    table.add_column("bad", justify="right")
    for kind, count in summary.counts.items():
        table.add_row(kind, str(count), str(summary.bad_counts.get(kind, 0)))
    console.print(table)
