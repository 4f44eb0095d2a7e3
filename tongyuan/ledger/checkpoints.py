"""Signed checkpoints: the hub's signature on "at seq N the chain ended in hash H".

Anyone able to write the database could recompute the whole chain after altering it;
they cannot sign as the hub. A checkpoint pins every entry up to its seq.

Checkpoints are themselves chained: each one signs its number (1, 2, 3 … in the order
they were written) and a link to the checkpoint before it (the SHA-256 of that one's
signature). Deleting a checkpoint in the middle breaks the signature of the next one;
deleting the *last* checkpoints (and the entries after the last one kept) is the one
change the database alone cannot reveal — an auditor who kept a copy of a later
checkpoint (``tongyuan ledger show --checkpoints --json``) or its number finds it
(``tongyuan ledger verify --checkpoint-copy`` / ``--expect-checkpoint``). Checkpoints
written before the chaining sign the first form of the statement (no number, no link)
and are still accepted.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongyuan.config import Settings
from tongyuan.ledger.hubkey import ALGORITHM, load_hub_key, sign_statement
from tongyuan.libraries.base import canonical_json, to_utc, utcnow
from tongyuan.libraries.ledger import GENESIS_HASH, LedgerCheckpoint, LedgerHead

STATEMENT = "tongyuan ledger checkpoint"


def checkpoint_link(previous_signature: str | None) -> str:
    """What a checkpoint signs about the one before it: the SHA-256 of its signature
    text (64 zeros for the first checkpoint)."""
    if previous_signature is None:
        return GENESIS_HASH
    return hashlib.sha256(previous_signature.encode("ascii", errors="replace")).hexdigest()


def checkpoint_statement(
    seq: int,
    entry_hash: str,
    created_at: datetime,
    key_id: str,
    *,
    number: int | None = None,
    previous: str | None = None,
) -> bytes:
    """The exact bytes a checkpoint signature covers; ``number`` and ``previous`` are
    present on chained checkpoints (both or neither), absent on the first form."""
    statement: dict[str, object] = {
        "statement": STATEMENT,
        "seq": seq,
        "entry_hash": entry_hash,
        "created_at": to_utc(created_at).isoformat(),
        "key_id": key_id,
    }
    if number is not None:
        statement["number"] = number
        statement["previous"] = previous
    return canonical_json(statement).encode("utf-8")


def write_checkpoint(session: Session, settings: Settings) -> LedgerCheckpoint:
    """Sign the current head of the chain with the hub key; flushed, not committed.

    The head row is locked first (as appends do), so two checkpoints written at once
    queue and the second links to the first instead of both claiming the same number.
    """
    head = session.execute(
        select(LedgerHead).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    seq, entry_hash = (0, GENESIS_HASH) if head is None else (head.seq, head.entry_hash)
    count = session.scalar(select(func.count()).select_from(LedgerCheckpoint)) or 0
    previous_signature = session.scalar(
        select(LedgerCheckpoint.signature).order_by(LedgerCheckpoint.id.desc()).limit(1)
    )
    number, previous = count + 1, checkpoint_link(previous_signature)
    key = load_hub_key(settings)
    created_at = utcnow()
    statement = checkpoint_statement(
        seq, entry_hash, created_at, key.key_id, number=number, previous=previous
    )
    checkpoint = LedgerCheckpoint(
        seq=seq,
        entry_hash=entry_hash,
        created_at=created_at,
        algorithm=ALGORITHM,
        key_id=key.key_id,
        public_key=key.public_pem,
        signature=sign_statement(key, statement),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint
