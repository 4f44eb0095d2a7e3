"""Alembic environment for the library database.

Run through :mod:`tongyuan.db.migrate`, which hands over an open connection in
``config.attributes["connection"]``; there is no ``alembic.ini`` and no URL in here.
"""

from __future__ import annotations

from alembic import context

import tongyuan.libraries  # registers every table on the metadata
from tongyuan.db.migrate import VERSION_TABLE

target_metadata = tongyuan.libraries.metadata
config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "run migrations through tongyuan.db.upgrade()/downgrade(), which supply the connection"
        )
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run them online")
run_migrations()
