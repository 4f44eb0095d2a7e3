"""Cursor values the ``sql`` source cannot take for granted.

SQLite keeps date-times as whatever text each writer stored, so the boundary comparison
must not depend on the form; and a NULL cursor (or, on SQLite, text that is not a
date-time) has no place in the incremental order, so such a row must be reported, never
silently skipped.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sql_fixtures import dept_url, read_all, secrets_for  # noqa: F401 - fixtures
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    text,
)

from adapters.builtin.sql import SqlSource
from adapters.sdk.envelope import Envelope
from adapters.sdk.source import State

MAPPING: dict[str, Any] = {
    "kind": "case",
    "fields": {
        "source_system": "SZ-T",
        "dept_case_no": {"from": "BJBH"},
        "impl_code": {"from": "SXBM"},
        "applicant.name": {"from": "SQRMC"},
        "applicant.id_type": "111",
        "applicant.id_number": {"from": "SQRZJHM"},
        "events": {"from_columns": [{"state": "1", "at": {"from": "SLSJ", "datetime": "iso"}}]},
    },
}

# Text in a DATETIME column is SQLite's: these run on SQLite only.
_SQLITE_ONLY = pytest.mark.parametrize("dept_url", ["sqlite"], indirect=True)


@pytest.fixture
def dept(dept_url: str) -> Iterator[Engine]:  # noqa: F811
    """A one-table department database whose update time may be NULL."""
    engine = create_engine(dept_url)
    Table(
        "BJ",
        MetaData(),
        Column("ID", BigInteger, primary_key=True, autoincrement=False),
        Column("BJBH", String(20)),
        Column("SXBM", String(20)),
        Column("SQRMC", String(20)),
        Column("SQRZJHM", String(20)),
        Column("SLSJ", String(20)),
        Column("GXSJ", DateTime, nullable=True),
    ).create(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _add(engine: Engine, key: int, updated: Any, *, as_text: bool = False) -> None:
    """One row; ``as_text`` stores ``updated`` verbatim, as another writer would on SQLite."""
    row = {
        "ID": key,
        "BJBH": f"BJ{key}",
        "SXBM": "X",
        "SQRMC": "张三",
        "SQRZJHM": "110101199003070019",
        "SLSJ": "2025-03-03T09:19:00",
    }
    with engine.begin() as conn:
        if as_text:
            conn.execute(
                text(
                    'INSERT INTO "BJ" ("ID", "BJBH", "SXBM", "SQRMC", "SQRZJHM", "SLSJ", "GXSJ") '
                    "VALUES (:ID, :BJBH, :SXBM, :SQRMC, :SQRZJHM, :SLSJ, :GXSJ)"
                ),
                {**row, "GXSJ": updated},
            )
        else:
            table = Table("BJ", MetaData(), autoload_with=conn)
            conn.execute(insert(table).values(**row, GXSJ=updated))


def _read(url: str, state: State | None) -> tuple[list[Envelope], State]:
    source = SqlSource.from_config(
        {
            "url": "env:DEPT_DB_URL",
            "streams": {"cases": {"table": "BJ", "mapping": MAPPING, "cursor": "GXSJ"}},
        },
        secrets=secrets_for(url),
    )
    return read_all(source, state)


def _keys(envelopes: list[Envelope]) -> list[int]:
    return [env.raw["ID"] for env in envelopes if env.ok]


@_SQLITE_ONLY
@pytest.mark.parametrize(
    "stored", ["2025-03-03 09:00:00", "2025-03-03T09:00:00", "2025-03-03 09:00:00.000000"]
)
def test_sqlite_text_in_any_form_is_neither_lost_nor_repeated_at_the_boundary(
    dept_url: str,  # noqa: F811
    dept: Engine,
    stored: str,
) -> None:
    for key in (1, 2, 3):
        _add(dept, key, stored, as_text=True)
    first, state = _read(dept_url, None)
    assert _keys(first) == [1, 2, 3]
    again, state = _read(dept_url, state)
    assert again == [], "rows at the boundary read again"
    for key in (4, 5, 6):
        _add(dept, key, stored, as_text=True)  # the same boundary time
    second, state = _read(dept_url, state)
    assert _keys(second) == [4, 5, 6], "rows sharing the boundary time lost"
    _add(dept, 7, "2025-03-03T10:00:00+08:00", as_text=True)  # 02:00 UTC: before 09:00
    _add(dept, 8, "2025-03-03 10:00", as_text=True)
    third, state = _read(dept_url, state)
    assert _keys(third) == [8]
    assert state == {"cursor": "2025-03-03T10:00:00", "tiebreaker": 8}


@_SQLITE_ONLY
def test_sqlite_offset_times_compare_as_instants(dept_url: str, dept: Engine) -> None:  # noqa: F811
    _add(dept, 1, "2025-03-03T09:00:00+08:00", as_text=True)
    first, state = _read(dept_url, None)
    assert _keys(first) == [1]
    _add(dept, 2, "2025-03-03 01:00:00", as_text=True)  # the same instant, UTC, no offset
    _add(dept, 3, "2025-03-02T20:00:01-05:00", as_text=True)  # one second later, a day back
    second, _ = _read(dept_url, state)
    assert _keys(second) == [2, 3]


def test_a_null_cursor_row_is_reported_on_every_read_not_lost(
    dept_url: str,  # noqa: F811
    dept: Engine,
) -> None:
    from datetime import datetime

    at = datetime(2025, 3, 3, 9)
    for key in (1, 2, 3):
        _add(dept, key, at)
    _add(dept, 9, None)  # already there on the first read
    first, state = _read(dept_url, None)
    assert _keys(first) == [1, 2, 3]
    assert state["tiebreaker"] == 3
    (reported,) = [env for env in first if not env.ok]
    assert reported.record is None and reported.raw["ID"] == 9
    (finding,) = reported.findings
    assert finding.rule == "mapping.missing"
    assert "ID=9" in finding.message and "cursor column GXSJ is NULL" in finding.message
    _add(dept, 4, None)  # added after the first read
    _add(dept, 5, datetime(2025, 3, 3, 11))
    second, state = _read(dept_url, state)
    assert _keys(second) == [5]
    assert sorted(env.raw["ID"] for env in second if not env.ok) == [4, 9]
    assert state["tiebreaker"] == 5
    with dept.begin() as conn:
        conn.execute(
            text('UPDATE "BJ" SET "GXSJ" = :at WHERE "ID" = 4'), {"at": "2025-03-03 12:00:00"}
        )
    third, _ = _read(dept_url, state)
    assert _keys(third) == [4]
    assert [env.raw["ID"] for env in third if not env.ok] == [9]


@_SQLITE_ONLY
def test_sqlite_text_that_is_not_a_date_time_is_reported(dept_url: str, dept: Engine) -> None:  # noqa: F811
    _add(dept, 1, "2025-03-03 09:00:00", as_text=True)
    _add(dept, 2, "2025/03/03 09:00", as_text=True)
    envelopes, state = _read(dept_url, None)
    assert _keys(envelopes) == [1]
    (reported,) = [env for env in envelopes if not env.ok]
    assert reported.raw["GXSJ"] == "2025/03/03 09:00"
    assert "'2025/03/03 09:00', which SQLite does not read" in reported.findings[0].message
    assert state["tiebreaker"] == 1
