"""The SQL the ``sql`` source runs, built from reflected tables — never from strings.

Incremental reads follow a *composite* cursor: the cursor column (updated-at or a
monotonic id) plus a tie-breaker (the primary key). Rows are read in ``(cursor, key)``
order and the next read starts strictly after the last row yielded::

    WHERE (c, pk) > (:c, :pk) ORDER BY c, pk          -- row values, where supported
    WHERE c > :c OR (c = :c AND pk > :pk) ...          -- the same, spelled out

so many rows sharing the boundary timestamp are neither read twice (``c >= :c``) nor
lost (``c > :c``). Table and column objects come from reflection, so SQLAlchemy quotes
every name; every value is a bound parameter.

SQLite has no date-time type: a ``DATETIME`` column holds whatever text each writer
stored (``2025-03-03 09:00:00``, ``2025-03-03T09:00:00``, SQLAlchemy's
``2025-03-03 09:00:00.000000``, an offset or none), and compares it as text, so a bound
value in one form is not ordered against rows in another. There the cursor is compared
and ordered on SQLite's own normalisation of both sides, ``strftime('%Y-%m-%d
%H:%M:%f', c)`` (UTC when the text carries an offset, milliseconds); see
:meth:`ReadPlan.cursor_key`.

A row whose cursor has no place in that order (NULL, or on SQLite text that is not a
date-time) can never be "after" a stored position: it is not silently skipped but read
by :meth:`ReadPlan.unplaced` on every read and reported (``sql_read``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    MetaData,
    Select,
    String,
    Table,
    and_,
    any_,
    bindparam,
    func,
    inspect,
    literal_column,
    not_,
    or_,
    select,
    true,
    tuple_,
    type_coerce,
    types,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import NoSuchTableError

from adapters.builtin.sql_config import ChildConfig, StreamConfig
from adapters.sdk.errors import AdapterError
from standards.privacy import mask_text

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


# --- SQLite date-times ------------------------------------------------------------------

# SQLite's normalised text of a date-time or date column (what the cursor compares on).
_SQLITE_FORMATS: tuple[tuple[type[types.TypeEngine[Any]], str], ...] = (
    (types.DateTime, "%Y-%m-%d %H:%M:%f"),
    (types.Date, "%Y-%m-%d"),
)


def sqlite_time_format(dialect: str, column: Column[Any]) -> str | None:
    """The ``strftime`` format the cursor is normalised with, or None to compare it as is.

    Only SQLite needs it: its ``DATETIME``/``DATE`` columns are text in whatever form each
    writer chose. Normalising on the database keeps one comparison for both sides (a row's
    text and the bound state value), whatever the forms are; an index on the bare column
    still serves the coarse ``>=`` range :meth:`ReadPlan.after` adds in front of it.
    """
    if dialect != "sqlite":
        return None
    for type_, fmt in _SQLITE_FORMATS:
        if isinstance(column.type, type_):
            return fmt
    return None


def _sqlite_text(value: Any) -> Any:
    """A state value as text SQLite's date functions read: ISO 8601, offset kept."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _sqlite_floor(value: Any) -> str | None:
    """A text lower bound of every stored form at or after ``value``: the day before, in UTC.

    Every form SQLite reads as a date-time starts with ``YYYY-MM-DD`` in the writer's own
    time zone, at most a day away from the UTC day SQLite compares on, so a row at or after
    ``value`` sorts (as text) at or after the day before ``value``'s UTC day.
    """
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        day = value.date()
    elif isinstance(value, date):
        day = value
    else:
        return None
    return (day - timedelta(days=1)).isoformat()


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
    # SQLite: the strftime format the cursor column is normalised with (see cursor_key)
    time_format: str | None = None
    # whether the cursor column may hold NULL (the reflected schema says so)
    nullable_cursor: bool = False

    @property
    def order_columns(self) -> list[Column[Any]]:
        return [self.columns[name] for name in self.order]

    def cursor_key(self, expression: ColumnElement[Any]) -> ColumnElement[Any]:
        """The cursor column (or a bound value) as the read compares and orders it.

        On SQLite a date-time cursor is ``strftime(format, c)``: the same normalisation of
        the row's text and of the bound value, so ``2025-03-03T09:00:00`` and
        ``2025-03-03 09:00:00.000000`` are one instant. It is not sargable; the ``>=``
        range on the bare column that :meth:`after` adds keeps an index on it useful (an
        index on the expression itself, ``CREATE INDEX … ON t(strftime('%Y-%m-%d
        %H:%M:%f', c), id)``, serves the whole query).
        """
        if self.time_format is None:
            return expression
        # The format is our constant, written into the SQL: a bound format would give the
        # function an anonymous parameter the driver fast path cannot pass through.
        return func.strftime(literal_column(f"'{self.time_format}'"), expression)

    @property
    def order_keys(self) -> list[ColumnElement[Any]]:
        """What rows are ordered by: the (normalised) cursor, then the tie-breakers."""
        keys: list[ColumnElement[Any]] = list(self.order_columns)
        if self.cursor is not None:
            keys[0] = self.cursor_key(keys[0])
        return keys

    def placed(self) -> ColumnElement[bool] | None:
        """Rows whose cursor has a place in the order (None: every row has one).

        NULL never compares, and on SQLite a value that is not text, or text its date
        functions cannot read, normalises to nothing; such rows are read by
        :meth:`unplaced` instead.
        """
        if self.cursor is None:
            return None
        column = self.columns[self.cursor]
        if self.time_format is not None:
            is_text = func.typeof(column) == literal_column("'text'")
            return and_(is_text, self.cursor_key(column).is_not(None))
        if self.nullable_cursor:
            return column.is_not(None)
        return None

    def unplaced(self) -> Select[Any] | None:
        """The rows :meth:`placed` leaves out, in tie-breaker order; None when there are none.

        Their cursor column comes back as the database holds it (as text on SQLite), so a
        value the dialect cannot parse still reaches the report instead of failing the read.
        """
        placed = self.placed()
        if placed is None:
            return None
        assert self.cursor is not None
        labelled = [
            (type_coerce(col, String) if name == self.cursor else col).label(name)
            for name, col in self.columns.items()
        ]
        ties = [self.columns[name] for name in self.tiebreaker]
        return select(*labelled).where(not_(placed)).order_by(*ties)

    def unplaced_reason(self, row: dict[str, Any]) -> str:
        """Why a row of :meth:`unplaced` is reported: the row, the cursor column, its value."""
        assert self.cursor is not None
        key = ", ".join(f"{name}={row.get(name)!r}" for name in self.tiebreaker)
        value = row.get(self.cursor)
        if value is None:
            held = "is NULL"
        else:
            held = f"holds {value!r}, which SQLite does not read as a date-time"
        return mask_text(
            f"row {key}: cursor column {self.cursor} {held}, so the row has no place in "
            f"the incremental order; it is not loaded, and is reported on every read "
            f"until the column holds a value"
        )

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
        cols = self.order_keys
        params: list[ColumnElement[Any]] = [
            bindparam(f"after_{i}", value, type_=col.type)
            for i, (col, value) in enumerate(zip(self.order_columns, values, strict=True))
        ]
        floor: ColumnElement[bool] = true()
        if self.time_format is not None:
            # Bound as ISO text (offset kept) and normalised by SQLite like the rows: the
            # dialect's own DATETIME format would drop the offset and add ".000000".
            params[0] = self.cursor_key(bindparam("after_0", _sqlite_text(values[0]), String()))
            lowest = _sqlite_floor(values[0])
            if lowest is not None:
                floor = self.order_columns[0] >= bindparam("after_floor", lowest, String())
        if len(cols) == 1:
            condition = cols[0] > params[0]
        elif self.row_values:
            condition = tuple_(*cols) > tuple_(*params)
        else:
            # (c1 > v1) OR (c1 = v1 AND c2 > v2) OR (c1 = v1 AND c2 = v2 AND c3 > v3) ...
            terms = [
                and_(
                    *[c == p for c, p in zip(cols[:i], params[:i], strict=True)],
                    cols[i] > params[i],
                )
                for i in range(len(cols))
            ]
            condition = or_(*terms)
        return condition if self.time_format is None else and_(floor, condition)

    def select(self, start_after: list[Any] | None) -> Select[Any]:
        """The rows after ``start_after`` (all rows when None) whose cursor has a place."""
        stmt = select(*[col.label(name) for name, col in self.columns.items()])
        placed = self.placed()
        if placed is not None and (start_after is None or self.time_format is not None):
            # After a position NULL never compares greater; only the first read needs it.
            stmt = stmt.where(placed)
        if start_after is not None:
            stmt = stmt.where(self.after(start_after))
        return stmt.order_by(*self.order_keys)


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
    cursor_column = resolved[stream.cursor] if stream.cursor else None
    return ReadPlan(
        table=table,
        columns=resolved,
        cursor=stream.cursor,
        order=order,
        children=children,
        row_values=conn.dialect.name in ROW_VALUE_DIALECTS,
        time_format=(
            sqlite_time_format(conn.dialect.name, cursor_column)
            if cursor_column is not None
            else None
        ),
        nullable_cursor=bool(cursor_column is not None and cursor_column.nullable),
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
    "sqlite_time_format",
    "to_json_value",
]
