from __future__ import annotations

from pathlib import Path

import pg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

import tongyuan.libraries
from tongyuan.db import (
    VERSION_TABLE,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)

LIBRARY_TABLES = set(tongyuan.libraries.metadata.tables)


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    assert current_revision(empty_db_url) is None
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    assert _tables(empty_db_url) == LIBRARY_TABLES | {VERSION_TABLE}
    downgrade(empty_db_url, "base")
    assert current_revision(empty_db_url) is None
    assert _tables(empty_db_url) - {VERSION_TABLE} == set()
    upgrade(empty_db_url)
    assert current_revision(empty_db_url) == head_revision()
    upgrade(empty_db_url)  # at head already: nothing to do, no error


def test_models_match_migrations(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            diff = compare_metadata(context, tongyuan.libraries.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    finally:
        engine.dispose()


def test_postgres_url_uses_psycopg() -> None:
    engine = make_engine("postgresql://u@localhost/db")
    assert engine.dialect.driver == "psycopg"


def test_comparison_would_notice_drift(db_url: str) -> None:
    """Guards the test above: a schema that drifted from the models must show a diff."""
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP INDEX ix_cases_impl_code")
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            diff = compare_metadata(context, tongyuan.libraries.metadata)
    finally:
        engine.dispose()
    assert any(op[0] == "add_index" and op[1].name == "ix_cases_impl_code" for op in diff)


def test_pg_helper_reports_missing_binaries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pg, "find_pg_bin", lambda name: None)
    with pytest.raises(pg.PgUnavailable, match="initdb/pg_ctl not found"):
        pg.PgServer.start()
