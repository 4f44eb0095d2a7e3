"""The quarantine library: records that broke a rule, kept whole so they can be replayed.

The raw payload may hold personal IDs in any field, so it is stored encrypted as a whole;
a masked copy serves display. Adding the same payload from the same place again, while an
earlier entry is still open, returns that entry instead of piling up duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from standards.privacy import mask_id, mask_text
from standards.records import SourceLocation
from standards.validation.findings import Finding
from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, canonical_json, utcnow
from tongyuan.privacy import PiiProtector, mask_payload

QuarantineStatus = Literal["open", "replayed", "resolved", "discarded"]
QUARANTINE_STATUSES: tuple[str, ...] = ("open", "replayed", "resolved", "discarded")


class QuarantineEntry(Base):
    __tablename__ = "quarantine"
    __table_args__ = (CheckConstraint(f"status IN {QUARANTINE_STATUSES!r}", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    source_file: Mapped[str] = mapped_column(String(1024))
    record_index: Mapped[int] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)
    payload_enc: Mapped[str] = mapped_column(Text)
    # Keyed hash of the canonical payload: finds duplicates without exposing content.
    payload_hash: Mapped[str] = mapped_column(String(64), index=True)
    payload_masked: Mapped[Any] = mapped_column(JsonDoc)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Where the payload came from, for replay (migration 0007): ``origin`` is the
    # displayable part (path, source, stream, adapter, mapping file); ``origin_enc`` the
    # whole of it, adapter configuration included, encrypted like the payload.
    origin: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    origin_enc: Mapped[str | None] = mapped_column(Text)
    resolved_batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"))


class ReplayOutcome(Base):
    """What one replay did with one entry: the replay batch's per-entry history."""

    __tablename__ = "quarantine_replays"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("quarantine.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


def add_quarantined(
    session: Session,
    batch_id: str,
    *,
    kind: str,
    location: SourceLocation,
    payload: Any,
    findings: Sequence[Finding],
    protector: PiiProtector,
    origin: dict[str, Any] | None = None,
) -> int:
    """Quarantine one record; returns the entry id (an existing open one for a repeat).

    ``origin`` says how to rebuild what produced the payload (see
    :mod:`tongyuan.quarantine.origin`); its ``config`` key is kept only encrypted.
    """
    if not findings:
        raise ValueError(f"{location}: a quarantined record needs at least one finding")
    text = canonical_json(payload)
    payload_hash = protector.lookup_hash(f"{kind}\n{location.file}\n{location.record}\n{text}")
    # By the hash alone, then the status here: with both in the WHERE clause SQLite may
    # pick the status index and walk every open entry, once per quarantined record.
    existing = next(
        (
            entry
            for entry in session.scalars(
                select(QuarantineEntry).where(QuarantineEntry.payload_hash == payload_hash)
            )
            if entry.status == "open"
        ),
        None,
    )
    rules = [{**finding.as_dict(), "message": mask_text(finding.message)} for finding in findings]
    if existing is not None:
        if existing.rules != rules:
            existing.rules = rules
            existing.rule = findings[0].rule
            existing.message = rules[0]["message"] or ""
            existing.updated_at = utcnow()
            session.flush()
        return existing.id
    now = utcnow()
    entry = QuarantineEntry(
        batch_id=batch_id,
        kind=kind,
        source_file=location.file,
        record_index=location.record,
        line=location.line,
        payload_enc=protector.encrypt(text),
        payload_hash=payload_hash,
        payload_masked=_mask_columns(
            mask_payload(payload), frozenset((origin or {}).get("personal_columns") or ())
        ),
        rules=rules,
        rule=findings[0].rule,
        message=rules[0]["message"] or "",
        status="open",
        replay_count=0,
        created_at=now,
        updated_at=now,
        origin=None if origin is None else {k: v for k, v in origin.items() if k != "config"},
        origin_enc=None if origin is None else protector.encrypt(canonical_json(origin)),
    )
    session.add(entry)
    session.flush()
    return entry.id


def _mask_columns(value: Any, columns: frozenset[str]) -> Any:
    """Mask the values of source columns the mapping says hold personal IDs, at any depth."""
    if not columns:
        return value
    if isinstance(value, dict):
        return {
            key: mask_id(str(item).strip())
            if key in columns and isinstance(item, str | int)
            else _mask_columns(item, columns)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask_columns(item, columns) for item in value]
    return value


def quarantined_payload(entry: QuarantineEntry, *, protector: PiiProtector) -> Any:
    """The original payload, decrypted (for replay after a fix)."""
    return json.loads(protector.decrypt(entry.payload_enc))


def quarantined_origin(entry: QuarantineEntry, *, protector: PiiProtector) -> dict[str, Any] | None:
    """The whole origin, adapter configuration included (None for entries before 0007)."""
    if entry.origin_enc is None:
        return None
    origin: dict[str, Any] = json.loads(protector.decrypt(entry.origin_enc))
    return origin


def set_quarantine_status(
    session: Session, entry_id: int, status: QuarantineStatus, *, replayed: bool = False
) -> QuarantineEntry:
    """Move an entry along its workflow; ``replayed`` counts one more replay attempt."""
    if status not in QUARANTINE_STATUSES:
        raise ValueError(f"unknown quarantine status {status!r}")
    entry = session.get(QuarantineEntry, entry_id)
    if entry is None:
        raise LookupError(f"no quarantine entry {entry_id}")
    entry.status = status
    if replayed:
        entry.replay_count += 1
    entry.updated_at = utcnow()
    session.flush()
    return entry
