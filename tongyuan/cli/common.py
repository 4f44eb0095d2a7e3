"""Shared pieces of the CLI: consoles, settings, progress bars, common options."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tongyuan.config import Settings, load_settings
from tongyuan.logs import configure_logging
from tongyuan.orchestration.tasks import ENV_TOPOLOGY

console = Console()
err_console = Console(stderr=True)

# --topology of every command that reads one (the Airflow DAGs read the same variable).
TopologyOption = Annotated[
    str | None,
    typer.Option(
        "--topology",
        "-t",
        envvar=ENV_TOPOLOGY,
        show_envvar=True,
        help="Topology YAML, or a shipped example (shenzhen, lanzhou). "
        "Default: the shipped Shenzhen example.",
    ),
]


def settings_and_logging() -> Settings:
    """Settings from the environment, with directories made and logging to var/logs."""
    settings = load_settings()
    settings.ensure_dirs()
    configure_logging(settings.logs_dir)
    return settings


def progress_bar(*, transient: bool = True) -> Progress:
    """A progress bar on stderr, so stdout stays clean for --json output."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=transient,
    )
