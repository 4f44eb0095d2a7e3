"""What the item sync knows beyond the item library: the base catalogue, each node's copy
of every item, and the cross-level disagreements (consistency findings) between them.

一数一源: every element has one owner. The base catalogue table records, per 基本编码, the
base elements and which node supplies them; ``node_items`` records what each node's
system said last (its own content hash, for change detection without touching the
library, and its values, so a disagreement can be re-judged when the owner changes); a
consistency finding is one element on which one node's copy differs from its owner's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, new_id

FindingStatus = Literal["open", "resolved"]
FINDING_STATUSES: tuple[str, ...] = ("open", "resolved")
FindingScope = Literal["base", "implementation", "status"]
FINDING_SCOPES: tuple[str, ...] = ("base", "implementation", "status")
OwnerKind = Literal["issuer", "provisional", "first_source"]
OWNER_KINDS: tuple[str, ...] = ("issuer", "provisional", "first_source")

# A node copy that vanished from a full-snapshot export: no content, so no hash matches it.
GONE_HASH = ""


class BaseCatalogueEntry(Base):
    """One 基本编码 with its base elements and the node that supplies them.

    ``owner_kind``: ``issuer`` — the node that supplies the code's catalogue (the issuing
    province, or the topology's top node for a national ``00`` code) supplied it;
    ``provisional`` — that node has not supplied it yet, a stand-in elected by the topology
    among the systems holding it is the reference until it does; ``first_source`` — an
    issuer outside the topology (another province's catalogue): a stand-in elected the
    same way. A stand-in's elements judge the other copies but never replace them (see
    :mod:`tongyuan.sync.node_sync`).
    """

    __tablename__ = "base_catalogue"
    __table_args__ = (CheckConstraint(f"owner_kind IN {OWNER_KINDS!r}", name="owner_kind"),)

    basic_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(12))  # "national" or the issuing province code
    owner_node: Mapped[str] = mapped_column(String(40))
    owner_kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    elements: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    content_hash: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class NodeItem(Base):
    """One node system's copy of one item, as last read (published or not).

    ``content_hash`` is the hash of the record exactly as the node sent it, so an
    unchanged re-sync is decided from this table alone; :data:`GONE_HASH` marks a copy
    that left a full-snapshot export. ``status`` carries the review status the node
    gave it: copies other than ``published`` are held here and never reach the library.
    """

    __tablename__ = "node_items"
    __table_args__ = (Index("ix_node_items_impl_code", "impl_code"),)

    node: Mapped[str] = mapped_column(String(40), primary_key=True)
    impl_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    basic_code: Mapped[str] = mapped_column(String(32), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsistencyFinding(Base):
    """One element on which a node's copy of an item differs from the element's owner.

    Keyed by (item, element, other node): a disagreement that persists is one finding
    whose ``last_seen`` moves on; when the copy agrees again it is ``resolved`` (and
    reopened if it drifts once more), so the table is the history auditors read.
    """

    __tablename__ = "consistency_findings"
    __table_args__ = (
        UniqueConstraint("impl_code", "element", "other_node"),
        CheckConstraint(f"status IN {FINDING_STATUSES!r}", name="status"),
        CheckConstraint(f"scope IN {FINDING_SCOPES!r}", name="scope"),
        Index("ix_consistency_findings_other_node_status", "other_node", "status"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(16))
    basic_code: Mapped[str] = mapped_column(String(32), index=True)
    impl_code: Mapped[str] = mapped_column(String(64))
    element: Mapped[str] = mapped_column(String(64))
    owner_value: Mapped[Any] = mapped_column(JsonDoc, nullable=True)
    other_value: Mapped[Any] = mapped_column(JsonDoc, nullable=True)
    owner_node: Mapped[str] = mapped_column(String(40))
    other_node: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(16), default="open")
    first_batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"))
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def catalogue_entry(session: Session, basic_code: str) -> BaseCatalogueEntry | None:
    """The base catalogue's entry for a 基本编码, if any node supplied it yet."""
    return session.get(BaseCatalogueEntry, basic_code)


def open_findings(
    session: Session, *, node: str | None = None, impl_code: str | None = None
) -> list[ConsistencyFinding]:
    """Open disagreements, optionally those of one non-owner node or one item."""
    query = select(ConsistencyFinding).where(ConsistencyFinding.status == "open")
    if node is not None:
        query = query.where(ConsistencyFinding.other_node == node)
    if impl_code is not None:
        query = query.where(ConsistencyFinding.impl_code == impl_code)
    return list(
        session.scalars(
            query.order_by(
                ConsistencyFinding.impl_code,
                ConsistencyFinding.element,
                ConsistencyFinding.other_node,
            )
        )
    )


def node_copies(session: Session, node: str) -> list[NodeItem]:
    """Every item copy one node's system holds (held and gone ones included)."""
    return list(
        session.scalars(select(NodeItem).where(NodeItem.node == node).order_by(NodeItem.impl_code))
    )
