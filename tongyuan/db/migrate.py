"""Schema migrations run from the installed package, no ``alembic.ini`` needed.

The version table is ``tongyuan_schema_version`` rather than Alembic's default, so the
libraries can share a PostgreSQL database with Airflow's metadata (which uses
``alembic_version``) without either stepping on the other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL

from tongyuan.db.engine import make_engine

VERSION_TABLE = "tongyuan_schema_version"
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at the package's migrations; env.py uses ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@contextmanager
def _connected(target: str | URL | Engine) -> Iterator[Connection]:
    engine = target if isinstance(target, Engine) else make_engine(target)
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        if engine is not target:
            engine.dispose()


# pg_advisory_xact_lock key of schema migrations (a constant: one schema per database).
_MIGRATION_LOCK_KEY = int.from_bytes(b"tymigrat", "big", signed=True)


def _serialize_migrations(connection: Connection) -> None:
    """Make a second migration of one PostgreSQL database wait for the first.

    Two ``db upgrade`` of an empty database at once (two machines deployed together, a
    CLI run beside the Airflow task) both saw no version table and both created the
    tables: the second died on "relation already exists". The lock is held until the
    transaction ends, so the second then finds the schema at its head and does nothing.
    SQLite needs none: its migration transaction begins IMMEDIATE and so already waits.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})


def upgrade(target: str | URL | Engine, revision: str = "heads") -> None:
    """Bring the schema up to ``revision`` in one transaction (DDL is transactional on both).

    The default is every head: libraries added side by side may branch from one revision
    until a merge revision joins them.
    """
    with _connected(target) as connection:
        _serialize_migrations(connection)
        command.upgrade(alembic_config(connection), revision)


def downgrade(target: str | URL | Engine, revision: str) -> None:
    """Take the schema down to ``revision`` (``"base"`` drops every library table)."""
    with _connected(target) as connection:
        _serialize_migrations(connection)
        command.downgrade(alembic_config(connection), revision)


def current_revision(target: str | URL | Engine) -> str | None:
    """The revision the database is at, ``None`` for an empty database."""
    with _connected(target) as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        heads = context.get_current_heads()
        return ",".join(sorted(heads)) if heads else None


def head_revision() -> str:
    """The revision a fully upgraded database is at (heads joined by commas if branched)."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if not heads:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return ",".join(sorted(heads))
