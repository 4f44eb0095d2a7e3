"""Which quarantine entries a command is about: by id, rule, source, kind or status.

A rule matches any rule an entry broke, not only the first; a source matches the batch
source (``sz-market/cases``, a file name), its prefix before ``/``, or the entry's file.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongyuan.libraries.batches import Batch
from tongyuan.libraries.quarantine import QUARANTINE_STATUSES, QuarantineEntry


class SelectionError(ValueError):
    """A selection that names nothing, or names it in a way that cannot be right."""


@dataclass(frozen=True, slots=True)
class Selection:
    """Filters, combined with AND. ``everything`` must be said explicitly to replay all."""

    ids: tuple[int, ...] = ()
    rule: str | None = None
    source: str | None = None
    kind: str | None = None
    status: str | None = None
    everything: bool = False

    def __post_init__(self) -> None:
        if self.status is not None and self.status not in QUARANTINE_STATUSES:
            known = ", ".join(QUARANTINE_STATUSES)
            raise SelectionError(f"unknown status {self.status!r} (statuses: {known})")

    @property
    def empty(self) -> bool:
        return not (self.ids or self.rule or self.source or self.kind or self.status)

    def describe(self) -> str:
        parts = []
        if self.ids:
            parts.append("ids=" + ",".join(str(i) for i in self.ids))
        for name in ("rule", "source", "kind", "status"):
            if (value := getattr(self, name)) is not None:
                parts.append(f"{name}={value}")
        return " ".join(parts) or "all"

    def as_dict(self) -> dict[str, Any]:
        return {
            "ids": list(self.ids),
            "rule": self.rule,
            "source": self.source,
            "kind": self.kind,
            "status": self.status,
            "all": self.everything,
        }


def _source_matches(wanted: str, batch_source: str, source_file: str, origin: Any) -> bool:
    names = {batch_source, batch_source.split("/", 1)[0], source_file}
    if isinstance(origin, dict) and isinstance(origin.get("source"), str):
        names.add(origin["source"])
    return wanted in names


def _matches(entry: QuarantineEntry, batch_source: str, selection: Selection) -> bool:
    if selection.rule is not None and not any(
        r.get("rule") == selection.rule for r in entry.rules or []
    ):
        return False
    return selection.source is None or _source_matches(
        selection.source, batch_source, entry.source_file, entry.origin
    )


def select_entries(
    session: Session, selection: Selection, *, lock: bool = False, limit: int | None = None
) -> list[QuarantineEntry]:
    """Entries in id order. ``lock`` holds them (FOR UPDATE) until the transaction ends."""
    stmt = select(QuarantineEntry, Batch.source).join(Batch, Batch.id == QuarantineEntry.batch_id)
    if selection.ids:
        stmt = stmt.where(QuarantineEntry.id.in_(selection.ids))
    if selection.kind is not None:
        stmt = stmt.where(QuarantineEntry.kind == selection.kind)
    if selection.status is not None:
        stmt = stmt.where(QuarantineEntry.status == selection.status)
    stmt = stmt.order_by(QuarantineEntry.id)
    if lock:
        stmt = stmt.with_for_update(of=QuarantineEntry)
    out: list[QuarantineEntry] = []
    for entry, batch_source in session.execute(stmt):
        if _matches(entry, batch_source, selection):
            out.append(entry)
            if limit is not None and len(out) >= limit:
                break
    if selection.ids:
        missing = set(selection.ids) - {e.id for e in out}
        if missing and not (selection.rule or selection.source):
            raise SelectionError(
                "no quarantine entry " + ", ".join(str(i) for i in sorted(missing))
            )
    return out


def batch_sources(session: Session, batch_ids: Iterable[str]) -> dict[str, str]:
    """Batch id → source, for display."""
    ids = sorted(set(batch_ids))
    if not ids:
        return {}
    rows = session.execute(select(Batch.id, Batch.source).where(Batch.id.in_(ids)))
    return {batch_id: source for batch_id, source in rows}
