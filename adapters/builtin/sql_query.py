"""The SQL the ``sql`` source runs, built from reflected tables — never from strings.

Incremental reads follow a *composite* cursor: the cursor column (updated-at or a
monotonic id) plus a tie-breaker (the primary key). Rows are read in ``(cursor, key)``
order and the next read starts strictly after the last row yielded::

    WHERE (c, pk) > (:c, :pk) ORDER BY c, pk          -- row values, where supported
    WHERE c > :c OR (c = :c AND pk > :pk) ...          -- the same, spelled out

so many rows sharing the boundary timestamp are neither read twice (``c >= :c``) nor
lost (``c > :c``). Table and column objects come from reflection, so SQLAlchemy quotes
every name; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    MetaData,
    Select,
    Table,
    and_,
    any_,
    bindparam,
    inspect,
    or_,
    select,
    tuple_,
    types,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import NoSuchTableError

from adapters.builtin.sql_config import ChildConfig, StreamConfig
from adapters.sdk.errors import AdapterError

# Dialects whose row-value comparison ``(a, b) > (x, y)`` is lexicographic and indexable.
ROW_VALUE_DIALECTS = frozenset({"postgresql", "sqlite", "mysql", "mariadb"})


class SchemaMismatch(AdapterError):
    """The database lacks a table or column the configuration or mapping needs."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = missing
        super().__init__("; ".join(missing))


def reflect_table(conn: Connection, name: str, schema: str | None) -> Table:
    """The table as the database has it; an unquoted name folded by the database still matches.

    PostgreSQL folds unquoted names to lower case, Oracle to upper case: a department's
    ``CASES`` may be stored as ``cases``. An exact match wins, then a unique
    case-insensitive one.
    """
    actual = name
    names = inspect(conn).get_table_names(schema=schema) + inspect(conn).get_view_names(
        schema=schema
    )
    if name not in names:
        folded = [n for n in names if n.lower() == name.lower()]
        if len(folded) != 1:
            where = f"{schema}.{name}" if schema else name
            raise SchemaMismatch([f"table {where} does not exist"])
        actual = folded[0]
    try:
        return Table(actual, MetaData(), schema=schema, autoload_with=conn)
    except NoSuchTableError:
        raise SchemaMismatch([f"table {name} does not exist"]) from None


def find_column(table: Table, name: str) -> Column[Any] | None:
    """A column by its configured name: exact, else the one case-insensitive match."""
    if name in table.c:
        return table.c[name]
    folded = [c for c in table.c if c.name.lower() == name.lower()]
    return folded[0] if len(folded) == 1 else None


def _columns(table: Table, names: Sequence[str], needed_by: str) -> dict[str, Column[Any]]:
    found: dict[str, Column[Any]] = {}
    missing: list[str] = []
    for name in names:
        column = find_column(table, name)
        if column is None:
            missing.append(f"table {table.fullname} has no column {name} (needed by {needed_by})")
        else:
            found[name] = column
    if missing:
        raise SchemaMismatch(missing)
    return found


def _primary_key(table: Table) -> list[str]:
    names = [c.name for c in table.primary_key.columns]
    if not names:
        raise SchemaMismatch(
            [
                f"table {table.fullname} has no primary key: set 'tiebreaker' to the "
                f"column(s) that identify a row"
            ]
        )
    return names


# --- state: cursor values to JSON and back ---------------------------------------------


def to_json_value(value: Any) -> Any:
    """A cursor value as JSON: times as ISO 8601, decimals and UUIDs as strings."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def from_json_value(value: Any, column: Column[Any]) -> Any:
    """Undo :func:`to_json_value` for this column's type, so the bound value compares right."""
    if value is None or not isinstance(value, str):
        return value
    type_ = column.type
    try:
        if isinstance(type_, types.DateTime):
            return datetime.fromisoformat(value)
        if isinstance(type_, types.Date):
            return date.fromisoformat(value)
        if isinstance(type_, types.Time):
            return time.fromisoformat(value)
        if isinstance(type_, types.Integer):
            return int(value)
        if isinstance(type_, types.Numeric):
            return Decimal(value)
        if isinstance(type_, types.Uuid):
            return UUID(value)
        if isinstance(type_, types.LargeBinary):
            return bytes.fromhex(value)
    except ValueError:
        raise AdapterError(
            f"stored state value {value!r} does not fit column {column.name} "
            f"({type_}); was the cursor column changed? Reset the stream's state to re-read it"
        ) from None
    return value


