"""The signed deliveries the hub accepted: what refuses a replayed delivery.

A signed delivery stays valid for ever: its files, ``MANIFEST.json`` and the signature can
be put back in the drop folder byte for byte long after a newer delivery changed the same
cases, and ingesting them again would roll those cases back. The hub therefore remembers,
per department, every signed delivery it accepted (the sha256 of its signature envelope,
its signing time and the batch that stored it) and refuses one it accepted before, or one
signed no later than the department's last accepted delivery (:mod:`tongyuan.ingest`).

The envelope, not the manifest, identifies a delivery: it covers the manifest and the
signing time, and :func:`tongyuan.ingest.signed.build_manifest` gives the same bytes for
the same files, so the same files signed again later (how a department re-sends) are a new
delivery. Batches are history (chained in the ledger, never deleted), so what is
remembered here is never forgotten either. The row is written in the case stream's
commit transaction: the delivery's cases and the memory of it commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tongyuan.libraries.base import Base, UtcDateTime, utcnow


class SignedDelivery(Base):
    """One accepted signed delivery of one department."""

    __tablename__ = "signed_deliveries"
    __table_args__ = (UniqueConstraint("department", "envelope_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(32), index=True)
    # The signature envelope's sha256: it covers the manifest and the signing time.
    envelope_sha256: Mapped[str] = mapped_column(String(64))
    signing_time: Mapped[datetime] = mapped_column(UtcDateTime)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the hub remembers of an accepted delivery (for refusal messages)."""

    envelope_sha256: str
    signing_time: datetime
    batch_id: str


def accepted_delivery(session: Session, department: str, sha256: str) -> Accepted | None:
    """The department's accepted delivery whose signature envelope has this sha256, if any."""
    row = session.scalars(
        select(SignedDelivery).where(
            SignedDelivery.department == department, SignedDelivery.envelope_sha256 == sha256
        )
    ).first()
    return None if row is None else Accepted(row.envelope_sha256, row.signing_time, row.batch_id)


def latest_accepted(session: Session, department: str) -> Accepted | None:
    """The department's accepted delivery with the latest signing time, if any."""
    latest = (
        select(func.max(SignedDelivery.signing_time))
        .where(SignedDelivery.department == department)
        .scalar_subquery()
    )
    row = session.scalars(
        select(SignedDelivery)
        .where(SignedDelivery.department == department, SignedDelivery.signing_time == latest)
        .order_by(SignedDelivery.id.desc())
    ).first()
    return None if row is None else Accepted(row.envelope_sha256, row.signing_time, row.batch_id)


def remember_delivery(
    session: Session, department: str, sha256: str, signing_time: datetime, batch_id: str
) -> None:
    """Record an accepted signed delivery (in the caller's transaction)."""
    session.add(
        SignedDelivery(
            department=department,
            envelope_sha256=sha256,
            signing_time=signing_time,
            batch_id=batch_id,
        )
    )
    session.flush()
