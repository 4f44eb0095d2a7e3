"""``tongyuan db``: schema migrations of the libraries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.markup import escape

from tongyuan.cli.common import console, err_console, settings_and_logging

app = typer.Typer(help="Library database schema (Alembic migrations).", no_args_is_help=True)

# The database cannot hold the libraries (a PostgreSQL database that is not UTF8).
EXIT_BAD_DATABASE = 2


@contextmanager
def _usable_database() -> Iterator[None]:
    """Turn a database the hub refuses into a one-line error and exit 2, not a traceback."""
    from tongyuan.db import DatabaseEncodingError

    try:
        yield
    except DatabaseEncodingError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BAD_DATABASE) from None


@app.command(epilog="Example: [bold]tongyuan db upgrade[/bold]")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Create or migrate the library schema (TONGYUAN_DATABASE_URL, else SQLite in the home)."""
    from tongyuan.db import current_revision
    from tongyuan.db import upgrade as do_upgrade

    settings = settings_and_logging()
    with _usable_database():
        do_upgrade(settings.database_url, revision)
        console.print(f"database at revision {current_revision(settings.database_url)}")


@app.command(epilog="Example: [bold]tongyuan db downgrade base[/bold]")
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or base.")]) -> None:
    """Migrate the library schema down to an earlier revision."""
    from tongyuan.db import current_revision
    from tongyuan.db import downgrade as do_downgrade

    settings = settings_and_logging()
    with _usable_database():
        do_downgrade(settings.database_url, revision)
        rev = current_revision(settings.database_url)
    console.print(f"database at revision {rev or 'base'}")


@app.command(epilog="Example: [bold]tongyuan db current[/bold]")
def current() -> None:
    """Print the schema revision the database is at."""
    from tongyuan.db import current_revision, head_revision

    settings = settings_and_logging()
    with _usable_database():
        rev = current_revision(settings.database_url)
    console.print(f"current: {rev or 'base (empty)'}   head: {head_revision()}")