# --- the plan -----------------------------------------------------------------------------


@dataclass(slots=True)
class ChildPlan:
    """How to fetch one child row list for a page of parents.

    ``columns`` includes the key column under its configured name, whose position in a
    result row is ``key_index``. The statement is built once per read and executed per
    page with the page's parent keys as its one parameter.
    """

    name: str
    table: Table
    key: Column[Any]
    key_name: str
    parent_key: str  # label of the parent column in the parent row
    columns: dict[str, Column[Any]]
    order_by: list[Column[Any]]
    any_array: bool = False
    _statement: Select[Any] | None = None
    _driver_sql: str | None = None

    def fetch(self, conn: Connection, parent_keys: list[Any]) -> list[Any]:
        """The child rows of these parents, as tuples in ``columns`` order.

        On PostgreSQL, when no column needs SQLAlchemy's result processing (psycopg
        returns native types), the compiled statement runs on the driver's cursor: the
        same SQL and bound array parameter, without building a Row per child row.
        """
        if self._driver_sql is None and self.any_array:
            dialect = conn.dialect
            plain = dialect.paramstyle == "pyformat" and all(
                col.type.dialect_impl(dialect).result_processor(dialect, None) is None
                for col in self.columns.values()
            )
            self._driver_sql = str(self.statement.compile(dialect=dialect)) if plain else ""
        if self._driver_sql:
            keys: Any = parent_keys
            if set(map(type, parent_keys)) == {int}:
                # An array literal: psycopg adapts a list element by element in Python,
                # several times slower than this; the statement casts the text itself.
                keys = "{" + ",".join(map(str, parent_keys)) + "}"
            cursor = conn.connection.cursor()
            try:
                cursor.execute(self._driver_sql, {"parent_keys": keys})
                return list(cursor.fetchall())
            finally:
                cursor.close()
        return list(conn.execute(self.statement, {"parent_keys": parent_keys}).fetchall())

    @property
    def key_index(self) -> int:
        return list(self.columns).index(self.key_name)

    @property
    def statement(self) -> Select[Any]:
        """One ``IN (…)`` query for the children of a whole page of parents (``:parent_keys``)."""
        if self._statement is None:
            if self.any_array:
                # PostgreSQL: ``key = ANY(:keys)`` is IN with one array parameter, so the
                # statement text is the same for every page and is prepared once.
                keys = bindparam("parent_keys", type_=ARRAY(self.key.type))
                condition = self.key == any_(keys)
            else:
                condition = self.key.in_(bindparam("parent_keys", expanding=True))
            labelled = [col.label(name) for name, col in self.columns.items()]
            self._statement = select(*labelled).where(condition).order_by(self.key, *self.order_by)
        return self._statement


