"""The driver fast path of the ``sql`` source gives the rows SQLAlchemy would give.

On SQLite and on PostgreSQL, from the start and after a state (bound values go through
the dialect's bind processors: SQLite keeps date-times as text), the parent query run on
the driver's cursor yields the same values, types included, as SQLAlchemy's streamed
result; a dialect the fast path does not know goes the SQLAlchemy way.
"""

from __future__ import annotations

from typing import Any

from sql_fixtures import dept_url, harness, make_source, read_all  # noqa: F401 - fixtures
from sqlalchemy import select
from sqlalchemy.dialects import mysql

from adapters.builtin.sql_driver import compile_for_driver, driver_pages
from adapters.builtin.sql_harness import SqlHarness
from adapters.builtin.sql_read import open_read_connection


def _both_ways(source: Any, state: dict[str, Any] | None) -> tuple[list[Any], list[Any]]:
    with open_read_connection(source.engine) as conn:
        plan = source.plan(conn, "cases")
        statement = plan.select(plan.decode_state(state))
        query = compile_for_driver(conn.dialect, statement)
        assert query is not None, conn.dialect.driver
        assert list(query.names) == list(plan.columns)
        fast = [tuple(row) for page in driver_pages(conn, query, 7) for row in page]
        result = conn.execute(statement, execution_options={"stream_results": True})
        slow = [tuple(row) for row in result]
        result.close()
    return fast, slow


def test_driver_rows_equal_sqlalchemy_rows(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    harness.add(20)
    harness.add(5, bad=2)
    source = make_source(dept_url)
    fast, slow = _both_ways(source, None)
    assert len(fast) == 27
    assert fast == slow
    assert [[type(v) for v in row] for row in fast] == [[type(v) for v in row] for row in slow]
    # resume after the tenth row: the state's values are bound through the dialect
    _, state = read_all(source)
    with source.read("cases") as stream_read:
        for n, _env in enumerate(stream_read, 1):
            if n == 10:
                state = stream_read.state()
                break
    fast, slow = _both_ways(source, state)
    assert len(fast) == 17
    assert fast == slow
    source.dispose()


def test_unknown_drivers_take_the_sqlalchemy_path(
    dept_url: str,  # noqa: F811
    harness: SqlHarness,  # noqa: F811
) -> None:
    source = make_source(dept_url)
    with open_read_connection(source.engine) as conn:
        plan = source.plan(conn, "cases")
    statement = select(*plan.columns.values())
    assert compile_for_driver(mysql.dialect(), statement) is None  # type: ignore[no-untyped-call]
    source.dispose()
