"""The driver fast path of a ``sql`` read: the parent query on the DBAPI cursor itself.

SQLAlchemy still builds the statement (reflected tables, quoted names, bound values) and
compiles it for the dialect; only the execution and the fetching of rows move down to the
driver, so a page arrives as the driver's list of tuples instead of a Row per row through
SQLAlchemy's result machinery. That machinery costs more per row than the driver itself.

Only drivers whose behaviour is known take this path: psycopg (a named, server-side
cursor, as SQLAlchemy's ``stream_results`` opens) and the standard library's sqlite3
(whose cursor already steps through the result). Type processing stays exactly what
SQLAlchemy would do: each column's result processor (SQLite keeps date-times as text)
and each parameter's bind processor are looked up from the dialect and applied here;
psycopg needs none for the usual types. Any statement the compiled form cannot run as is
(expanding or literal-rendered parameters) goes the SQLAlchemy way.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect

# driver name (SQLAlchemy's dialect.driver) -> whether it needs a named cursor to stream
_DRIVERS = {"psycopg": True, "pysqlite": False}

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class DriverQuery:
    """A compiled statement the DBAPI cursor runs: SQL text, parameters, column handling."""

    sql: str
    params: dict[str, Any] | tuple[Any, ...]
    names: tuple[str, ...]
    processors: tuple[tuple[int, Processor], ...]  # (column position, result processor)
    named_cursor: bool


def compile_for_driver(dialect: Dialect, statement: Select[Any]) -> DriverQuery | None:
    """The statement as the driver runs it, or None when it must go through SQLAlchemy."""
    named_cursor = _DRIVERS.get(dialect.driver)
    if named_cursor is None:
        return None
    compiled = statement.compile(dialect=dialect)
    if compiled.literal_execute_params or compiled.post_compile_params:
        return None
    params = compiled.construct_params()
    for name, bind in compiled.binds.items():
        if name not in params:
            return None
        bind_processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if bind_processor is not None and params[name] is not None:
            params[name] = bind_processor(params[name])
    driver_params: dict[str, Any] | tuple[Any, ...] = params
    if compiled.positional:
        assert compiled.positiontup is not None
        driver_params = tuple(params[name] for name in compiled.positiontup)
    names: list[str] = []
    processors: list[tuple[int, Processor]] = []
    for position, column in enumerate(statement.selected_columns):
        names.append(column.name)
        result_processor = column.type.dialect_impl(dialect).result_processor(dialect, None)
        if result_processor is not None:
            processors.append((position, result_processor))
    return DriverQuery(
        sql=str(compiled),
        params=driver_params,
        names=tuple(names),
        processors=tuple(processors),
        named_cursor=named_cursor,
    )


def driver_pages(conn: Connection, query: DriverQuery, page_size: int) -> Iterator[list[Any]]:
    """Pages of rows (tuples, processed as SQLAlchemy would) from the driver's cursor.

    The cursor belongs to the connection's current transaction, so it reads the same
    snapshot (REPEATABLE READ, read-only on PostgreSQL) as the child queries.
    """
    if not conn.in_transaction():
        conn.begin()
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    if query.named_cursor:
        cursor = dbapi.cursor(name=f"tongyuan_read_{uuid.uuid4().hex[:12]}")  # type: ignore[call-arg]
        cursor.itersize = page_size
    else:
        cursor = dbapi.cursor()
    try:
        cursor.execute(query.sql, query.params)
        processors = query.processors
        while page := cursor.fetchmany(page_size):
            if processors:
                page = [_processed(row, processors) for row in page]
            yield page
    finally:
        cursor.close()


def _processed(row: Any, processors: tuple[tuple[int, Processor], ...]) -> tuple[Any, ...]:
    values = list(row)
    for position, process in processors:
        values[position] = process(values[position])
    return tuple(values)


__all__ = ["DriverQuery", "compile_for_driver", "driver_pages"]
