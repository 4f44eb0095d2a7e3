"""The item library: every version of every item, the current one marked by ``valid_to``.

Items change rarely and auditors ask "what did the catalogue say on that day", so the
library keeps history instead of overwriting: a changed item closes its current version
and opens a new one; a cancelled item gets a tombstone version.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from standards.codes.enums import ReviewStatus
from standards.records import Item
from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, new_id, to_utc

WriteOutcome = Literal["added", "changed", "unchanged"]


class ItemVersion(Base):
    __tablename__ = "item_versions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    impl_code: Mapped[str] = mapped_column(String(64))
    basic_code: Mapped[str] = mapped_column(String(32), index=True)
    version_no: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UtcDateTime)
    is_tombstone: Mapped[bool] = mapped_column(Boolean, default=False)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(255))
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    name: Mapped[str] = mapped_column(String(200))
    item_type: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    exercise_level: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16))
    authority_uscc: Mapped[str] = mapped_column(String(32), index=True)
    statutory_limit_days: Mapped[int] = mapped_column(Integer)
    promised_limit_days: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("impl_code", "version_no"),
        # At most one current version per item; also the index every lookup uses.
        Index(
            "ix_item_versions_current",
            "impl_code",
            unique=True,
            sqlite_where=text("valid_to IS NULL"),
            postgresql_where=text("valid_to IS NULL"),
        ),
    )

    def as_record(self) -> Item:
        """The stored item in the standard form."""
        return Item.model_validate(self.data)


def _current_version(session: Session, impl_code: str) -> ItemVersion | None:
    return session.scalars(
        select(ItemVersion).where(
            ItemVersion.impl_code == impl_code, ItemVersion.valid_to.is_(None)
        )
    ).one_or_none()


def current_item(session: Session, impl_code: str) -> ItemVersion | None:
    """The version in force, or ``None`` when the item is unknown or cancelled."""
    version = _current_version(session, impl_code)
    return None if version is None or version.is_tombstone else version


def item_history(session: Session, impl_code: str) -> list[ItemVersion]:
    """All versions of one item, oldest first."""
    return list(
        session.scalars(
            select(ItemVersion)
            .where(ItemVersion.impl_code == impl_code)
            .order_by(ItemVersion.version_no)
        )
    )


def _new_version(
    session: Session,
    previous: ItemVersion | None,
    item: Item,
    *,
    batch_id: str,
    source: str,
    now: datetime,
    tombstone: bool,
    flush: bool = True,
) -> ItemVersion:
    now = to_utc(now)
    if previous is not None:
        if previous.valid_from > now:
            raise ValueError(
                f"item {item.impl_code}: new version at {now.isoformat()} would start before "
                f"the current version {previous.version_no} ({previous.valid_from.isoformat()})"
            )
        previous.valid_to = now
        # The close must reach the database before the new current row, or the unique
        # "one current version" index sees two.
        session.flush()
    version = ItemVersion(
        id=new_id(),
        impl_code=item.impl_code,
        basic_code=item.basic_code,
        version_no=1 if previous is None else previous.version_no + 1,
        valid_from=now,
        valid_to=None,
        is_tombstone=tombstone,
        content_hash=item.content_hash(),
        source=source,
        batch_id=batch_id,
        data=item.model_dump(mode="json", exclude_none=True),
        name=item.name,
        item_type=item.item_type.value,
        region_code=item.region_code,
        exercise_level=item.exercise_level.value,
        status=item.status.value,
        authority_uscc=item.authority_uscc,
        statutory_limit_days=item.statutory_limit_days,
        promised_limit_days=item.promised_limit_days,
    )
    session.add(version)
    if flush:
        session.flush()
    return version


def write_item(
    session: Session, batch_id: str, item: Item, *, source: str, now: datetime
) -> WriteOutcome:
    """Store an item; a new version only when its content hash differs from the current.

    An item that reappears after cancellation counts as ``changed``: its history goes on.
    """
    current = _current_version(session, item.impl_code)
    outcome = write_item_over(session, batch_id, item, current, source=source, now=now)
    if outcome != "unchanged":
        session.flush()  # as before write_item_over left the flush to its caller
    return outcome


def write_item_over(
    session: Session,
    batch_id: str,
    item: Item,
    current: ItemVersion | None,
    *,
    source: str,
    now: datetime,
) -> WriteOutcome:
    """:func:`write_item` for a caller that already holds the current version (tombstones
    included; ``None`` for an item the library has never had), so nothing is looked up.

    The new version is left to the session's next flush (autoflush before any query, or
    the commit): a sync writing thousands of items then inserts them together. Callers
    that read the table with raw SQL before then flush first.
    """
    if (
        current is not None
        and not current.is_tombstone
        and current.content_hash == item.content_hash()
    ):
        return "unchanged"
    _new_version(
        session, current, item, batch_id=batch_id, source=source, now=now, tombstone=False,
        flush=False,
    )  # fmt: skip
    return "added" if current is None else "changed"


def cancel_item(
    session: Session, batch_id: str, impl_code: str, *, source: str, now: datetime
) -> bool:
    """Close an item with a tombstone version; ``False`` if there is nothing in force.

    The tombstone carries the last content with status ``cancelled``, so queries on the
    current versions still show what was cancelled.
    """
    current = _current_version(session, impl_code)
    if current is None or current.is_tombstone:
        return False
    cancelled = current.as_record().model_copy(update={"status": ReviewStatus.CANCELLED})
    _new_version(
        session, current, cancelled, batch_id=batch_id, source=source, now=now, tombstone=True
    )
    return True
