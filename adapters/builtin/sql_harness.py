"""The conformance harness of the ``sql`` source: drives a department-shaped test database.

It creates the department schema of :mod:`adapters.builtin.sql_department` under the
table names the source is configured with, and adds, changes and bulk-loads rows there
(bulk through ``COPY`` on PostgreSQL). It refuses to touch a table whose columns are not
that schema's — pointed by mistake at a real department database, it will not empty it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Table, delete, func, insert, inspect, select, update

from adapters.builtin.sql_department import (
    CASE_COLUMNS,
    CLOCK_START,
    CST,
    EVENT_COLUMNS,
    SOURCE_SYSTEM,
    case_no,
    case_rows,
    copy_lines,
    department_tables,
)
from adapters.conformance.harness import Harness
from adapters.sdk.errors import AdapterError

_TICK = timedelta(seconds=1)
_COPY_CHUNK = 50_000
_INSERT_CHUNK = 5_000


class SqlHarness(Harness):
    """Adds, changes and bulk-loads rows in the department tables of one ``sql`` stream."""

    def __init__(
        self,
        engine: Engine,
        *,
        stream: str = "cases",
        cases_table: str = "cases",
        events_table: str = "case_events",
        schema: str | None = None,
    ) -> None:
        self.stream = stream
        self.engine = engine
        self.cases, self.events = department_tables(cases_table, events_table, schema)
        self._guard_and_create()
        self._clock = CLOCK_START
        self._next_id = self._max_id() + 1
        self._changes = 0

    # --- set-up ----------------------------------------------------------------------

    def _guard_and_create(self) -> None:
        insp = inspect(self.engine)
        for table, expected in ((self.cases, CASE_COLUMNS), (self.events, EVENT_COLUMNS)):
            if insp.has_table(table.name, schema=table.schema):
                found = {c["name"] for c in insp.get_columns(table.name, schema=table.schema)}
                if found != set(expected):
                    raise AdapterError(
                        f"table {table.fullname} exists and is not the harness's test table "
                        f"(columns {', '.join(sorted(found))}); the sql harness only drives "
                        f"its own department-shaped test schema"
                    )
        self.cases.metadata.create_all(self.engine)

    def _max_id(self) -> int:
        with self.engine.connect() as conn:
            top = conn.execute(select(func.coalesce(func.max(self.cases.c.ID), 0))).scalar_one()
        return int(top)

    def _stored(self, value: datetime) -> datetime:
        """A cursor value as the column stores it: SQLite keeps naive wall-clock text."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=CST)
        if self.engine.dialect.name == "sqlite":
            return value.astimezone(CST).replace(tzinfo=None)
        return value

    def _tick(self) -> datetime:
        self._clock += _TICK
        return self._clock

    # --- the protocol ---------------------------------------------------------------

    def reset(self) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(self.events))
            conn.execute(delete(self.cases))
        self._clock = CLOCK_START
        self._next_id = 1

    def add(self, n: int, *, cursor_value: Any | None = None, bad: int = 0) -> list[tuple]:
        shared = self._as_datetime(cursor_value) if cursor_value is not None else None
        if shared is not None and shared > self._clock:
            self._clock = shared
        cases: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        keys: list[tuple] = []
        # Bad rows are spread among the good ones, so a source cannot pass by stopping early.
        total = n + bad
        bad_at = {(i + 1) * total // (bad + 1) for i in range(bad)}
        for position in range(total):
            is_bad = position in bad_at
            case_id = self._next_id
            self._next_id += 1
            when = shared if shared is not None else self._tick()
            case, rows = case_rows(case_id, self._stored(when), bad=is_bad)
            cases.append(case)
            events += rows
            if not is_bad:
                keys.append((SOURCE_SYSTEM, case["CASE_NO"]))
        self._insert(cases, events)
        return keys

    def change(self, keys: list[tuple]) -> None:
        """A new phone number and a later ``updated_at`` for each case."""
        with self.engine.begin() as conn:
            for key in keys:
                number = key[-1]
                self._changes += 1
                done = conn.execute(
                    update(self.cases)
                    .where(self.cases.c["CASE_NO"] == number)
                    .values(
                        SQR_DH=f"0755{self._changes:08d}", updated_at=self._stored(self._tick())
                    )
                )
                if done.rowcount != 1:
                    raise AdapterError(f"no case row numbered {number!r} to change")

    def add_bulk(self, n: int) -> None:
        first = self._next_id
        self._next_id += n
        start = self._clock + _TICK
        self._clock = start + _TICK * (n - 1)
        if self.engine.dialect.name == "postgresql":
            self._copy(first, n, start)
            return
        for offset in range(0, n, _INSERT_CHUNK):
            cases: list[dict[str, Any]] = []
            events: list[dict[str, Any]] = []
            for k in range(offset, min(n, offset + _INSERT_CHUNK)):
                case, rows = case_rows(first + k, self._stored(start + _TICK * k), decided=False)
                cases.append(case)
                events += rows
            self._insert(cases, events)

    def close(self) -> None:
        self.engine.dispose()

    # --- helpers --------------------------------------------------------------------

    @staticmethod
    def _as_datetime(value: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            return datetime.fromisoformat(value)
        if isinstance(value, int | float):
            return datetime.fromtimestamp(value, CST)
        raise AdapterError(f"cursor value {value!r} is not a time the harness can store")

    def _insert(self, cases: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            if cases:
                conn.execute(insert(self.cases), cases)
            if events:
                conn.execute(insert(self.events), events)

    def _copy(self, first: int, n: int, start: datetime) -> None:
        """COPY in chunks: generated text, no per-row round trips."""
        from psycopg import sql

        raw = self.engine.raw_connection()
        try:
            pg = raw.driver_connection
            assert pg is not None
            with pg.cursor() as cur:
                for offset in range(0, n, _COPY_CHUNK):
                    count = min(_COPY_CHUNK, n - offset)
                    case_text, event_text = copy_lines(
                        first + offset, count, start + _TICK * offset, _TICK
                    )
                    for table, text in ((self.cases, case_text), (self.events, event_text)):
                        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                            _qualified(table),
                            sql.SQL(", ").join(sql.Identifier(c.name) for c in table.c),
                        )
                        with cur.copy(statement) as copy:
                            copy.write(text)
            raw.commit()
            # A live department database has planner statistics; fresh COPY data has none,
            # and without them the per-page child query may scan the whole event table.
            with pg.cursor() as cur:
                for table in (self.cases, self.events):
                    cur.execute(sql.SQL("ANALYZE {}").format(_qualified(table)))
            raw.commit()
        finally:
            raw.close()


def _qualified(table: Table) -> Any:
    from psycopg import sql

    if table.schema:
        return sql.Identifier(table.schema, table.name)
    return sql.Identifier(table.name)


def case_key(case_id: int) -> tuple[str, str]:
    """The standard primary key of a harness case row."""
    return (SOURCE_SYSTEM, case_no(case_id))


__all__ = ["SqlHarness", "case_key"]
