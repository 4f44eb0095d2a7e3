"""Fixtures of the ``sql`` source tests: a department database on SQLite or PostgreSQL.

Test modules import the fixtures they use (``from sql_fixtures import dept_url``); the
PostgreSQL databases are created on the session's server (tests/conftest.py ``pg_server``)
and dropped afterwards.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select, text

from adapters.builtin.sql import SqlSource
from adapters.builtin.sql_department import DEPARTMENT_MAPPING, department_config
from adapters.builtin.sql_harness import SqlHarness
from adapters.sdk.config import SecretStr
from adapters.sdk.envelope import Envelope
from adapters.sdk.source import State

URL_REF = "env:DEPT_DB_URL"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def dept_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty department database: a SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'dept.sqlite'}"
        return
    server = request.getfixturevalue("pg_server")
    name = server.create_database(prefix="tydept")
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def pg_dept_url(pg_server: Any) -> Iterator[str]:
    """A fresh PostgreSQL department database (for the tests that need PostgreSQL)."""
    name = pg_server.create_database(prefix="tydept")
    try:
        yield pg_server.url(name)
    finally:
        pg_server.drop_database(name)


def secrets_for(url: str) -> Any:
    """A secret resolver that knows only the department database's reference."""

    def resolve(ref: str) -> SecretStr:
        assert ref == URL_REF, ref
        return SecretStr(url)

    return resolve


def make_source(
    url: str, *, cls: type[SqlSource] = SqlSource, **stream_overrides: Any
) -> SqlSource:
    """A source on the department schema; keyword arguments override the stream's config."""
    config = department_config(URL_REF)
    config["streams"]["cases"].update(stream_overrides)
    return cls.from_config(config, secrets=secrets_for(url))


def department_mapping(**field_overrides: Any) -> dict[str, Any]:
    """The department mapping with some fields replaced (a deep copy)."""
    mapping = copy.deepcopy(DEPARTMENT_MAPPING)
    mapping["fields"].update(field_overrides)
    return mapping


@pytest.fixture
def harness(dept_url: str) -> Iterator[SqlHarness]:
    """The department tables, empty, driven through the source's own harness."""
    h = make_source(dept_url).conformance_harness()
    assert isinstance(h, SqlHarness)
    h.reset()
    try:
        yield h
    finally:
        h.close()


def read_all(source: SqlSource, state: State | None = None) -> tuple[list[Envelope], State]:
    """Read the stream to its end as the hub does; the envelopes and the new state."""
    with source.read("cases", state) as stream_read:
        envelopes = list(stream_read)
        new_state = stream_read.state()
        stream_read.commit()
    return envelopes, new_state


def case_numbers(envelopes: list[Envelope]) -> list[str]:
    return [env.record.dept_case_no for env in envelopes if env.record is not None]  # type: ignore[attr-defined]


def table_counts(url: str) -> dict[str, int]:
    """Rows in each department table (through a separate engine)."""
    engine: Engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                name: int(conn.execute(select(func.count()).select_from(text(name))).scalar_one())
                for name in ("cases", "case_events")
            }
    finally:
        engine.dispose()
