"""The signed deliveries the hub accepted: what refuses a replayed delivery.

A signed delivery stays valid for ever: its files, ``MANIFEST.json`` and the signature can
be put back in the drop folder byte for byte long after a newer delivery changed the same
cases, and ingesting them again would roll those cases back. The hub therefore remembers,
per department, every signed manifest it accepted (its sha256, its signing time and the
batch that stored it) and refuses one it accepted before, or one signed no later than the
department's last accepted delivery (:mod:`tongyuan.ingest.signed`).

Batches are history (they are chained in the ledger and never deleted), so what is
remembered here is never forgotten either: a department that wants the hub to take the
same content again signs a new manifest, which has a later signing time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tongyuan.libraries.base import Base, UtcDateTime, utcnow


class SignedDelivery(Base):
    """One accepted signed manifest of one department."""

    __tablename__ = "signed_deliveries"
    __table_args__ = (UniqueConstraint("department", "manifest_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    department: Mapped[str] = mapped_column(String(32), index=True)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    signing_time: Mapped[datetime] = mapped_column(UtcDateTime)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the hub remembers of an accepted delivery (for refusal messages)."""

    manifest_sha256: str
    signing_time: datetime
    batch_id: str


def accepted_manifest(session: Session, department: str, sha256: str) -> Accepted | None:
    """The department's accepted delivery with this manifest, if any."""
    row = session.scalars(
        select(SignedDelivery).where(
            SignedDelivery.department == department, SignedDelivery.manifest_sha256 == sha256
        )
    ).first()
    return None if row is None else Accepted(row.manifest_sha256, row.signing_time, row.batch_id)


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
    return None if row is None else Accepted(row.manifest_sha256, row.signing_time, row.batch_id)


def remember_delivery(
    session: Session, department: str, sha256: str, signing_time: datetime, batch_id: str
) -> None:
    """Record an accepted signed manifest (in the caller's transaction)."""
    session.add(
        SignedDelivery(
            department=department,
            manifest_sha256=sha256,
            signing_time=signing_time,
            batch_id=batch_id,
        )
    )
    session.flush()
