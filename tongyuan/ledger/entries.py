"""The entry hash: one definition shared by the append and the verification."""

from __future__ import annotations

import hashlib
from typing import Any

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
