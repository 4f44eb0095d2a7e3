"""Direct SQL edits, as someone with write access to the database would make them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, text


def run_sql(engine: Engine, sql: str, **params: Any) -> None:
    with engine.begin() as connection:
        connection.execute(text(sql), params)


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def entry_count(engine: Engine) -> int:
    return int(scalar(engine, "SELECT count(*) FROM ledger_entries"))


def run_sql_without_foreign_keys(engine: Engine, sql: str, **params: Any) -> None:
    """An edit that the schema's foreign keys would refuse, as the database's owner can
    still make it (SQLite: foreign keys off on a raw connection; PostgreSQL: triggers,
    which enforce them, off for the session — the tests' server runs as a superuser)."""
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA foreign_keys=OFF")
            raw.driver_connection.execute(sql, params)  # sqlite3 takes :name too
            raw.driver_connection.commit()
            raw.driver_connection.execute("PRAGMA foreign_keys=ON")
        finally:
            raw.close()
        return
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        connection.execute(text(sql), params)
