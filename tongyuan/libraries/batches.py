"""Batches: every write to a library happens inside one, so every row can say where from."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import CheckConstraint, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from tongyuan.libraries import ledger as _ledger_tables  # noqa: F401  (registers them)
from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, new_id, utcnow

if TYPE_CHECKING:
    from tongyuan.config import Settings

BatchStatus = Literal["running", "committed", "failed"]
BATCH_STATUSES: tuple[str, ...] = ("running", "committed", "failed")


class Batch(Base):
    __tablename__ = "batches"
    __table_args__ = (
        CheckConstraint(f"status IN {BATCH_STATUSES!r}", name="status"),
        CheckConstraint(
            "read_count >= 0 AND accepted_count >= 0 AND quarantined_count >= 0 "
            "AND unchanged_count >= 0",
            name="counts",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    source: Mapped[str] = mapped_column(String(255))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(16), default="running")
    read_count: Mapped[int] = mapped_column(Integer, default=0)
    accepted_count: Mapped[int] = mapped_column(Integer, default=0)
    quarantined_count: Mapped[int] = mapped_column(Integer, default=0)
    unchanged_count: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)


def open_batch(
    session: Session, kind: str, source: str, meta: dict[str, Any] | None = None
) -> Batch:
    """Start a batch; flushed so its id can be used as a foreign key right away."""
    if not kind or not source:
        raise ValueError("a batch needs a kind and a source")
    batch = Batch(
        id=new_id(),
        kind=kind,
        source=source,
        started_at=utcnow(),
        status="running",
        meta=dict(meta or {}),
    )
    session.add(batch)
    session.flush()
    return batch


def close_batch(
    session: Session,
    batch: Batch,
    *,
    read: int,
    accepted: int,
    quarantined: int,
    unchanged: int,
    status: BatchStatus,
    settings: Settings,
    content_hash: str | None = None,
) -> Batch:
    """Record the outcome. A batch is closed once: a finished batch is history.

    Closing chains the batch to the ledger, signed with the key of the hub ``settings``
    describe — the hub whose database ``session`` writes. They are required, never taken
    from the environment: the environment may name another hub (see
    :func:`tongyuan.ledger.append.append_batch`).
    """
    if status not in ("committed", "failed"):
        raise ValueError(f"a batch closes as committed or failed, not {status!r}")
    if batch.status != "running":
        raise ValueError(f"batch {batch.id} is already closed ({batch.status})")
    if min(read, accepted, quarantined, unchanged) < 0:
        raise ValueError(f"batch {batch.id}: counts must not be negative")
    batch.read_count = read
    batch.accepted_count = accepted
    batch.quarantined_count = quarantined
    batch.unchanged_count = unchanged
    batch.status = status
    batch.content_hash = content_hash
    batch.finished_at = utcnow()
    session.flush()
    # Imported here: the ledger reads every library table, which import this module.
    from tongyuan.ledger.append import append_batch

    append_batch(session, batch, settings=settings)
    return batch


def record_failed_batch(
    session: Session,
    kind: str,
    source: str,
    *,
    error: str,
    settings: Settings,
    read: int = 0,
    content_hash: str | None = None,
    meta: dict[str, Any] | None = None,
) -> Batch:
    """A batch that failed before anything of it was stored: kept so the failure is traced.

    Written in its own transaction by the caller, after the failed one rolled back;
    ``settings`` are the hub's, as for :func:`close_batch`.
    """
    from standards.privacy import mask_text

    # The error is a failure's text (a driver's message, a source's reply): it is stored,
    # shown by `tongyuan batches`/the report and hashed into the ledger, so personal ID
    # numbers in it are masked here, whatever the caller already did.
    batch = open_batch(session, kind, source, meta={**(meta or {}), "error": mask_text(error)})
    return close_batch(
        session,
        batch,
        read=read,
        accepted=0,
        quarantined=0,
        unchanged=0,
        status="failed",
        settings=settings,
        content_hash=content_hash,
    )
