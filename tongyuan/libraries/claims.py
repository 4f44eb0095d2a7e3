"""What the hub tracks about items moving between levels: claims, reviews, deliveries.

* A **claim** (认领) is one base item pushed down to one node: the node has to take it up
  (its system returns an item with that 基本编码) and fill in its local elements before a
  deadline counted in working days. One row per (node, 基本编码), so a re-push never
  makes a second claim; **claim events** are its history (every status it moved to, and
  why: a completed claim re-opened because its item was cancelled or stopped fitting
  the base item).
* A **review** row follows one node's copy of one item along the review workflow
  (registered → reviewed → checked → published; change; cancel) with the deadlines the
  rules set; **review events** are its history, illegal steps included.
* A **delivery** row records the content hash of each item last delivered along one
  edge (up to the parent, down to a child), so a delivery sends only what the receiver
  does not hold yet and re-delivering the same state writes nothing.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, new_id

ClaimStatus = Literal["pushed", "claimed", "completed", "overdue", "cancelled"]
CLAIM_STATUSES: tuple[str, ...] = ("pushed", "claimed", "completed", "overdue", "cancelled")
OPEN_CLAIM_STATUSES: tuple[str, ...] = ("pushed", "claimed", "overdue")

Direction = Literal["up", "down"]
DIRECTIONS: tuple[str, ...] = ("up", "down")


class Claim(Base):
    """One base item pushed to one node, and how far the node has taken it up.

    ``deadline`` is the last working day to complete; ``None`` with ``deadline_problem``
    set when the working-day calendar does not know the year (never guessed).
    ``overdue_since`` stays set after a late completion, so lateness is not forgotten.
    """

    __tablename__ = "item_claims"
    __table_args__ = (
        CheckConstraint(f"status IN {CLAIM_STATUSES!r}", name="status"),
        Index("ix_item_claims_node_status", "node", "status"),
    )

    node: Mapped[str] = mapped_column(String(40), primary_key=True)
    basic_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    from_node: Mapped[str] = mapped_column(String(40))
    base_impl_code: Mapped[str] = mapped_column(String(64))  # the pushed item
    base_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    impl_code: Mapped[str | None] = mapped_column(String(64))  # the node's claiming item
    missing: Mapped[list[str]] = mapped_column(JsonDoc, default=list)
    pushed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deadline: Mapped[date | None] = mapped_column(Date)
    deadline_problem: Mapped[str | None] = mapped_column(Text)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    overdue_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Hash of the inputs the claim was last judged on (None: not judged since 0017);
    # a completed claim is judged again only when it changes.
    judged_key: Mapped[str | None] = mapped_column(String(64))


class ClaimEvent(Base):
    """One status move of one claim: from → to, the node's item judged, and why.

    A claim row holds only where it stands; these rows keep how it got there, so a
    completed claim that re-opens (its item cancelled, the base's statutory limit
    lowered below the promised one) stays traceable.
    """

    __tablename__ = "item_claim_events"
    __table_args__ = (Index("ix_item_claim_events_node_basic_code", "node", "basic_code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    node: Mapped[str] = mapped_column(String(40))
    basic_code: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    impl_code: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"), index=True)


class ItemReview(Base):
    """Where one node's copy of one item stands in the review workflow.

    ``status`` is the last *legal* status; an illegal step is refused and remembered in
    ``refused_status`` (with its reason) until the node sends a legal one, so the same
    refusal is recorded once, not at every sync.
    """

    __tablename__ = "item_reviews"

    node: Mapped[str] = mapped_column(String(40), primary_key=True)
    impl_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    basic_code: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16))
    status_since: Mapped[datetime] = mapped_column(UtcDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    review_due: Mapped[date | None] = mapped_column(Date, index=True)
    returned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    correction_due: Mapped[date | None] = mapped_column(Date, index=True)
    deadline_problem: Mapped[str | None] = mapped_column(Text)
    refused_status: Mapped[str | None] = mapped_column(String(16))
    refused_reason: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ReviewEvent(Base):
    """One step of one item copy through the workflow; ``legal`` false for a refused one."""

    __tablename__ = "item_review_events"
    __table_args__ = (Index("ix_item_review_events_node_impl_code", "node", "impl_code"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    node: Mapped[str] = mapped_column(String(40))
    impl_code: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    legal: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"), index=True)


class ItemDelivery(Base):
    """The item content last delivered along one edge (``direction`` from → to)."""

    __tablename__ = "item_deliveries"
    __table_args__ = (CheckConstraint(f"direction IN {DIRECTIONS!r}", name="direction"),)

    direction: Mapped[str] = mapped_column(String(8), primary_key=True)
    from_node: Mapped[str] = mapped_column(String(40), primary_key=True)
    to_node: Mapped[str] = mapped_column(String(40), primary_key=True)
    impl_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    file: Mapped[str] = mapped_column(Text)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    delivered_at: Mapped[datetime] = mapped_column(UtcDateTime)
