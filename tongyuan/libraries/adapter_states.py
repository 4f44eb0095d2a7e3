"""Incremental state of adapter streams, stored by the hub beside the data it describes.

An adapter computes its state; only the hub stores it, in the same transaction as the
records read under it. A crash before that commit leaves the old state, so the next run
reads the same rows again — and the natural-key upserts make the repeat harmless.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, utcnow


class AdapterState(Base):
    __tablename__ = "adapter_states"

    source: Mapped[str] = mapped_column(String(128), primary_key=True)
    stream: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


def load_state(session: Session, source: str, stream: str) -> dict[str, Any] | None:
    """The stored state of a stream, or None before its first committed read."""
    row = session.get(AdapterState, (source, stream))
    return None if row is None else dict(row.state)


def save_state(
    session: Session, source: str, stream: str, state: dict[str, Any], *, batch_id: str
) -> None:
    """Store the state in the caller's transaction (commits or rolls back with the data)."""
    row = session.get(AdapterState, (source, stream))
    if row is None:
        session.add(
            AdapterState(
                source=source, stream=stream, state=state, batch_id=batch_id, updated_at=utcnow()
            )
        )
    else:
        row.state, row.batch_id, row.updated_at = state, batch_id, utcnow()
    session.flush()
