"""Signed checkpoints: the hub's signature on "at seq N the chain ended in hash H".

Anyone able to write the database could recompute the whole chain after altering it;
they cannot sign as the hub. A checkpoint pins every entry up to its seq.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tongyuan.config import Settings
from tongyuan.ledger.hubkey import ALGORITHM, load_hub_key, sign_statement
from tongyuan.libraries.base import canonical_json, to_utc, utcnow
from tongyuan.libraries.ledger import GENESIS_HASH, LedgerCheckpoint, LedgerHead


def checkpoint_statement(seq: int, entry_hash: str, created_at: datetime, key_id: str) -> bytes:
    """The exact bytes a checkpoint signature covers."""
    return canonical_json(
        {
            "statement": "tongyuan ledger checkpoint",
            "seq": seq,
            "entry_hash": entry_hash,
            "created_at": to_utc(created_at).isoformat(),
            "key_id": key_id,
        }
    ).encode("utf-8")


def write_checkpoint(session: Session, settings: Settings) -> LedgerCheckpoint:
    """Sign the current head of the chain with the hub key; flushed, not committed."""
    head = session.execute(
        select(LedgerHead).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    seq, entry_hash = (0, GENESIS_HASH) if head is None else (head.seq, head.entry_hash)
    key = load_hub_key(settings)
    created_at = utcnow()
    checkpoint = LedgerCheckpoint(
        seq=seq,
        entry_hash=entry_hash,
        created_at=created_at,
        algorithm=ALGORITHM,
        key_id=key.key_id,
        public_key=key.public_pem,
        signature=sign_statement(
            key, checkpoint_statement(seq, entry_hash, created_at, key.key_id)
        ),
    )
    session.add(checkpoint)
    session.flush()
    return checkpoint