@dataclass(slots=True)
class ReadPlan:
    """The parent query and child queries of one stream, resolved against the database."""

    table: Table
    columns: dict[str, Column[Any]]  # row label → column
    cursor: str | None  # row label of the cursor column
    order: list[str]  # row labels of the composite cursor: cursor first, then tie-breakers
    children: list[ChildPlan] = field(default_factory=list)
    row_values: bool = True

    @property
    def order_columns(self) -> list[Column[Any]]:
        return [self.columns[name] for name in self.order]

    @property
    def tiebreaker(self) -> list[str]:
        return self.order[1:] if self.cursor is not None and len(self.order) > 1 else self.order

    def decode_state(self, state: dict[str, Any] | None) -> list[Any] | None:
        """The composite cursor values to start after, or None to read from the beginning."""
        if not state or self.cursor is None:
            return None
        if "cursor" not in state or "tiebreaker" not in state:
            raise AdapterError(
                f"state {state!r} is not a sql-source state: expected keys cursor and tiebreaker"
            )
        tie = state["tiebreaker"]
        tie_values = tie if isinstance(tie, list) else [tie]
        # When the cursor is the key itself (a monotonic id) there is nothing to break ties.
        raw = [state["cursor"]] if self.order == [self.cursor] else [state["cursor"], *tie_values]
        if len(raw) != len(self.order):
            raise AdapterError(
                f"state {state!r} does not match the cursor columns {', '.join(self.order)}"
            )
        return [from_json_value(v, c) for v, c in zip(raw, self.order_columns, strict=True)]

    def encode_state(self, row: dict[str, Any]) -> dict[str, Any]:
        """The state after ``row``: ``{"cursor": …, "tiebreaker": …}`` as JSON values."""
        assert self.cursor is not None
        tie = [to_json_value(row[name]) for name in self.tiebreaker]
        return {
            "cursor": to_json_value(row[self.cursor]),
            "tiebreaker": tie[0] if len(tie) == 1 else tie,
        }

    def after(self, values: list[Any]) -> ColumnElement[bool]:
        """Rows strictly after ``values`` in composite-cursor order."""
        cols = self.order_columns
        params = [
            bindparam(f"after_{i}", value, type_=col.type)
            for i, (col, value) in enumerate(zip(cols, values, strict=True))
        ]
        if len(cols) == 1:
            return cols[0] > params[0]
        if self.row_values:
            return tuple_(*cols) > tuple_(*params)
        # (c1 > v1) OR (c1 = v1 AND c2 > v2) OR (c1 = v1 AND c2 = v2 AND c3 > v3) ...
        terms = [
            and_(*[c == p for c, p in zip(cols[:i], params[:i], strict=True)], cols[i] > params[i])
            for i in range(len(cols))
        ]
        return or_(*terms)

    def select(self, start_after: list[Any] | None) -> Select[Any]:
        stmt = select(*[col.label(name) for name, col in self.columns.items()])
        if start_after is not None:
            stmt = stmt.where(self.after(start_after))
        return stmt.order_by(*self.order_columns)


def build_plan(
    conn: Connection,
    stream: StreamConfig,
    *,
    columns: set[str],
    child_columns: dict[str, set[str] | None],
    needed_by: str,
) -> ReadPlan:
    """Resolve a stream's configuration and mapping against the live schema.

    ``columns`` are the parent columns the mapping reads; ``child_columns`` the columns of
    each child row list (None: every column of the child table). Every name that is
    missing is reported at once, so one check run lists all of them.
    """
    missing: list[str] = []
    table = reflect_table(conn, stream.table, stream.schema_name)
    tiebreaker = stream.tiebreaker or _primary_key(table)
    order = [stream.cursor] if stream.cursor else []
    order += [name for name in tiebreaker if name not in order]
    wanted = sorted(columns) + [n for n in order if n not in columns]
    parent_keys = {child.parent_key or tiebreaker[0] for child in stream.children.values()}
    wanted += sorted(parent_keys - set(wanted))
    resolved: dict[str, Column[Any]] = {}
    try:
        resolved = _columns(table, wanted, needed_by)
    except SchemaMismatch as exc:
        missing += exc.missing
    children: list[ChildPlan] = []
    for name, child in stream.children.items():
        try:
            children.append(
                _child_plan(conn, name, child, child_columns.get(name), tiebreaker, needed_by)
            )
        except SchemaMismatch as exc:
            missing += exc.missing
    if missing:
        raise SchemaMismatch(missing)
    return ReadPlan(
        table=table,
        columns=resolved,
        cursor=stream.cursor,
        order=order,
        children=children,
        row_values=conn.dialect.name in ROW_VALUE_DIALECTS,
    )


def _child_plan(
    conn: Connection,
    name: str,
    child: ChildConfig,
    wanted: set[str] | None,
    tiebreaker: list[str],
    needed_by: str,
) -> ChildPlan:
    table = reflect_table(conn, child.table, child.schema_name)
    names = sorted(wanted) if wanted is not None else [c.name for c in table.c]
    # The key and ordering columns travel with each child row, so ``raw`` shows them.
    names += [n for n in [child.key, *child.order_by] if n not in names]
    found = _columns(table, names, f"child rows {name!r} of {needed_by}")
    return ChildPlan(
        name=name,
        table=table,
        key=found[child.key],
        key_name=child.key,
        parent_key=child.parent_key or tiebreaker[0],
        columns=found,
        order_by=[found[n] for n in child.order_by],
        any_array=conn.dialect.name == "postgresql",
    )


__all__ = [
    "ROW_VALUE_DIALECTS",
    "ChildPlan",
    "ReadPlan",
    "SchemaMismatch",
    "build_plan",
    "find_column",
    "from_json_value",
    "reflect_table",
    "to_json_value",
]
