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
