"""Shared pieces of the CLI: consoles, settings, progress bars."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tongyuan.config import Settings, load_settings
from tongyuan.logs import configure_logging

console = Console()
err_console = Console(stderr=True)


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
