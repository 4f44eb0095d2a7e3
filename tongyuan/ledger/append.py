"""Appending a closed batch to the ledger, inside the batch's own transaction.

The entry, its records and the head move commit with the batch's rows or roll back with
them: a batch killed half-way leaves neither rows nor an entry. Appends serialize on the
head row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite has one writer at a time anyway),
so two batches committing at once get consecutive sequence numbers, never the same one.

Each entry is signed with the hub key (one signature per batch): the key of the hub whose
Settings the caller passes, never one found through the environment. On a hub whose earlier
entries were written before entries were signed, the first signed append first writes a
checkpoint over those unsigned entries, so that verification can tell them from unsigned
entries inserted later (docs/ledger.md §4).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from sqlalchemy import Text, cast, exists, literal, select, union_all
from sqlalchemy.orm import Session

from tongyuan.ledger.digests import (
    BY_TABLE,
    COVERED,
    DELETED,
    CoveredTable,
    ordered_records_hash,
    stored_records,
)
from tongyuan.ledger.entries import compute_entry_hash, entry_statement
from tongyuan.ledger.hubkey import sign_statement, signing_key
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.ledger import (
    GENESIS_HASH,
    LedgerCheckpoint,
    LedgerEntry,
    LedgerHead,
    LedgerRecord,
    forget_touched,
    insert_records,
    prerecorded,
    touched_rows,
)

if TYPE_CHECKING:
    from tongyuan.config import Settings
    from tongyuan.libraries.batches import Batch

log = logging.getLogger(__name__)

HEAD_ID = 1
ENV_CHECKPOINT_EVERY = "TONGYUAN_LEDGER_CHECKPOINT_EVERY"
DEFAULT_CHECKPOINT_EVERY = 100
_PK_CHUNK = 500
_CHUNK = 5000


def checkpoint_every() -> int:
    """Entries between automatic checkpoints (0 turns them off)."""
    raw = os.environ.get(ENV_CHECKPOINT_EVERY, "").strip()
    if not raw:
        return DEFAULT_CHECKPOINT_EVERY
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_CHECKPOINT_EVERY} must be a whole number, not {raw!r}") from None
    if value < 0:
        raise ValueError(f"{ENV_CHECKPOINT_EVERY} must not be negative, got {value}")
    return value


def _written_by(
    session: Session, spec: CoveredTable, batch_id: str, skip_recorded: bool = False
) -> Iterator[Any]:
    statement = spec.select().where(spec.table.c.batch_id == batch_id)
    if skip_recorded:
        # Rows whose record a writer stored already (see note_prerecorded): one index
        # probe each in the database instead of reading and digesting them here.
        (pk,) = spec.table.primary_key.columns
        records = LedgerRecord.__table__.c
        statement = statement.where(
            ~exists().where(
                records.batch_id == batch_id,
                records.kind == spec.kind,
                records.key == cast(pk, Text),
            )
        )
    # A big batch is streamed (a server-side cursor on PostgreSQL), never held whole.
    yield from session.execute(statement.execution_options(yield_per=_CHUNK)).mappings()


def _rows_by_key(
    session: Session, spec: CoveredTable, key_columns: tuple[str, ...], keys: list[tuple[Any, ...]]
) -> Iterator[Any]:
    table = spec.table
    if len(key_columns) == 1:
        column = table.c[key_columns[0]]
        for start in range(0, len(keys), _PK_CHUNK):
            chunk = [k[0] for k in keys[start : start + _PK_CHUNK]]
            yield from session.execute(spec.select().where(column.in_(chunk))).mappings()
        return
    for key in keys:
        condition = [table.c[name] == value for name, value in zip(key_columns, key, strict=True)]
        yield from session.execute(spec.select().where(*condition)).mappings()


def _tables_with_rows(session: Session, batch_id: str) -> list[CoveredTable]:
    """The covered tables holding rows of the batch, found in one statement.

    Most batches touch two or three of the covered tables; asking each one separately
    would cost a dozen statements per batch, which small sync batches feel.
    """
    probes = [
        select(literal(spec.kind).label("kind")).where(
            exists().where(spec.table.c.batch_id == batch_id)
        )
        for spec in COVERED
    ]
    found = set(session.scalars(union_all(*probes)))
    return [spec for spec in COVERED if spec.kind in found]


class _RecordWriter:
    """Inserts records in chunks (one executemany each), so memory stays flat."""

    def __init__(self, session: Session, batch_id: str) -> None:
        self.session, self.batch_id = session, batch_id
        self.buffer: list[tuple[str, str, str, str]] = []
        self.count = 0

    def add(self, kind: str, key: str, digest: str) -> None:
        self.buffer.append((self.batch_id, kind, key, digest))
        if len(self.buffer) >= _CHUNK:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            insert_records(self.session.connection(), self.buffer)
            self.count += len(self.buffer)
            self.buffer = []


def _record_touched(session: Session, batch_id: str, out: _RecordWriter) -> None:
    """Rows changed without taking this batch's id (see tongyuan.libraries.ledger)."""
    for table_name, keys in touched_rows(session).items():
        spec = BY_TABLE.get(table_name)
        if spec is None:
            continue  # a workflow table the ledger does not vouch for
        key_columns = spec.key_columns
        pending = {
            spec.key_of(dict(zip(key_columns, key, strict=True))): (key, deleted)
            for key, deleted in keys.items()
        }
        for row in _rows_by_key(session, spec, key_columns, [k for k, _ in pending.values()]):
            text = spec.key_of(row)
            pending.pop(text, None)
            if row["batch_id"] != batch_id:  # rows carrying this batch's id are recorded
                out.add(spec.kind, text, spec.digest_of(row))
        for text, (_key, deleted) in pending.items():
            if deleted:  # gone now; an insert rolled back to a savepoint is simply not there
                out.add(spec.kind, text, DELETED)


