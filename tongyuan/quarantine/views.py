"""What people see of quarantine entries: rows for a listing, the detail of one entry.

Only masked data leaves here. The payload shown is the masked copy stored at quarantine
time (ID fields, ID-shaped text and the source columns the mapping names personal are
masked), masked again as entries are masked today (an entry stored before short IDs
showed at most a third still holds ``E123*5678``) and passed once more through
:func:`~standards.privacy.mask_text` so that a number that merely looks like a citizen
ID — in any field, of any type — is masked too. There is
deliberately no way to reveal the clear payload: replay decrypts it inside the hub only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from standards.privacy import mask_text
from standards.validation.rules import RULES, rule_title
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.quarantine import QuarantineEntry, ReplayOutcome, displayed_payload
from tongyuan.quarantine.selection import Selection, batch_sources, select_entries

# Origin keys safe to show: the configuration itself stays encrypted.
_SHOWN_ORIGIN = (
    "path", "source", "stream", "adapter", "form", "mapping", "files_dir", "kept_file",
)  # fmt: skip

STATUS_MEANINGS = {
    "open": "waiting for a fix; replay it once the source or mapping is corrected",
    "resolved": "a replay accepted the record; it is in its library now",
    "replayed": "replayed by an earlier version of the hub (kept for history)",
    "discarded": "set aside by an operator (quarantine discard); never replayed",
}


def masked(value: Any) -> Any:
    """Mask ID-shaped text anywhere in a JSON-able value (numbers included)."""
    return json.loads(mask_text(json.dumps(value, ensure_ascii=False)))


@dataclass(frozen=True, slots=True)
class EntryRow:
    """One line of ``quarantine list``."""

    id: int
    status: str
    kind: str
    rule: str
    rules: int
    source: str
    file: str
    record: int
    line: int | None
    replay_count: int
    created_at: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def list_entries(
    session: Session, selection: Selection, *, limit: int | None = None
) -> list[EntryRow]:
    """The entries a selection picks, newest last, with the source each came from."""
    entries = select_entries(session, selection, limit=limit)
    sources = batch_sources(session, (e.batch_id for e in entries))
    return [
        EntryRow(
            id=e.id,
            status=e.status,
            kind=e.kind,
            rule=e.rule,
            rules=len(e.rules or []),
            source=(e.origin or {}).get("source") or sources.get(e.batch_id, ""),
            file=mask_text(e.source_file),
            record=e.record_index,
            line=e.line,
            replay_count=e.replay_count,
            created_at=e.created_at.isoformat(timespec="seconds"),
        )
        for e in entries
    ]


def entry_detail(session: Session, entry_id: int) -> dict[str, Any]:
    """Everything about one entry a person may see; LookupError if there is none."""
    entry = session.get(QuarantineEntry, entry_id)
    if entry is None:
        raise LookupError(f"no quarantine entry {entry_id}")
    batch = session.get(Batch, entry.batch_id)
    history = session.scalars(
        select(ReplayOutcome).where(ReplayOutcome.entry_id == entry.id).order_by(ReplayOutcome.id)
    ).all()
    origin = {k: v for k, v in (entry.origin or {}).items() if k in _SHOWN_ORIGIN}
    detail = {
        "id": entry.id,
        "status": entry.status,
        "status_meaning": STATUS_MEANINGS.get(entry.status, ""),
        "kind": entry.kind,
        "batch": {
            "id": entry.batch_id,
            "kind": batch.kind if batch else None,
            "source": batch.source if batch else None,
        },
        "location": {"file": entry.source_file, "record": entry.record_index, "line": entry.line},
        "origin": origin or None,
        "rules": [
            {
                "rule": r.get("rule"),
                "title": rule_title(r.get("rule") or ""),
                "source": RULES[r["rule"]].source if r.get("rule") in RULES else None,
                "field": r.get("field"),
                "severity": r.get("severity"),
                "message": r.get("message"),
            }
            for r in entry.rules or []
        ],
        "payload": displayed_payload(entry.payload_masked, entry.origin),
        "replay_count": entry.replay_count,
        "resolved_batch_id": entry.resolved_batch_id,
        "created_at": entry.created_at.isoformat(timespec="seconds"),
        "updated_at": entry.updated_at.isoformat(timespec="seconds"),
        "replays": [
            {
                "batch_id": h.batch_id,
                "outcome": h.outcome,
                "rules": [r.get("rule") for r in h.rules or []],
                "message": h.message,
                "at": h.created_at.isoformat(timespec="seconds"),
            }
            for h in history
        ],
    }
    result: dict[str, Any] = masked(detail)
    return result
