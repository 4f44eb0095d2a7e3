"""``tongyuan demo``: the main job on the embedded default, end to end."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tongyuan.cli.common import console, progress_bar, settings_and_logging
from tongyuan.config import Settings

EPILOG = "Example: [bold]TONGYUAN_HOME=/tmp/ty tongyuan demo --cases 5000[/bold]"

DEMO_SEED = 2026


def demo(
    cases: Annotated[int, typer.Option(min=1, help="Cases to generate.")] = 3000,
    items: Annotated[int, typer.Option(min=1, help="Items across the topology.")] = 150,
    bad_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of bad records.")] = 0.02,
) -> None:
    """Generate a Shenzhen dataset, load it into the libraries, and summarise what happened.

    Topology 广东省 → 深圳市 → 南山区/宝安区/龙岗区. Everything lives under TONGYUAN_HOME
    (./var by default). Running it again is safe: files already loaded are skipped and
    nothing changes.
    """
    from tongyuan.db import upgrade

    settings = settings_and_logging()
    console.print(f"[bold]Tongyuan demo[/bold] — data directory {settings.home}")
    upgrade(settings.database_url)
    # Deterministic for its parameters: generated once, then loaded (and skipped) on re-runs.
    dataset = settings.home / "demo" / f"dataset-s{DEMO_SEED}-i{items}-c{cases}-b{bad_rate:g}"
    if dataset.exists():
        console.print(f"using the dataset generated earlier in {dataset}")
    else:
        _generate(dataset, items=items, cases=cases, bad_rate=bad_rate)
    _load_and_report(settings, dataset)


def _generate(dataset: Path, *, items: int, cases: int, bad_rate: float) -> None:
    from tongyuan.generate import generate_dataset

    tmp = dataset.with_name(dataset.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with progress_bar() as bar:
        tasks: dict[str, int] = {}

        def on_progress(kind: str, done: int, total: int) -> None:
            if kind not in tasks:
                tasks[kind] = bar.add_task(f"generate {kind}", total=total)
            bar.update(tasks[kind], completed=done, total=total)

        generate_dataset(
            tmp,
            seed=DEMO_SEED,
            items=items,
            cases=cases,
            bad_rate=bad_rate,
            topology="shenzhen",
            progress=on_progress,
        )
    tmp.rename(dataset)  # a dataset folder is complete or absent
    console.print(f"generated dataset in {dataset}")


def _load_and_report(settings: Settings, dataset: Path) -> None:
    from standards.validation import rule_title
    from tongyuan.inventory import library_counts, open_quarantine_by_rule
    from tongyuan.loading import Loader

    loader = Loader(settings)
    try:
        with progress_bar() as bar:
            task = bar.add_task("load", total=None)
            summary = loader.load(
                [dataset], relative_to=dataset, on_record=lambda _k, _n: bar.advance(task)
            )
        with loader.sessions() as session:
            counts = library_counts(session)
            top = open_quarantine_by_rule(session)
    finally:
        loader.close()

    table = Table(title="This run, per kind")
    columns = ("files", "already loaded", "read", "added", "changed", "unchanged", "quarantined")
    table.add_column("kind")
    for col in columns:
        table.add_column(col, justify="right")
    for kind, c in summary.totals().items():
        files = sum(1 for f in summary.files if f.kind == kind)
        table.add_row(
            kind,
            str(files),
            str(c["skipped_files"]),
            *(str(c[k]) for k in ("read", "added", "changed", "unchanged", "quarantined")),
        )
    console.print(table)
    for failed in summary.failed:
        console.print(f"[red]failed file[/red] {failed.file}: {failed.error}")

    lib = Table(title="Libraries now hold")
    lib.add_column("library")
    lib.add_column("rows", justify="right")
    for name, n in counts.items():
        lib.add_row(name, str(n))
    console.print(lib)
    if top:
        console.print("[bold]Open quarantine, top reasons[/bold]")
        for rule, n in top.most_common():
            console.print(f"  {n:>5}  {rule:<32} {rule_title(rule)}", soft_wrap=True)
    console.print(f"data directory: {settings.home}   log: {settings.logs_dir / 'tongyuan.log'}")
    if summary.failed:
        raise typer.Exit(1)