def record_batch_rows(session: Session, batch_id: str) -> tuple[str, int]:
    """Store the (kind, key, digest) of every covered row the batch wrote, changed or
    deleted; returns the batch's records hash and count, read back in code-point order."""
    out = _RecordWriter(session, batch_id)
    already = prerecorded(session, batch_id)
    for spec in _tables_with_rows(session, batch_id):
        skip = spec.kind in already
        for row in _written_by(session, spec, batch_id, skip_recorded=skip):
            out.add(spec.kind, spec.key_of(row), spec.digest_of(row))
    _record_touched(session, batch_id, out)
    out.flush()
    if out.count == 0 and not any(already.values()):
        return ordered_records_hash(())
    return ordered_records_hash(stored_records(session.connection(), batch_id))


def _lock_head(session: Session) -> LedgerHead:
    head = session.execute(
        select(LedgerHead)
        .where(LedgerHead.id == HEAD_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if head is None:  # a database created from the models rather than the migrations
        head = LedgerHead(id=HEAD_ID, seq=0, entry_hash=GENESIS_HASH)
        session.add(head)
        session.flush()
    return head


def _unpinned_unsigned_head(session: Session, head: LedgerHead) -> bool:
    """Whether the chain ends in entries no checkpoint pins and no signature covers: the
    unsigned entries of a version before entry signatures (or, at seq 0, a new hub)."""
    if head.seq:
        entries = LedgerEntry.__table__
        found = session.execute(
            select(entries.c.signature).where(entries.c.seq == head.seq)
        ).one_or_none()
        if found is None or found[0] is not None:
            return False  # already signed (or no such entry: verify reports it)
    pinned = session.scalar(
        select(LedgerCheckpoint.id).where(LedgerCheckpoint.seq >= head.seq).limit(1)
    )
    return pinned is None


def _pin_before_signing(session: Session, head: LedgerHead, settings: Settings) -> None:
    """Before the hub's first signed entry, sign a checkpoint over the chain as it is:
    over the unsigned entries written before entries were signed (verify accepts them
    only when a hub checkpoint pins them, so none can be slipped in between them and the
    signed ones), or, on a new hub, over the empty chain (so that from the first entry
    on, a hub key with no checkpoint left means checkpoints were deleted)."""
    if _unpinned_unsigned_head(session, head):
        _checkpoint(
            session, settings, f"the chain up to seq {head.seq}, before its first signed entry"
        )


def pin_legacy_entries(session: Session, settings: Settings) -> int | None:
    """Right after an upgrade to signed entries: a checkpoint over the unsigned entries
    the older version wrote, so that none can be added among them from now on (until
    the first batch wrote it, anyone able to write the database could). Returns the seq
    pinned, or None when there is nothing to pin (no entries, or already pinned or
    signed). Raises :class:`tongyuan.ledger.checkpoints.CheckpointRefused` when those
    entries do not verify."""
    from tongyuan.ledger.checkpoints import write_checkpoint

    if unpinned_legacy_seq(session) is None:
        return None
    return write_checkpoint(session, settings).seq


def unpinned_legacy_seq(session: Session) -> int | None:
    """The seq :func:`pin_legacy_entries` would pin (the chain ends in unsigned entries
    no checkpoint pins), or None; reads only, and needs no key."""
    head = session.get(LedgerHead, HEAD_ID)
    if head is None or not head.seq or not _unpinned_unsigned_head(session, head):
        return None
    return head.seq


def _checkpoint(session: Session, settings: Settings, why: str) -> None:
    """An automatic checkpoint; one the hub refuses to sign leaves the batch alone."""
    from tongyuan.ledger.checkpoints import CheckpointRefused, write_checkpoint

    try:
        written = write_checkpoint(session, settings)
    except CheckpointRefused as exc:
        log.error("ledger: no checkpoint over %s: %s", why, exc)
        return
    log.info("ledger checkpoint at seq %d over %s", written.seq, why)


def append_batch(session: Session, batch: Batch, *, settings: Settings) -> LedgerEntry:
    """Chain a just-closed batch to the ledger, with the digests of the rows it wrote,
    signed with the hub key.

    ``settings`` are those of the hub whose database ``session`` writes: its key (under
    that hub's secrets directory) signs the entry and any automatic checkpoint. They are
    never read from the environment here: a caller holding another hub's settings (an
    embedding application, the benchmarks, a test) would otherwise sign this ledger with
    the environment's hub key, which this hub's ``ledger verify`` rejects, and create key
    files in that other hub's home.
    """
    from tongyuan.config import Settings

    if not isinstance(settings, Settings):
        raise TypeError(
            f"batch {batch.id}: the ledger needs the Settings of the hub whose database is "
            f"written (its key signs the entry), not {type(settings).__name__}"
        )
    if batch.status == "running":
        raise ValueError(f"batch {batch.id} is still running; only closed batches are chained")
    session.flush()
    content, count = record_batch_rows(session, batch.id)
    fingerprint = (batch.meta or {}).get("signer_fingerprint")
    key = signing_key(settings)
    head = _lock_head(session)
    _pin_before_signing(session, head, settings)
    entry = LedgerEntry(
        seq=head.seq + 1,
        batch_id=batch.id,
        kind=batch.kind,
        source=batch.source,
        status=batch.status,
        read_count=batch.read_count,
        accepted_count=batch.accepted_count,
        quarantined_count=batch.quarantined_count,
        unchanged_count=batch.unchanged_count,
        input_hash=batch.content_hash,
        records_hash=content,
        record_count=count,
        signer_fingerprint=str(fingerprint) if fingerprint else None,
        recorded_at=utcnow(),
        prev_hash=head.entry_hash,
    )
    entry.entry_hash = compute_entry_hash(entry)
    entry.key_id = key.key_id
    entry.signature = sign_statement(key, entry_statement(entry.seq, entry.entry_hash, key.key_id))
    session.add(entry)
    head.seq, head.entry_hash = entry.seq, entry.entry_hash
    session.flush()
    forget_touched(session)
    log.debug("ledger seq %d: batch %s (%s), %d records", entry.seq, batch.id, batch.kind, count)
    every = checkpoint_every()
    if every and entry.seq % every == 0:
        _checkpoint(session, settings, f"entries up to seq {entry.seq}")
    return entry
