"""``tongyuan db``: schema migrations of the libraries."""

from __future__ import annotations

from typing import Annotated

import typer

from tongyuan.cli.common import console, database_errors, settings_and_logging

app = typer.Typer(help="Library database schema (Alembic migrations).", no_args_is_help=True)


@app.command(epilog="Example: [bold]tongyuan db upgrade[/bold]")
def upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
) -> None:
    """Create or migrate the library schema (TONGYUAN_DATABASE_URL, else SQLite in the home).

    Exit 2, with one line naming the database and the cause, when the database cannot be
    used (unreachable, login refused, not UTF8, another application's tables).
    """
    from tongyuan.db import current_revision
    from tongyuan.db import upgrade as do_upgrade

    settings = settings_and_logging()
    with database_errors(settings):
        do_upgrade(settings.database_url, revision)
        console.print(f"database at revision {current_revision(settings.database_url)}")


@app.command(epilog="Example: [bold]tongyuan db downgrade base[/bold]")
def downgrade(revision: Annotated[str, typer.Argument(help="Target revision, or base.")]) -> None:
    """Migrate the library schema down to an earlier revision."""
    from tongyuan.db import current_revision
    from tongyuan.db import downgrade as do_downgrade

    settings = settings_and_logging()
    with database_errors(settings):
        do_downgrade(settings.database_url, revision)
        rev = current_revision(settings.database_url)
    console.print(f"database at revision {rev or 'base'}")


@app.command(epilog="Example: [bold]tongyuan db current[/bold]")
def current() -> None:
    """Print the schema revision the database is at."""
    from tongyuan.db import current_revision, head_revision

    settings = settings_and_logging()
    with database_errors(settings):
        rev = current_revision(settings.database_url)
    console.print(f"current: {rev or 'base (empty)'}   head: {head_revision()}")
