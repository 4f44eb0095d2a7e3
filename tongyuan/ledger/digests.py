"""Row digests: what the ledger remembers of each library row, recomputable from the row.

A digest is the sha256 of the row's columns as stored (canonical JSON, null columns left
out), so the same function serves the append (reading the rows the batch wrote) and the
offline verification (reading the rows as they are now). Leaving nulls out keeps old
digests valid when a migration adds a nullable column.

Some columns are excluded on purpose: they are workflow state that legitimately changes
outside any batch (a license's verification result, a quarantine entry's replay status).
Workflow tables (claims, reviews) are not covered at all for the same reason.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table

from tongyuan.libraries.base import Base, canonical_json, to_utc

DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class CoveredTable:
    """A library table whose rows the ledger vouches for."""

    kind: str
    table_name: str
    excluded: frozenset[str] = frozenset()

    @property
    def table(self) -> Table:
        return Base.metadata.tables[self.table_name]

    @property
    def key_columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.table.primary_key.columns)

    def key_of(self, row: Mapping[str, Any]) -> str:
        """The row's primary key as text: the value itself, or a JSON list when composite."""
        values = [row[name] for name in self.key_columns]
        if len(values) == 1:
            return str(values[0])
        return canonical_json([_plain(v) for v in values])

    def digest_of(self, row: Mapping[str, Any]) -> str:
        doc = {
            name: _plain(value)
            for name, value in row.items()
            if value is not None and name not in self.excluded
        }
        return hashlib.sha256(
            canonical_json({"table": self.table_name, "row": doc}).encode("utf-8")
        ).hexdigest()


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


def records_hash(records: Iterable[tuple[str, str, str]]) -> tuple[str, int]:
    """Hash and count of a batch's (kind, key, digest) records, in code-point order.

    Sorted here rather than by the database: PostgreSQL may sort text by locale, and both
    sides (append and verification) must agree on bytes.
    """
    digest = hashlib.sha256()
    count = 0
    for kind, key, row_digest in sorted(records):
        digest.update(canonical_json([kind, key, row_digest]).encode("utf-8"))
        digest.update(b"\n")
        count += 1
    return digest.hexdigest(), count
