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

The hub signs a checkpoint only over a chain it can vouch for: the entries since its last
checkpoint must link, hash and carry its signature (:class:`CheckpointRefused`
otherwise), so a forged entry slipped in at the end is never signed over.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongyuan.config import Settings
from tongyuan.ledger.entries import EntrySignatures, compute_entry_hash
from tongyuan.ledger.hubkey import (
    ALGORITHM,
    HubKey,
    load_hub_key,
    sign_statement,
    verify_statement,
)
from tongyuan.libraries.base import canonical_json, to_utc, utcnow
from tongyuan.libraries.ledger import GENESIS_HASH, LedgerCheckpoint, LedgerEntry, LedgerHead

# How many problems a refusal names (the rest: ``tongyuan ledger verify``).
_REFUSAL_PROBLEMS = 5


class CheckpointRefused(RuntimeError):
    """The entries a new checkpoint would pin do not verify: the hub will not sign them."""


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
    entries_signed: bool = False,
) -> bytes:
    """The exact bytes a checkpoint signature covers; ``number`` and ``previous`` are
    present on chained checkpoints (both or neither), absent on the first form.
    ``entries_signed`` (``"entries": "signed"``, chained form only) is the hub's word that
    it signs every entry after this checkpoint: unsigned ones there are not legacy."""
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
        if entries_signed:
            statement["entries"] = "signed"
    return canonical_json(statement).encode("utf-8")


FORM_SIGNED_ENTRIES, FORM_CHAINED, FORM_FIRST = "signed-entries", "chained", "first"


def checkpoint_form(row: Any, number: int, previous_signature: str | None) -> str | None:
    """Which statement the checkpoint's signature verifies as at this position: chained
    with the signed-entries promise (written since entries are signed), chained, the
    first form (no number, no link); None: none of them."""
    args = (row["seq"], row["entry_hash"], row["created_at"], row["key_id"])
    link = checkpoint_link(previous_signature)
    for form, statement in (
        (
            FORM_SIGNED_ENTRIES,
            checkpoint_statement(*args, number=number, previous=link, entries_signed=True),
        ),
        (FORM_CHAINED, checkpoint_statement(*args, number=number, previous=link)),
        (FORM_FIRST, checkpoint_statement(*args)),
    ):
        if verify_statement(row["public_key"], statement, row["signature"]):
            return form
    return None


def _last_own_checkpoint(rows: list[Any], key: HubKey) -> tuple[int, str, str] | None:
    """(seq, entry hash, form) of the latest checkpoint this hub key really signed."""
    found, previous = None, None
    for number, row in enumerate(rows, start=1):
        own = row["key_id"] == key.key_id and row["public_key"] == key.public_pem
        form = checkpoint_form(row, number, previous) if own else None
        if form is not None:
            found = (row["seq"], row["entry_hash"], form)
        previous = row["signature"]
    return found


def unpinned_entry_problems(session: Session, key: HubKey, head: LedgerHead | None) -> list[str]:
    """What is wrong with the entries after the hub's last own checkpoint: they must
    continue the chain it signed, link and hash, and be signed by ``key`` (unsigned ones
    only before the first signed entry, as written before entries were signed)."""
    table = LedgerCheckpoint.__table__
    rows = list(session.execute(select(table).order_by(table.c.id)).mappings())
    pinned = _last_own_checkpoint(rows, key)
    since, pinned_hash, form = pinned if pinned is not None else (0, GENESIS_HASH, None)
    entries = LedgerEntry.__table__
    problems: list[str] = []
    previous_seq, previous_hash = since, pinned_hash
    if since:
        at = session.scalar(select(entries.c.entry_hash).where(entries.c.seq == since))
        if at != pinned_hash:
            problems.append(
                f"the chain at seq {since} no longer has the hash the hub's last checkpoint signed"
            )
    signatures = EntrySignatures({key.key_id: key.public_pem})
    signatures.first_signed = _first_signed_before(session, since)
    if form == FORM_SIGNED_ENTRIES:
        signatures.signed_after = since
    statement = select(entries).where(entries.c.seq > since).order_by(entries.c.seq)
    for row in session.execute(statement).mappings():
        entry = LedgerEntry(**dict(row))
        where = f"entry seq {entry.seq} (batch {entry.batch_id})"
        if entry.seq != previous_seq + 1 or entry.prev_hash != previous_hash:
            problems.append(f"{where} does not follow the entry before it")
        if compute_entry_hash(entry) != entry.entry_hash:
            problems.append(f"{where} no longer matches its entry hash")
        reason = signatures.check(entry.seq, entry.entry_hash, entry.key_id, entry.signature)
        if reason:
            problems.append(f"{where}: {reason}")
        previous_seq, previous_hash = entry.seq, entry.entry_hash
    head_at = (0, GENESIS_HASH) if head is None else (head.seq, head.entry_hash)
    if head_at != (previous_seq, previous_hash) and not problems:
        problems.append(
            f"the chain head says seq {head_at[0]} but the chain ends at seq {previous_seq}"
        )
    return problems


def _first_signed_before(session: Session, seq: int) -> int | None:
    """The first signed entry at or before ``seq`` (entries after it must be signed)."""
    entries = LedgerEntry.__table__
    found: int | None = session.scalar(
        select(entries.c.seq)
        .where(entries.c.seq <= seq, entries.c.signature.is_not(None))
        .order_by(entries.c.seq)
        .limit(1)
    )
    return found


def recorded_key_id(session: Session) -> str | None:
    """The key_id of the ledger's latest checkpoint — the hub key the ledger already
    records — or None when it has no checkpoint yet."""
    return session.scalar(
        select(LedgerCheckpoint.key_id).order_by(LedgerCheckpoint.id.desc()).limit(1)
    )


def write_checkpoint(session: Session, settings: Settings) -> LedgerCheckpoint:
    """Sign the current head of the chain with the hub key; flushed, not committed.

    The head row is locked first (as appends do), so two checkpoints written at once
    queue and the second links to the first instead of both claiming the same number.
    Raises :class:`CheckpointRefused` when the entries since the hub's last checkpoint
    do not verify (see :func:`unpinned_entry_problems`).
    """
    head = session.execute(
        select(LedgerHead).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    seq, entry_hash = (0, GENESIS_HASH) if head is None else (head.seq, head.entry_hash)
    key = load_hub_key(settings)
    problems = unpinned_entry_problems(session, key, head)
    if problems:
        shown = "; ".join(problems[:_REFUSAL_PROBLEMS])
        more = len(problems) - _REFUSAL_PROBLEMS
        raise CheckpointRefused(
            f"refusing to sign a checkpoint at seq {seq}: {shown}"
            + (f" (and {more} more)" if more > 0 else "")
            + " — run tongyuan ledger verify"
        )
    previous_signature = session.scalar(
        select(LedgerCheckpoint.signature).order_by(LedgerCheckpoint.id.desc()).limit(1)
    )
    count = session.scalar(select(func.count()).select_from(LedgerCheckpoint)) or 0
    number, previous = count + 1, checkpoint_link(previous_signature)
    created_at = utcnow()
    statement = checkpoint_statement(
        seq, entry_hash, created_at, key.key_id, number=number, previous=previous,
        entries_signed=True,
    )  # fmt: skip
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
