"""The entry hash and the hub's signature over it: one definition shared by the append,
the checkpoint and the verification.

The hash chain shows that entries were not changed *relative to each other*; anyone who
can write the database can still append a consistent entry of their own. The hub
therefore signs each entry hash with its key as it appends the entry, and verification
accepts an entry only with that signature — except entries written before signing
existed, which are accepted before the first signed entry (docs/ledger.md §4).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from tongyuan.ledger.hubkey import statement_verifier
from tongyuan.libraries.base import canonical_json, to_utc
from tongyuan.libraries.ledger import LedgerEntry

# Bumped if the hashed fields ever change, so old and new entries stay distinguishable.
ENTRY_FORMAT = 1


def entry_document(entry: LedgerEntry) -> dict[str, Any]:
    """Every field of the entry except its own hash, in a JSON-safe form."""
    return {
        "format": ENTRY_FORMAT,
        "seq": entry.seq,
        "batch_id": entry.batch_id,
        "kind": entry.kind,
        "source": entry.source,
        "status": entry.status,
        "read": entry.read_count,
        "accepted": entry.accepted_count,
        "quarantined": entry.quarantined_count,
        "unchanged": entry.unchanged_count,
        "input_hash": entry.input_hash,
        "records_hash": entry.records_hash,
        "record_count": entry.record_count,
        "signer_fingerprint": entry.signer_fingerprint,
        "recorded_at": to_utc(entry.recorded_at).isoformat(),
        "prev_hash": entry.prev_hash,
    }


def compute_entry_hash(entry: LedgerEntry) -> str:
    return hashlib.sha256(canonical_json(entry_document(entry)).encode("utf-8")).hexdigest()


ENTRY_STATEMENT = "tongyuan ledger entry"


def entry_statement(seq: int, entry_hash: str, key_id: str) -> bytes:
    """The exact bytes an entry's hub signature covers. The entry hash already covers
    every field and the previous entry; ``seq`` and ``key_id`` make the text readable on
    its own and bind the signature to the key named beside it."""
    statement = {
        "statement": ENTRY_STATEMENT,
        "seq": seq,
        "entry_hash": entry_hash,
        "key_id": key_id,
    }
    return canonical_json(statement).encode("utf-8")


class EntrySignatures:
    """Checks entries' hub signatures in ``seq`` order, remembering the unsigned prefix.

    ``keys`` maps key id to PEM public key: the keys the hub signs with. With ``pinned``
    (the keys are the hub's, known from outside) an entry by any other key is a problem;
    without (keys merely found in the copy's checkpoints) such an entry cannot be checked
    and is counted in ``unchecked``. Unsigned entries are legacy (written before entries
    were signed) only while no signed entry has been seen.
    """

    def __init__(self, keys: Mapping[str, str], *, pinned: bool = True) -> None:
        self._verifiers = {key_id: statement_verifier(pem) for key_id, pem in keys.items()}
        self._pinned = pinned
        self.first_signed: int | None = None
        # seq of a hub checkpoint promising that every later entry is signed
        self.signed_after: int | None = None
        self.legacy = 0
        self.last_legacy: int | None = None
        self.unchecked = 0

    def check(self, seq: int, entry_hash: str, key_id: str | None, signature: str | None) -> str:
        """Why the entry's signature is not acceptable, or "" when it is."""
        if signature is None:
            if self.first_signed is not None:
                return (
                    f"it carries no hub signature, yet entries before it (from seq "
                    f"{self.first_signed}) are signed — it was inserted, or its signature "
                    f"removed"
                )
            if self.signed_after is not None and seq > self.signed_after:
                return (
                    f"it carries no hub signature, yet the hub's checkpoint at seq "
                    f"{self.signed_after} says every later entry is signed — it was "
                    f"inserted, or its signature removed"
                )
            self.legacy += 1
            self.last_legacy = seq
            return ""
        if self.first_signed is None:
            self.first_signed = seq
        verifier = self._verifiers.get(key_id or "")
        if verifier is None and not self._pinned:
            self.unchecked += 1
            return ""
        if verifier is None:
            return (
                f"signed by key {str(key_id)[:16]}…, which is not the hub key — the entry "
                f"was not written by the hub"
            )
        if not verifier(entry_statement(seq, entry_hash, str(key_id)), signature):
            return "its hub signature does not verify — the entry was forged or altered"
        return ""
