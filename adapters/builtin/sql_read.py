"""One read of one ``sql`` stream: a server-side cursor, a page of parents at a time.

Parents are streamed through a server-side cursor (a named cursor on PostgreSQL), so
memory does not grow with the table: on psycopg and sqlite3 the compiled statement runs on
the driver's own cursor (:mod:`adapters.builtin.sql_driver`), elsewhere through
SQLAlchemy's ``stream_results`` + ``yield_per``. For each page the child rows of all
its parents are fetched with one ``IN (…)`` query and attached under the child's name.
The state is computed from the last row *yielded*, so a read stopped half-way resumes
exactly after what the hub received.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, Select

from adapters.builtin.sql_driver import compile_for_driver, driver_pages
from adapters.builtin.sql_query import ChildPlan, ReadPlan
from adapters.sdk.envelope import Envelope
from adapters.sdk.errors import AdapterError
from adapters.sdk.source import State, StreamRead
from standards.records import SourceLocation, StandardRecord
from standards.validation import Finding


class RowMapper(Protocol):
    """What the read needs of a mapping (``adapters.mapping.Mapping`` is one)."""

    def map(
        self, row: dict[str, Any], location: SourceLocation
    ) -> tuple[StandardRecord | None, list[Finding]]: ...


def open_read_connection(engine: Engine) -> Connection:
    """A connection for reading: read-only and one snapshot on PostgreSQL.

    REPEATABLE READ makes the child queries see the same snapshot as the parent cursor;
    READ ONLY makes the database itself refuse any write the adapter might be tricked
    into sending.
    """
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return conn


class SqlStreamRead(StreamRead):
    """Iterate once for envelopes; ``state()`` says where the next read starts."""

    def __init__(
        self,
        *,
        stream: str,
        engine: Engine,
        plan_for: Callable[[Connection], ReadPlan],
        mapping: RowMapper,
        state: State | None,
        page_size: int,
        location_name: str,
    ) -> None:
        self.stream = stream
        self._engine = engine
        self._plan_for = plan_for
        self._mapping = mapping
        self._start_state: State = dict(state or {})
        self._page_size = page_size
        self._where = location_name
        self._plan: ReadPlan | None = None
        self._last_row: dict[str, Any] | None = None
        self._conn: Connection | None = None
        self._gen: Iterator[Envelope] | None = None
        self.rows_read = 0

    def __iter__(self) -> Iterator[Envelope]:
        if self._gen is not None:
            raise AdapterError("a StreamRead is iterated once; start a new read() for more")
        self._gen = self._generate()
        return self._gen

    def state(self) -> State:
        if self._last_row is None or self._plan is None:
            return dict(self._start_state)
        return self._plan.encode_state(self._last_row)

    def close(self) -> None:
        if self._gen is not None:
            self._gen.close()  # type: ignore[attr-defined]
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _generate(self) -> Iterator[Envelope]:
        conn = self._conn = open_read_connection(self._engine)
        finish: Callable[[], None] | None = None
        try:
            plan = self._plan = self._plan_for(conn)
            start_after = plan.decode_state(self._start_state)
            n = 0
            mapper = self._mapping.map
            stream, where = self.stream, self._where
            unplaced = plan.unplaced()
            if unplaced is not None:
                # Rows whose cursor is NULL (or, on SQLite, not a date-time) can never come
                # after a stored position: they are reported on every read instead of being
                # lost, and never move the state.
                names, pages, finish = self._pages(conn, unplaced)
                for page in pages:
                    for row in self._rows(conn, plan, names, page):
                        n += 1
                        location = SourceLocation(where, n)
                        _, findings = mapper(row, location)
                        reason = Finding("mapping.missing", plan.unplaced_reason(row))
                        self.rows_read = n
                        yield Envelope(stream, location, row, None, [reason, *findings])
                finish()
                finish = None
            names, pages, finish = self._pages(conn, plan.select(start_after))
            cursor = plan.cursor
            for page in pages:
                for row in self._rows(conn, plan, names, page):
                    n += 1
                    location = SourceLocation(where, n)
                    record, findings = mapper(row, location)
                    if cursor is not None:
                        self._last_row = row
                    self.rows_read = n
                    yield Envelope(stream, location, row, record, findings)
        except BaseException:
            if finish is not None:
                # Stopped early or failed: closing the connection ends the cursor anyway,
                # and an error closing it must not hide why the read stopped.
                with suppress(Exception):
                    finish()
            raise
        else:
            if finish is not None:
                finish()  # the cursor first, while its connection is still open
        finally:
            conn.close()
            self._conn = None

    def _pages(
        self, conn: Connection, statement: Select[Any]
    ) -> tuple[Sequence[str], Iterator[Sequence[Any]], Callable[[], None]]:
        """The column names, the pages of rows and how to close the cursor early."""
        query = compile_for_driver(conn.dialect, statement)
        if query is not None:
            pages = driver_pages(conn, query, self._page_size)
            return query.names, pages, pages.close  # type: ignore[attr-defined]
        # Per statement: the child queries on this connection are ordinary fetches.
        result = conn.execute(
            statement,
            execution_options={"stream_results": True, "yield_per": self._page_size},
        )
        return list(result.keys()), result.partitions(), result.close

    @classmethod
    def _rows(
        cls, conn: Connection, plan: ReadPlan, names: Sequence[str], page: Sequence[Any]
    ) -> list[dict[str, Any]]:
        """A page's rows as dicts, each with its child rows attached."""
        # zip without strict=: the keyword costs more than the dict (same statement's
        # columns, so the lengths agree)
        rows = [dict(zip(names, values)) for values in page]  # noqa: B905
        for child in plan.children:
            cls._attach(conn, child, rows)
        return rows

    @staticmethod
    def _attach(conn: Connection, child: ChildPlan, rows: list[dict[str, Any]]) -> None:
        """Fetch the children of a whole page with one query and hang them on their parents."""
        key = child.parent_key
        groups: dict[Any, list[dict[str, Any]]] = {row[key]: [] for row in rows}
        if groups:
            names = list(child.columns)
            at = child.key_index
            for values in child.fetch(conn, list(groups)):
                groups[values[at]].append(dict(zip(names, values)))  # noqa: B905
        name = child.name
        for row in rows:
            row[name] = groups[row[key]]


__all__ = ["RowMapper", "SqlStreamRead", "open_read_connection"]
