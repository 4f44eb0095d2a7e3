"""An item's trail (全程留痕): every version, what it changed, and the batch that wrote it.

The item library never overwrites: a change closes the version in force and adds the
next, and every version names the batch that wrote it, which the ledger chains. This
module reads that back for one 实施编码 so that an engineer or auditor can answer "who
changed what, when, and can it be proven" without SQL: per version the elements that
differ from the version before (the same element diff the sync prints), the batch (its
kind, source system and time) and the batch's ledger entry.

Element values are free text a system filled in and may carry a personal ID number: the
trail holds them masked (:func:`tongyuan.privacy.mask_payload`), never in clear.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from standards.identifiers.normalize import normalize_code
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.items import ItemVersion
from tongyuan.libraries.ledger import LedgerEntry
from tongyuan.privacy import mask_payload
from tongyuan.sync.diff import ElementChange, element_changes


@dataclass(frozen=True, slots=True)
class VersionTrail:
    """One version of an item and how it came to be."""

    impl_code: str
    version_no: int
    valid_from: datetime
    valid_to: datetime | None
    status: str
    cancelled: bool  # a tombstone: the item was withdrawn from the source system
    name: str
    source: str  # the system whose delivery (or merge) produced the version
    content_hash: str
    batch_id: str
    batch_kind: str | None
    batch_source: str | None
    batch_started_at: datetime | None
    ledger_seq: int | None  # None: the batch is not (yet) in the ledger
    changes: tuple[ElementChange, ...]  # against the previous version; all, for the first

    def as_dict(self) -> dict[str, Any]:
        return {
            "impl_code": self.impl_code,
            "version": self.version_no,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else None,
            "status": self.status,
            "cancelled": self.cancelled,
            "name": mask_payload(self.name),
            "source": self.source,
            "content_hash": self.content_hash,
            "batch": {
                "id": self.batch_id,
                "kind": self.batch_kind,
                "source": self.batch_source,
                "started_at": self.batch_started_at.isoformat() if self.batch_started_at else None,
                "ledger_seq": self.ledger_seq,
            },
            "changes": [
                {
                    "element": c.element,
                    "before": mask_payload(c.before),
                    "after": mask_payload(c.after),
                }
                for c in self.changes
            ],
        }


def item_trail(session: Session, impl_code: str) -> list[VersionTrail]:
    """Every version of the item, oldest first; empty when the library never held it.

    ``impl_code`` is taken as typed (full-width digits, separators, lower case are folded
    as everywhere else)."""
    code = normalize_code(impl_code)
    rows = session.execute(
        select(ItemVersion, Batch, LedgerEntry.seq)
        .outerjoin(Batch, Batch.id == ItemVersion.batch_id)
        .outerjoin(LedgerEntry, LedgerEntry.batch_id == ItemVersion.batch_id)
        .where(ItemVersion.impl_code == code)
        .order_by(ItemVersion.version_no)
    ).all()
    trail: list[VersionTrail] = []
    before: dict[str, Any] | None = None
    for version, batch, seq in rows:
        # A tombstone holds the last content with status cancelled: its change is that.
        data = dict(version.data or {})
        changes = element_changes(before, data)
        before = data
        trail.append(
            VersionTrail(
                impl_code=version.impl_code,
                version_no=version.version_no,
                valid_from=version.valid_from,
                valid_to=version.valid_to,
                status=version.status,
                cancelled=version.is_tombstone,
                name=version.name,
                source=version.source,
                content_hash=version.content_hash,
                batch_id=version.batch_id,
                batch_kind=batch.kind if batch is not None else None,
                batch_source=batch.source if batch is not None else None,
                batch_started_at=batch.started_at if batch is not None else None,
                ledger_seq=seq,
                changes=changes,
            )
        )
    return trail


__all__ = ["VersionTrail", "item_trail"]
