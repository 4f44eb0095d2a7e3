"""The batch ledger's tables: a hash chain of batch entries and the row digests behind them.

The ledger is evidence, not working data: entries and records are only ever inserted
(by :mod:`tongyuan.ledger.append`, inside the batch's own transaction), and the one-row
head table exists so that concurrent appends queue on one row lock instead of forking
the chain.

This module also remembers which rows a session changed behind their batch_id. Most
rows name the batch that last wrote them (``batch_id``) and the append finds them by that
column; but some writes leave ``batch_id`` alone — closing an item's previous version
(``valid_to``), updating a quarantine entry's rules, deleting a row — so such rows are
remembered at flush, and the batch that closes next records their state as it is then.
It lives here, beside the models every library imports, so the flush listener is
installed before the first flush of any process.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, ForeignKey, Integer, String, Text, event, inspect
from sqlalchemy.orm import Mapped, Session, UOWTransaction, mapped_column

from tongyuan.db.session_state import forget, transaction_scoped
from tongyuan.libraries.base import Base, UtcDateTime, insert_tuples

# The "previous hash" of the first entry.
GENESIS_HASH = "0" * 64


class LedgerHead(Base):
    """Where the chain ends: appends lock this row, so they queue instead of forking."""

    __tablename__ = "ledger_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer)
    entry_hash: Mapped[str] = mapped_column(String(64))


class LedgerEntry(Base):
    """One closed batch, chained to the entry before it and signed by the hub.

    The chain alone can be extended by anyone who can write the database; the signature
    (made with the key that signs checkpoints) is what tells the hub's entries apart.
    """

    __tablename__ = "ledger_entries"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    read_count: Mapped[int] = mapped_column(Integer)
    accepted_count: Mapped[int] = mapped_column(Integer)
    quarantined_count: Mapped[int] = mapped_column(Integer)
    unchanged_count: Mapped[int] = mapped_column(Integer)
    # The batch's own content hash (e.g. the loaded file's sha256), when it has one.
    input_hash: Mapped[str | None] = mapped_column(String(64))
    # Hash over the batch's ledger records in key order, and how many there are.
    records_hash: Mapped[str] = mapped_column(String(64))
    record_count: Mapped[int] = mapped_column(Integer)
    signer_fingerprint: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime)
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The hub's signature over the entry hash (migration 0011), and the id of the key
    # that made it; None on entries written before entries were signed.
    key_id: Mapped[str | None] = mapped_column(String(64))
    signature: Mapped[str | None] = mapped_column(Text)


class LedgerRecord(Base):
    """The digest of one library row as a batch left it (``deleted`` for a removal)."""

    __tablename__ = "ledger_records"

    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64))


class LedgerCheckpoint(Base):
    """A signed statement by the hub: at ``seq`` the chain ended in ``entry_hash``."""

    __tablename__ = "ledger_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, index=True)
    entry_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    algorithm: Mapped[str] = mapped_column(String(16))
    key_id: Mapped[str] = mapped_column(String(64))
    public_key: Mapped[str] = mapped_column(Text)
    signature: Mapped[str] = mapped_column(Text)


_TOUCHED = transaction_scoped("tongyuan.ledger.touched")

# table name -> primary key tuple -> True when the flush deleted the row
Touched = dict[str, dict[tuple[Any, ...], bool]]


def touched_rows(session: Session) -> Touched:
    """Rows of batch-stamped tables flushed in this transaction and not yet recorded."""
    return session.info.setdefault(_TOUCHED, {})


def forget_touched(session: Session) -> None:
    forget(session, _TOUCHED, _PRERECORDED)


_PRERECORDED = transaction_scoped("tongyuan.ledger.prerecorded")


def note_prerecorded(session: Session, batch_id: str, kind: str, count: int) -> None:
    """A writer stored the ledger records of ``count`` rows of ``kind`` itself (digests
    computed from the values it wrote), so the append need not read those rows back."""
    kinds = session.info.setdefault(_PRERECORDED, {}).setdefault(batch_id, {})
    kinds[kind] = kinds.get(kind, 0) + count


RECORD_COLUMNS = ("batch_id", "kind", "key", "digest")


def insert_records(connection: Connection, records: list[tuple[str, str, str, str]]) -> None:
    """Store (batch id, kind, key, digest) ledger records in one statement."""
    insert_tuples(connection, LedgerRecord.__table__, RECORD_COLUMNS, records)


def prerecorded(session: Session, batch_id: str) -> dict[str, int]:
    """Kinds of rows of the batch already recorded in ``ledger_records``, with counts."""
    found: dict[str, int] = session.info.get(_PRERECORDED, {}).get(batch_id, {})
    return found


def _remember(session: Session, obj: object, deleted: bool) -> None:
    table = getattr(type(obj), "__table__", None)
    if table is None or "batch_id" not in table.c:
        return
    key = tuple(inspect(obj).mapper.primary_key_from_instance(obj))
    if any(part is None for part in key):
        return
    touched_rows(session).setdefault(table.name, {})[key] = deleted


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    # New rows and rows whose batch_id was just set are found through that column when
    # their batch closes; remembering them too would hold every key of a big batch.
    for obj in session.dirty:
        state = inspect(obj)
        if "batch_id" not in state.attrs or state.attrs.batch_id.history.has_changes():
            continue
        if session.is_modified(obj, include_collections=False):
            _remember(session, obj, False)
    for obj in session.deleted:
        _remember(session, obj, True)
