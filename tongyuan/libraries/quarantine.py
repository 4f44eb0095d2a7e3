"""The quarantine library: records that broke a rule, kept whole so they can be replayed.

The raw payload may hold personal IDs in any field, so it is stored encrypted as a whole;
a masked copy serves display. Adding the same payload from the same place again, while an
earlier entry is still open, returns that entry instead of piling up duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from standards.privacy import mask_id, mask_text
from standards.records import SourceLocation
from standards.surrogates import (
    describe_surrogate,
    escape_surrogates,
    escape_text,
    first_surrogate,
    has_surrogate,
)
from standards.validation.findings import Finding
from tongyuan.libraries.base import Base, JsonDoc, UtcDateTime, canonical_json, utcnow
from tongyuan.privacy import PiiProtector, mask_payload

QuarantineStatus = Literal["open", "replayed", "resolved", "discarded"]
QUARANTINE_STATUSES: tuple[str, ...] = ("open", "replayed", "resolved", "discarded")


class QuarantineEntry(Base):
    __tablename__ = "quarantine"
    __table_args__ = (CheckConstraint(f"status IN {QUARANTINE_STATUSES!r}", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    source_file: Mapped[str] = mapped_column(String(1024))
    record_index: Mapped[int] = mapped_column(Integer)
    line: Mapped[int | None] = mapped_column(Integer)
    payload_enc: Mapped[str] = mapped_column(Text)
    # Keyed hash of the canonical payload: finds duplicates without exposing content.
    payload_hash: Mapped[str] = mapped_column(String(64), index=True)
    payload_masked: Mapped[Any] = mapped_column(JsonDoc)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    rule: Mapped[str] = mapped_column(String(64), index=True)
    message: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    replay_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Where the payload came from, for replay (migration 0007): ``origin`` is the
    # displayable part (path, source, stream, adapter, mapping file); ``origin_enc`` the
    # whole of it, adapter configuration included, encrypted like the payload.
    origin: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)
    origin_enc: Mapped[str | None] = mapped_column(Text)
    resolved_batch_id: Mapped[str | None] = mapped_column(ForeignKey("batches.id"))


class ReplayOutcome(Base):
    """What one replay did with one entry: the replay batch's per-entry history."""

    __tablename__ = "quarantine_replays"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("quarantine.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class QuarantineRequest:
    """One record to quarantine, as :func:`add_quarantined_many` takes it."""

    batch_id: str
    kind: str
    location: SourceLocation
    payload: Any
    findings: Sequence[Finding]
    origin: dict[str, Any] | None = None


def add_quarantined(
    session: Session,
    batch_id: str,
    *,
    kind: str,
    location: SourceLocation,
    payload: Any,
    findings: Sequence[Finding],
    protector: PiiProtector,
    origin: dict[str, Any] | None = None,
) -> int:
    """Quarantine one record; returns the entry id (an existing open one for a repeat).

    ``origin`` says how to rebuild what produced the payload (see
    :mod:`tongyuan.quarantine.origin`); its ``config`` key is kept only encrypted.
    """
    request = QuarantineRequest(batch_id, kind, location, payload, findings, origin)
    hashed = _Hashed.of(request, protector)
    existing = _open_entries(session, [hashed.payload_hash]).get(hashed.payload_hash)
    if existing is not None:
        _refresh_rules(session, existing, request.findings, hashed.rules)
        _adopt_kept_file(session, existing, request.origin, protector)
        return existing.id
    (entry_id,) = _insert(session, [hashed.entry_values(protector, utcnow())], returning=True)
    return entry_id


def add_quarantined_many(
    session: Session, requests: Sequence[QuarantineRequest], *, protector: PiiProtector
) -> None:
    """Quarantine many records at once, exactly as one :func:`add_quarantined` call each
    in turn would (a repeat of an open entry updates it, entries keep the order given).

    One lookup per few hundred records and one executemany instead of an ORM flush per
    record: a load quarantining thousands of records spent most of a millisecond on each.
    """
    if not requests:
        return
    all_hashed = [_Hashed.of(request, protector) for request in requests]
    existing: dict[str, QuarantineEntry] = {}
    hashes = list(dict.fromkeys(hashed.payload_hash for hashed in all_hashed))
    for start in range(0, len(hashes), _LOOKUP_CHUNK):
        existing.update(_open_entries(session, hashes[start : start + _LOOKUP_CHUNK]))
    new: dict[str, dict[str, Any]] = {}
    now = utcnow()
    for hashed in all_hashed:
        findings, rules = hashed.request.findings, hashed.rules
        entry = existing.get(hashed.payload_hash)
        if entry is not None:
            _refresh_rules(session, entry, findings, rules)
            _adopt_kept_file(session, entry, hashed.request.origin, protector)
        elif hashed.payload_hash in new:
            values = new[hashed.payload_hash]
            if values["rules"] != rules:
                values.update(_rule_columns(findings, rules), updated_at=utcnow())
        else:
            new[hashed.payload_hash] = hashed.entry_values(protector, now)
    if new:
        _insert(session, list(new.values()))


def _insert(session: Session, rows: list[dict[str, Any]], *, returning: bool = False) -> list[int]:
    """Insert new entries (Core, one statement); their ids when ``returning``."""
    session.flush()  # the batch row and anything else pending goes first
    table = QuarantineEntry.__table__
    if not returning:
        session.connection().execute(table.insert(), rows)
        return []
    statement = table.insert().returning(table.c.id)
    return [session.connection().execute(statement, row).scalar_one() for row in rows]


# Hashes per lookup: far below every backend's limit on bound parameters.
_LOOKUP_CHUNK = 500


def _open_entries(session: Session, hashes: list[str]) -> dict[str, QuarantineEntry]:
    """The open entries with these payload hashes.

    By the hash alone, then the status here: with both in the WHERE clause SQLite may pick
    the status index and walk every open entry, once per quarantined record.
    """
    found: dict[str, QuarantineEntry] = {}
    for entry in session.scalars(
        select(QuarantineEntry).where(QuarantineEntry.payload_hash.in_(hashes))
    ):
        if entry.status == "open":
            found.setdefault(entry.payload_hash, entry)
    return found


def _rule_columns(findings: Sequence[Finding], rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rules": rules, "rule": findings[0].rule, "message": rules[0]["message"] or ""}


def _refresh_rules(
    session: Session,
    entry: QuarantineEntry,
    findings: Sequence[Finding],
    rules: list[dict[str, Any]],
) -> None:
    """A repeat of an open entry: the rules it breaks now replace those it broke."""
    if entry.rules == rules:
        return
    for name, value in _rule_columns(findings, rules).items():
        setattr(entry, name, value)
    entry.updated_at = utcnow()
    session.flush()


# The origin key naming a material's kept file (tongyuan.materials.kept.ORIGIN_KEY).
KEPT_FILE = "kept_file"


def _adopt_kept_file(
    session: Session,
    entry: QuarantineEntry,
    origin: dict[str, Any] | None,
    protector: PiiProtector,
) -> None:
    """A repeat of an open entry whose delivery kept the material's file, when the entry
    kept none (its first delivery's file was missing): the entry takes the new origin,
    so the kept copy is named and a replay finds it."""
    kept = (origin or {}).get(KEPT_FILE)
    if kept is None or (entry.origin or {}).get(KEPT_FILE) == kept:
        return
    assert origin is not None
    entry.origin = {k: v for k, v in origin.items() if k != "config"}
    entry.origin_enc = protector.encrypt(canonical_json(origin))
    entry.updated_at = utcnow()
    session.flush()


@dataclass(frozen=True, slots=True)
class _Hashed:
    """A request with its canonical text, the keyed hash that finds a repeat, and its
    findings as stored (messages masked)."""

    request: QuarantineRequest
    text: str
    payload_hash: str
    rules: list[dict[str, Any]]

    @classmethod
    def of(cls, request: QuarantineRequest, protector: PiiProtector) -> _Hashed:
        if not request.findings:
            raise ValueError(f"{request.location}: a quarantined record needs at least one finding")
        text = canonical_json(request.payload)
        if has_surrogate(text) or _surrogate_around(request):
            request = _storable(request)
            text = canonical_json(request.payload)
        location = request.location
        payload_hash = protector.exact_hash(
            f"{request.kind}\n{location.file}\n{location.record}\n{text}"
        )
        rules = [{**f.as_dict(), "message": mask_text(f.message)} for f in request.findings]
        return cls(request, text, payload_hash, rules)

    def entry_values(self, protector: PiiProtector, now: datetime) -> dict[str, Any]:
        """Every column of a new entry (the same keys for every entry: one executemany)."""
        request = self.request
        origin, location = request.origin, request.location
        return {
            "batch_id": request.batch_id,
            "kind": request.kind,
            "source_file": location.file,
            "record_index": location.record,
            "line": location.line,
            "payload_enc": protector.encrypt(self.text),
            "payload_hash": self.payload_hash,
            "payload_masked": displayed_payload(request.payload, origin),
            **_rule_columns(request.findings, self.rules),
            "status": "open",
            "replay_count": 0,
            "created_at": now,
            "updated_at": now,
            "origin": None
            if origin is None
            else {k: v for k, v in origin.items() if k != "config"},
            "origin_enc": None if origin is None else protector.encrypt(canonical_json(origin)),
        }


def _surrogate_around(request: QuarantineRequest) -> bool:
    """Whether the location or a finding (a hand-written source's) holds a lone surrogate."""
    return has_surrogate(request.location.file) or any(
        has_surrogate(f.message) or has_surrogate(f.field or "") for f in request.findings
    )


def _storable(request: QuarantineRequest) -> QuarantineRequest:
    """A request whose lone surrogates (standards.surrogates) are escaped, with a finding
    naming the field, so that the entry can be stored, encrypted and hashed at all.

    The readers refuse such rows where they can name the line (a JSON ``"\\udcb0"``
    escape); this is the last line for what no reader saw: a hand-written source's row,
    a standard-form payload whose record was refused for the character. Before it, one
    such value made the whole batch fail with a bare UnicodeEncodeError.
    """
    location = request.location
    findings = [
        Finding(f.rule, escape_text(f.message), escape_text(f.field) if f.field else f.field,
                f.severity)
        for f in request.findings
    ]  # fmt: skip
    hit = first_surrogate(request.payload)
    if hit is not None:
        field, char = hit
        findings.append(
            Finding(
                "mapping.encoding",
                f"{escape_text(location.file)}, record {location.record}: {field} holds "
                f"{describe_surrogate(char)}, a lone surrogate (half of a UTF-16 pair, not a "
                "character): the sender's text is broken; the payload is kept with each "
                "such value written as \\uXXXX",
                field,
            )
        )
    return replace(
        request,
        location=SourceLocation(escape_text(location.file), location.record, location.line),
        payload=escape_surrogates(request.payload),
        findings=findings,
    )


def displayed_payload(payload: Any, origin: dict[str, Any] | None) -> Any:
    """A payload fit for display: ID fields and IDs in text masked
    (:func:`tongyuan.privacy.mask_payload`), and the source columns the mapping names
    personal (``origin["personal_columns"]``).

    Made when an entry is stored (``payload_masked``) and made again of that stored copy
    whenever it is shown: masking only stars, so a masked payload stays as it is, except
    where masks differ now (entries stored before at-most-a-third hold a passport as
    ``E123*5678``, shown ``E******78``).
    """
    personal = frozenset((origin or {}).get("personal_columns") or ())
    return _mask_columns(mask_payload(payload), personal)


def _mask_columns(value: Any, columns: frozenset[str]) -> Any:
    """Mask the values of source columns the mapping says hold personal IDs, at any depth."""
    if not columns:
        return value
    if isinstance(value, dict):
        return {
            key: mask_id(str(item).strip())
            if key in columns and isinstance(item, str | int)
            else _mask_columns(item, columns)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask_columns(item, columns) for item in value]
    return value


def quarantined_payload(entry: QuarantineEntry, *, protector: PiiProtector) -> Any:
    """The original payload, decrypted (for replay after a fix)."""
    return json.loads(protector.decrypt(entry.payload_enc))


def quarantined_origin(entry: QuarantineEntry, *, protector: PiiProtector) -> dict[str, Any] | None:
    """The whole origin, adapter configuration included (None for entries before 0007)."""
    if entry.origin_enc is None:
        return None
    origin: dict[str, Any] = json.loads(protector.decrypt(entry.origin_enc))
    return origin


def set_quarantine_status(
    session: Session, entry_id: int, status: QuarantineStatus, *, replayed: bool = False
) -> QuarantineEntry:
    """Move an entry along its workflow; ``replayed`` counts one more replay attempt."""
    if status not in QUARANTINE_STATUSES:
        raise ValueError(f"unknown quarantine status {status!r}")
    entry = session.get(QuarantineEntry, entry_id)
    if entry is None:
        raise LookupError(f"no quarantine entry {entry_id}")
    entry.status = status
    if replayed:
        entry.replay_count += 1
    entry.updated_at = utcnow()
    session.flush()
    return entry
