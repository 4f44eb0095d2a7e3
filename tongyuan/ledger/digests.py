"""Row digests: what the ledger remembers of each library row, recomputable from the row.

A digest is the sha256 of the row's columns as stored (null columns left out), so the
same function serves the append (reading the rows the batch wrote) and the offline
verification (reading the rows as they are now). Leaving nulls out keeps old digests
valid when a migration adds a nullable column.

Some columns are excluded on purpose: they are workflow state that legitimately changes
outside any batch (a license's verification result, a quarantine entry's replay status).
Workflow tables (claims, reviews) are not covered at all for the same reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ColumnElement, Connection, Select, Table, Text, cast, select

from tongyuan.libraries.base import Base, canonical_json, to_utc

DELETED = "deleted"
# Column names per table, computed once (the metadata does not change at run time).
_DIGESTED: dict[str, tuple[str, ...]] = {}
_KEYS: dict[str, tuple[str, ...]] = {}


@dataclass(frozen=True, slots=True)
class CoveredTable:
    """A library table whose rows the ledger vouches for."""

    kind: str
    table_name: str
    excluded: frozenset[str] = frozenset()
    # Covered only since entries are signed (revision 0011): rows of batches whose
    # entries are unsigned legacy entries were never recorded, and are not required to be.
    since_signed: bool = False

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.table_name]

    @property
    def key_columns(self) -> tuple[str, ...]:
        names = _KEYS.get(self.table_name)
        if names is None:
            names = tuple(column.name for column in self.table.primary_key.columns)
            _KEYS[self.table_name] = names
        return names

    def key_of(self, row: Mapping[str, Any]) -> str:
        """The row's primary key as text: the value itself, or a JSON list when composite."""
        values = [row[name] for name in self.key_columns]
        if len(values) == 1:
            return str(values[0])
        return canonical_json([_plain(v) for v in values])

    def select(self) -> Select[Any]:
        """The row as the ledger digests it: JSON columns as their stored text.

        Digesting the stored text spares parsing and re-serialising every document (the
        bulk of the cost), and PostgreSQL's ``jsonb::text`` is already normalised.
        """
        return select(
            *(
                cast(column, Text).label(column.name) if isinstance(column.type, JSON) else column
                for column in self.table.columns
            )
        )

    def digested_columns(self) -> tuple[str, ...]:
        """The columns a digest covers, in code-point order of their names."""
        names = _DIGESTED.get(self.table_name)
        if names is None:
            names = tuple(sorted(c.name for c in self.table.columns if c.name not in self.excluded))
            _DIGESTED[self.table_name] = names
        return names

    def digest_of(self, row: Mapping[str, Any]) -> str:
        """sha256 over ``table LF`` then ``name TAB len TAB text LF`` per non-null column.

        Length-prefixed text instead of JSON: no escaping of long documents, and no value
        can pass for another.
        """
        parts = [self.table_name, "\n"]
        for name in self.digested_columns():
            value = row[name]
            if value is None:
                continue
            text = value if type(value) is str else _text(value)
            parts.append(f"{name}\t{len(text)}\t{text}\n")
        return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


COVERED: tuple[CoveredTable, ...] = (
    CoveredTable("item_version", "item_versions"),
    CoveredTable("case", "cases"),
    CoveredTable("case_event", "case_events"),
    CoveredTable("material", "materials"),
    CoveredTable("license", "licenses", frozenset({"verified_at", "indication", "subindication"})),
    CoveredTable(
        "quarantine",
        "quarantine",
        frozenset({"status", "replay_count", "updated_at", "resolved_batch_id"}),
    ),
    CoveredTable("node_item", "node_items"),
    CoveredTable("base_catalogue", "base_catalogue"),
    CoveredTable("consistency_finding", "consistency_findings"),
    CoveredTable("item_delivery", "item_deliveries"),
    CoveredTable("adapter_state", "adapter_states"),
    CoveredTable("quarantine_replay", "quarantine_replays", since_signed=True),
)
BY_TABLE: dict[str, CoveredTable] = {spec.table_name: spec for spec in COVERED}
BY_KIND: dict[str, CoveredTable] = {spec.kind: spec for spec in COVERED}


def _plain(value: Any) -> Any:
    """A JSON-safe form that is the same whichever backend returned the value."""
    if isinstance(value, datetime):
        return to_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


def _text(value: Any) -> str:
    """A column value as digest text, the same whichever backend returned it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, datetime):
        return to_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return canonical_json(value)  # a JSON value a driver returned parsed after all


class RecordsHasher:
    """Hashes records fed in (kind, key) code-point order, one at a time."""

    def __init__(self) -> None:
        self._digest = hashlib.sha256()
        self.count = 0

    def add(self, kind: str, key: str, row_digest: str) -> None:
        # The key goes last with its length: whatever characters it holds, one line
        # cannot be read as another.
        self._digest.update(f"{kind}\t{row_digest}\t{len(key)}\t{key}\n".encode())
        self.count += 1

    def result(self) -> tuple[str, int]:
        return self._digest.hexdigest(), self.count


def ordered_records_hash(records: Iterable[tuple[str, str, str]]) -> tuple[str, int]:
    """Hash and count of a batch's (kind, key, digest) records, given in (kind, key)
    code-point order (as :func:`stored_records` returns them)."""
    hasher = RecordsHasher()
    for kind, key, row_digest in records:
        hasher.add(kind, key, row_digest)
    return hasher.result()


def records_hash(records: Iterable[tuple[str, str, str]]) -> tuple[str, int]:
    """The same hash for records in any order (sorted here, in memory)."""
    return ordered_records_hash(sorted(records))


def code_point_order(connection: Connection, *columns: ColumnElement[str]) -> list[Any]:
    """ORDER BY terms that sort text by code point on every backend.

    PostgreSQL may sort text by locale; its "C" collation compares bytes, and UTF-8 bytes
    sort like code points. SQLite's default BINARY collation already does.
    """
    if connection.dialect.name == "postgresql":
        return [column.collate("C") for column in columns]
    return list(columns)


def stored_records(
    connection: Connection, batch_id: str | None = None
) -> Iterator[tuple[str, str, str]] | Iterator[Any]:
    """A batch's stored records in code-point order; every batch's (grouped, batch id
    first in each row) when ``batch_id`` is None."""
    table = Base.metadata.tables["ledger_records"]
    order = code_point_order(connection, table.c.kind, table.c.key)
    if batch_id is not None:
        statement = (
            select(table.c.kind, table.c.key, table.c.digest)
            .where(table.c.batch_id == batch_id)
            .order_by(*order)
            .execution_options(yield_per=10_000)
        )
        rows = connection.execute(statement)
        return ((row[0], row[1], row[2]) for row in rows)
    statement = (
        select(table.c.batch_id, table.c.kind, table.c.key, table.c.digest)
        .order_by(table.c.batch_id, *order)
        .execution_options(yield_per=10_000)
    )
    return iter(connection.execute(statement))
