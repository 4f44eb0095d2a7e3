"""SQL injection through configuration and through values changes nothing.

Configured names are refused before any connection (test_sql_config.py covers every
place a name can be given); here a refused configuration is shown to leave the database
untouched, hostile *values* in rows and in stored state travel as data, and on
PostgreSQL the read transaction itself is read-only.
"""

from __future__ import annotations

import pytest
from sql_fixtures import (  # noqa: F401 - fixtures
    URL_REF,
    dept_url,
    harness,
    make_source,
    pg_dept_url,
    read_all,
    secrets_for,
    table_counts,
)
from sqlalchemy import create_engine, text, update

from adapters.builtin.sql import SqlSource
from adapters.builtin.sql_department import department_config
from adapters.builtin.sql_harness import SqlHarness
from adapters.builtin.sql_read import open_read_connection
from adapters.sdk.errors import AdapterError, ConfigError

HOSTILE_CASE_NO = "'; DROP TABLE cases; --"
HOSTILE_NAME = "Robert'); DELETE FROM case_events WHERE ('1'='1"


def test_hostile_configuration_never_reaches_the_database(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    harness.add(5)
    before = table_counts(dept_url)
    for stream in (
        {"table": "cases; DROP TABLE case_events"},
        {"cursor": "updated_at) OR 1=1 --"},
        {"children": {"events": {"table": "case_events", "key": "CASE_ID; DELETE FROM cases"}}},
    ):
        config = department_config(URL_REF)
        config["streams"]["cases"].update(stream)
        with pytest.raises(ConfigError, match="not a plain SQL identifier"):
            SqlSource.from_config(config, secrets=secrets_for(dept_url)).check()
    assert table_counts(dept_url) == before == {"cases": 5, "case_events": 20}


def test_hostile_values_are_just_data(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    keys = harness.add(3)
    engine = create_engine(dept_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(harness.cases)
                .where(harness.cases.c["CASE_NO"] == keys[1][1])
                .values(CASE_NO=HOSTILE_CASE_NO, SQR_MC=HOSTILE_NAME)
            )
    finally:
        engine.dispose()
    before = table_counts(dept_url)
    envelopes, _ = read_all(make_source(dept_url))
    assert [e.ok for e in envelopes] == [True, True, True]
    record = envelopes[1].record
    assert record is not None
    assert record.dept_case_no == HOSTILE_CASE_NO  # type: ignore[attr-defined]
    assert record.applicant.name == HOSTILE_NAME  # type: ignore[attr-defined]
    # …and as the state's cursor value it is a bound parameter of the next read.
    by_number = make_source(dept_url, cursor="CASE_NO")
    with by_number.read("cases") as first:
        assert next(iter(first)).raw["CASE_NO"] == HOSTILE_CASE_NO  # "'" sorts before "S"
        hostile_state = first.state()
    assert hostile_state == {"cursor": HOSTILE_CASE_NO, "tiebreaker": 2}
    rest, _ = read_all(make_source(dept_url, cursor="CASE_NO"), hostile_state)
    assert [e.raw["CASE_NO"] for e in rest] == [keys[0][1], keys[2][1]]
    assert table_counts(dept_url) == before == {"cases": 3, "case_events": 12}


def test_hostile_state_values_are_refused_or_bound(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    harness.add(4)
    before = table_counts(dept_url)
    for state in (
        {"cursor": "2025-01-01'; DROP TABLE cases; --", "tiebreaker": 1},
        {"cursor": "2025-01-01T00:00:00", "tiebreaker": "1 OR 1=1"},
    ):
        with pytest.raises(AdapterError, match="does not fit column"):
            read_all(make_source(dept_url), state)
    # A text cursor column compares the hostile value as text: nothing matches, nothing runs.
    source = make_source(dept_url, cursor="CASE_NO")
    envelopes, _ = read_all(source, {"cursor": "zzz' OR '1'='1", "tiebreaker": 0})
    assert envelopes == []
    assert table_counts(dept_url) == before


@pytest.mark.postgres
def test_reads_run_in_a_read_only_transaction(pg_dept_url: str) -> None:  # noqa: F811
    source = make_source(pg_dept_url)
    SqlHarness(source.engine).reset()
    with (
        open_read_connection(source.engine) as conn,
        pytest.raises(Exception, match="read-only transaction"),
    ):
        conn.execute(text('DELETE FROM "cases"'))
    source.dispose()
