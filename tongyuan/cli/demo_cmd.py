"""``tongyuan demo``: the main job on the embedded default, end to end."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tongyuan.cli import demo_pipelines
from tongyuan.cli.common import calendar_errors, console, progress_bar, settings_and_logging
from tongyuan.config import Settings

if TYPE_CHECKING:
    from tongyuan.topology import Topology

EPILOG = "Example: [bold]TONGYUAN_HOME=/tmp/ty tongyuan demo --cases 5000[/bold]"

DEMO_SEED = 2026


def demo(
    cases: Annotated[int, typer.Option(min=1, help="Cases to generate.")] = 3000,
    items: Annotated[int, typer.Option(min=1, help="Items across the topology.")] = 150,
    bad_rate: Annotated[float, typer.Option(min=0.0, max=1.0, help="Share of bad records.")] = 0.02,
) -> None:
    """Generate a Shenzhen dataset, load it, then sync items across the levels in Airflow.

    Topology 广东省 → 深圳市 → 福田区/南山区/宝安区/龙岗区. Cases, materials and licences are
    generated and loaded into the libraries; then each level's item system is filled with
    generated items (with planted disagreements) and the item_sync DAG runs through
    Airflow itself (dag.test on the embedded Airflow under TONGYUAN_HOME/airflow), on the
    systems' first exports and then their next ones. Everything lives under TONGYUAN_HOME
    (./var by default). Running it again is safe: files already loaded are skipped, the
    sync finds nothing new, and nothing changes.
    """
    from standards.workdays import WorkCalendar
    from tongyuan.db import upgrade

    settings = settings_and_logging()
    with calendar_errors():  # before anything is generated: every deadline needs it
        WorkCalendar.default()
    console.print(f"[bold]Tongyuan demo[/bold] — data directory {settings.home}")
    upgrade(settings.database_url)
    # Deterministic for its parameters: generated once, then loaded (and skipped) on re-runs.
    dataset = settings.home / "demo" / f"dataset-s{DEMO_SEED}-i{items}-c{cases}-b{bad_rate:g}"
    if dataset.exists():
        console.print(f"using the dataset generated earlier in {dataset}")
    else:
        _generate(dataset, items=items, cases=cases, bad_rate=bad_rate)
    failed = _load_and_report(settings, dataset)
    topology_path, topology = _sync_items(settings)
    failed |= not demo_pipelines.ingest_cases(settings, topology, topology_path)
    failed |= not demo_pipelines.verify_licenses(settings, dataset, topology_path)
    failed |= not demo_pipelines.check_quality(settings, topology_path)
    if failed:
        raise typer.Exit(1)


def _sync_items(settings: Settings) -> tuple[Path, Topology]:
    """Fill the level systems once, run item_sync through Airflow, report what it did."""
    from tongyuan.cli import demo_items
    from tongyuan.topology import example_path, load_topology

    path = example_path("shenzhen")
    topology = load_topology(path, home=settings.home)
    console.rule("[bold]Item sync: district ⇄ city ⇄ province, run by Airflow[/bold]")
    marker = settings.home / "demo" / f"level-systems-s{demo_items.SYSTEMS_SEED}.done"
    if marker.exists():
        console.print("level systems generated earlier: syncing whatever they exported since")
        outcome = demo_items.run_item_sync(settings, path, label="re-run")
        demo_items.print_run(topology, outcome)
    else:
        systems = demo_items.prepare_level_systems(topology)
        planted = "; ".join(f"{p.kind} at {p.node}" for p in systems.planted)
        console.print(
            f"level systems of {len(topology.nodes)} nodes and {len(topology.departments)} "
            f"department filled with {systems.item_count} items (planted: {planted})"
        )
        outcome = demo_items.run_item_sync(settings, path, label="first exports")
        demo_items.print_run(topology, outcome)
        where = demo_items.publish_updates(topology, systems)
        console.print(f"next exports published by: {', '.join(where)}")
        outcome = demo_items.run_item_sync(settings, path, label="next exports")
        demo_items.print_run(topology, outcome)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.write_text(outcome.run_id + "\n", encoding="utf-8")
    demo_items.print_disagreements(settings, topology)
    return path, topology


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


def _load_and_report(settings: Settings, dataset: Path) -> bool:
    """Load the dataset and print the tables; True when a file failed to load."""
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
    return bool(summary.failed)
