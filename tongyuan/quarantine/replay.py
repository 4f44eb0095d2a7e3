"""Replaying quarantined records after their source or mapping was fixed.

A replay is one batch (kind ``replay``) and one transaction. Each open entry's payload is
decrypted and turned into a record the way it was the first time — a department row
through its adapter's mapping as configured *now* (re-read from the mapping file the
recorded adapter configuration names), a standard-form record through the standard
reader — then checked by the same checks and stored by the same
:class:`~tongyuan.storing.RecordStore` as a file load or a pull. An accepted record and
its entry's ``resolved`` status commit together, so a record is never both in a library
and in quarantine; a record that fails again stays open with the new findings (the
store's quarantine call finds the open entry by its payload hash and updates it) and one
more replay counted. Entries are locked while replayed (``SELECT … FOR UPDATE`` on
PostgreSQL; SQLite has one writer), and only open entries are replayed, so replaying a
resolved entry does nothing. Every attempt leaves a ``quarantine_replays`` row.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from adapters.sdk import AdapterError
from standards.formats import to_record
from standards.formats.raw import RawRecord
from standards.privacy import mask_text
from standards.records import Case, SourceLocation, StandardRecord
from standards.validation import CheckOptions, Finding
from standards.validation.batch import BatchUniqueness
from standards.validation.record_checks import check_record
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.batches import Batch, close_batch, open_batch
from tongyuan.libraries.case_owners import (
    REPLAY_OWNERS_META,
    ReplayedOwners,
    department_of_source,
)
from tongyuan.libraries.quarantine import (
    QuarantineEntry,
    ReplayOutcome,
    quarantined_origin,
    quarantined_payload,
)
from tongyuan.libraries.serials import DbSerialAllocator
from tongyuan.materials.kept import kept_copy, release_kept_file
from tongyuan.privacy import PiiProtector
from tongyuan.quarantine.origin import (
    FORM_SOURCE,
    OriginError,
    rebuild_source,
    restore,
    stream_mapping,
)
from tongyuan.quarantine.selection import Selection, SelectionError, select_entries
from tongyuan.quarantine.superseded import newer_delivery
from tongyuan.storing import RecordStore, StoreCounts

log = logging.getLogger(__name__)

ACCEPTED = ("added", "changed", "unchanged")

# Rules a record cannot be checked against alone: they concern the system that sent it
# (an item filed under a region outside that system's) or the delivery it came in (the
# same 实施编码 twice in one file). A replay has neither, so it would store the record the
# rule refused; such an entry closes when the system's corrected item is stored
# (superseded) or by ``discard``.
DELIVERY_RULES = frozenset({"item.region.outside_system", "item.key.duplicate"})


@dataclass(slots=True)
class EntryOutcome:
    """What the replay did with one entry (messages masked, rules with their ids)."""

    entry_id: int
    # added | changed | unchanged (stored now) | superseded (a later delivery is stored)
    # | quarantined | error (still open) | skipped (not open: nothing done)
    outcome: str
    rules: list[str] = field(default_factory=list)
    message: str | None = None

    @property
    def accepted(self) -> bool:
        return self.outcome in ACCEPTED


@dataclass(slots=True)
class ReplaySummary:
    """One replay: its batch (None for a dry run or nothing to do) and every entry's fate."""

    batch_id: str | None
    dry_run: bool
    outcomes: list[EntryOutcome] = field(default_factory=list)

    def count(self, *outcomes: str) -> int:
        return sum(o.outcome in outcomes for o in self.outcomes)

    @property
    def accepted(self) -> int:
        return self.count(*ACCEPTED)

    @property
    def resolved(self) -> int:
        return self.count(*ACCEPTED, "superseded")

    @property
    def still_open(self) -> int:
        return self.count("quarantined", "error")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "dry_run": self.dry_run,
            "replayed": len(self.outcomes) - self.skipped,
            "accepted": self.accepted,
            "resolved": self.resolved,
            "still_open": self.still_open,
            "skipped": self.skipped,
            "entries": [
                {"id": o.entry_id, "outcome": o.outcome, "rules": o.rules, "message": o.message}
                for o in self.outcomes
            ],
        }


class _Sources:
    """Adapters rebuilt from recorded configurations, once per configuration per replay."""

    def __init__(self) -> None:
        self._built: dict[str, Any] = {}

    def mapping(self, origin: dict[str, Any]) -> Any:
        key = repr(sorted((k, repr(v)) for k, v in origin.items() if k != "personal_columns"))
        if key not in self._built:
            try:
                self._built[key] = rebuild_source(origin)
            except OriginError as exc:
                self._built[key] = exc
        source = self._built[key]
        if isinstance(source, OriginError):
            raise source
        try:
            form, mapping = stream_mapping(source, origin["stream"])
        except AdapterError as exc:  # the mapping file is gone or no longer valid
            raise OriginError(str(exc)) from None
        if form != FORM_SOURCE or mapping is None:
            raise OriginError(
                f"adapter {origin.get('adapter')} no longer maps stream {origin['stream']!r}"
            )
        return mapping


class Replayer:
    """Replays entries of one hub; ``base_dir`` overrides where material files are found."""

    def __init__(
        self,
        settings: Settings,
        *,
        options: CheckOptions | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or CheckOptions()
        self.base_dir = base_dir
        self.protector = PiiProtector(settings.pii_key())
        self.engine = make_engine(settings.database_url)
        self.sessions = make_session_factory(self.engine)
        self.store = RecordStore(settings, self.protector, DbSerialAllocator(self.engine))

    def close(self) -> None:
        self.engine.dispose()

    def replay(self, selection: Selection, *, dry_run: bool = False) -> ReplaySummary:
        """Replay the selected entries; one committed batch unless ``dry_run``."""
        summary = ReplaySummary(batch_id=None, dry_run=dry_run)
        with self.sessions() as session:
            session.begin()
            try:
                entries = select_entries(session, selection, lock=True)
                todo = [e for e in entries if e.status == "open"]
                summary.outcomes.extend(
                    EntryOutcome(e.id, "skipped", message=f"status is {e.status}")
                    for e in entries
                    if e.status != "open"
                )
                if not todo:
                    session.rollback()
                    return summary
                batch = open_batch(
                    session, "replay", f"quarantine:{selection.describe()}",
                    meta={"selection": selection.as_dict(), "entries": len(todo)},
                )  # fmt: skip
                counts = StoreCounts()
                # Keys are unique within one delivery, as when it was loaded: entries of
                # different deliveries may hold the same record (fixed and sent again).
                uniqueness: dict[str, BatchUniqueness] = defaultdict(BatchUniqueness)
                sources = _Sources()
                # Whose case each case this replay first stores is: the delivery it came
                # from says, and the entry's payload may not name the case (a department
                # row), so the replay records it (see ReplayedOwners).
                owners = ReplayedOwners()
                owners.start(session, batch.id)
                now = datetime.now(UTC)
                for entry in todo:
                    summary.outcomes.append(
                        self._replay_one(
                            session, batch, entry, counts, uniqueness, sources, owners, now
                        )
                    )
                finish = getattr(self.store, "finish_batch", None)
                if callable(finish):  # derived facts of the cases written (timeliness)
                    finish(session, batch.id)
                recorded = owners.as_meta()
                batch.meta = {**(batch.meta or {}), REPLAY_OWNERS_META: recorded}
                close_batch(
                    session,
                    batch,
                    read=len(todo),
                    accepted=counts.added + counts.changed,
                    quarantined=summary.still_open,
                    unchanged=counts.unchanged + summary.count("superseded"),
                    status="committed",
                    settings=self.settings,
                    # The ledger vouches for the batch's content hash: that of the owners.
                    content_hash=ReplayedOwners.digest(recorded),
                )
                if dry_run:
                    session.rollback()
                else:
                    session.commit()
                    summary.batch_id = batch.id
            except BaseException:
                session.rollback()
                raise
        log.info(
            "replay %s%s: %d replayed, %d accepted, %d still open, %d skipped",
            selection.describe(),
            " (dry run)" if dry_run else "",
            len(summary.outcomes) - summary.skipped,
            summary.accepted,
            summary.still_open,
            summary.skipped,
        )
        return summary

    def _remake(
        self, entry: QuarantineEntry, sources: _Sources
    ) -> tuple[Any, StandardRecord | None, list[Finding], Path | None, dict[str, Any] | None]:
        """The payload as stored and the record it becomes today, with its findings."""
        payload = quarantined_payload(entry, protector=self.protector)
        origin = quarantined_origin(entry, protector=self.protector)
        location = SourceLocation(entry.source_file, entry.record_index, entry.line)
        base_dir = self.base_dir
        if base_dir is None and origin is not None and origin.get("files_dir"):
            base_dir = Path(origin["files_dir"])
        if origin is not None and origin.get("path") == "pull":
            if origin.get("form") == FORM_SOURCE:
                mapping = sources.mapping(origin)
                record, findings = mapping.map(restore(payload), location)
                if record is not None:
                    findings = findings + check_record(record, self.options)
                return payload, record, findings, base_dir, origin
        elif base_dir is None:
            candidate = Path(entry.source_file)
            if candidate.is_file():
                base_dir = candidate.parent
        record, findings = to_record(RawRecord(entry.kind, location, dict(payload)))
        if record is not None:
            # A kept copy of the file is admitted instead of the folder's (judged there).
            files_at = None if kept_copy(self.settings, origin, record) else base_dir
            findings = findings + check_record(record, self.options, base_dir=files_at)
        return payload, record, findings, base_dir, origin

    def _replay_one(
        self,
        session: Session,
        batch: Batch,
        entry: QuarantineEntry,
        counts: StoreCounts,
        uniqueness: dict[str, BatchUniqueness],
        sources: _Sources,
        owners: ReplayedOwners,
        now: datetime,
    ) -> EntryOutcome:
        location = SourceLocation(entry.source_file, entry.record_index, entry.line)
        try:
            payload, record, findings, base_dir, origin = self._remake(entry, sources)
        except (OriginError, ValueError, LookupError, TypeError) as exc:
            # Could not even be re-read (adapter gone, config now invalid): stays open.
            message = mask_text(f"{type(exc).__name__}: {exc}")
            return self._still_open(session, batch, entry, "error", entry.rules, message)
        if record is not None:
            newer = newer_delivery(session, record, entry.created_at, replaying=batch.id)
            if newer is not None:
                # Fixed at the source and delivered again since: the old row is obsolete.
                message = f"the library holds a later delivery of this record (batch {newer})"
                self._close(session, batch, entry, "superseded", message, self.settings)
                return EntryOutcome(entry.id, "superseded", message=message)
            findings = findings + uniqueness[entry.batch_id].check(record, location)
        context = sorted(DELIVERY_RULES.intersection(r["rule"] for r in entry.rules))
        if context:
            message = (
                f"{', '.join(context)} concerns the system or the delivery the record came "
                "from, which a replay does not have: it closes as superseded once the "
                "system's corrected item is stored, or with `tongyuan quarantine discard`"
            )
            return self._still_open(session, batch, entry, "error", entry.rules, message)
        pulled = origin is not None and origin.get("path") == "pull"
        source = f"adapter:{origin.get('source')}" if pulled else "replay"
        # Quarantined again, the entry may name another copy: this transaction sweeps.
        release_kept_file(self.settings, session, origin)
        outcome = self.store.store(
            session,
            batch.id,
            counts,
            kind=entry.kind,
            location=location,
            raw=payload,
            record=record,
            findings=findings,
            source=source,
            now=now,
            base_dir=base_dir,
            origin=origin,
            material_file=kept_copy(self.settings, origin, record),
        )
        if outcome == "added" and isinstance(record, Case):
            # Stored first by this replay: it belongs to the department whose delivery it
            # came from, the one the store checked it against.
            owners.add(record.source_system, record.dept_case_no, department_of_source(source))
        if outcome in ACCEPTED:
            self._close(session, batch, entry, outcome, None, self.settings)
            return EntryOutcome(entry.id, outcome)
        session.refresh(entry)  # the store updated its rules in place
        return self._still_open(session, batch, entry, "quarantined", entry.rules, entry.message)

    @staticmethod
    def _close(
        session: Session,
        batch: Batch,
        entry: QuarantineEntry,
        outcome: str,
        message: str | None,
        settings: Settings,
    ) -> None:
        """Resolve the entry in the transaction that stored (or found) its record; a
        material file kept for it goes once that transaction committed."""
        release_kept_file(settings, session, entry.origin)
        entry.status = "resolved"
        entry.resolved_batch_id = batch.id
        entry.replay_count += 1
        entry.updated_at = datetime.now(UTC)
        session.add(
            ReplayOutcome(
                batch_id=batch.id, entry_id=entry.id, outcome=outcome, rules=[],
                message=message, created_at=entry.updated_at,
            )
        )  # fmt: skip
        session.flush()

    @staticmethod
    def _still_open(
        session: Session,
        batch: Batch,
        entry: QuarantineEntry,
        outcome: str,
        rules: list[dict[str, Any]],
        message: str | None,
    ) -> EntryOutcome:
        entry.replay_count += 1
        entry.updated_at = datetime.now(UTC)
        session.add(
            ReplayOutcome(
                batch_id=batch.id, entry_id=entry.id, outcome=outcome, rules=list(rules),
                message=message, created_at=entry.updated_at,
            )
        )  # fmt: skip
        session.flush()
        return EntryOutcome(entry.id, outcome, [r["rule"] for r in rules], message)


def replay(
    settings: Settings,
    selection: Selection,
    *,
    dry_run: bool = False,
    base_dir: Path | None = None,
    options: CheckOptions | None = None,
) -> ReplaySummary:
    """Replay the entries ``selection`` picks (see :class:`Selection`)."""
    replayer = Replayer(settings, options=options, base_dir=base_dir)
    try:
        return replayer.replay(selection, dry_run=dry_run)
    finally:
        replayer.close()


def replay_ids(settings: Settings, ids: Sequence[int], *, dry_run: bool = False) -> ReplaySummary:
    """Replay these entries (resolved ones are reported as skipped, nothing else happens)."""
    return replay(settings, Selection(ids=tuple(ids)), dry_run=dry_run)


def discard(settings: Settings, ids: Sequence[int], *, reason: str) -> ReplaySummary:
    """Set open entries aside for good (the source will never send them right).

    One batch of kind ``quarantine.discard`` records who-knows-why in its history rows, so
    the decision is in the ledger like every other change; only open entries move.
    """
    if not reason.strip():
        raise SelectionError("give the reason an entry is discarded")
    engine = make_engine(settings.database_url)
    summary = ReplaySummary(batch_id=None, dry_run=False)
    try:
        with make_session_factory(engine).begin() as session:
            entries = select_entries(session, Selection(ids=tuple(ids)), lock=True)
            todo = [e for e in entries if e.status == "open"]
            summary.outcomes.extend(
                EntryOutcome(e.id, "skipped", message=f"status is {e.status}")
                for e in entries
                if e.status != "open"
            )
            if not todo:
                return summary
            batch = open_batch(session, "quarantine.discard", "quarantine",
                               meta={"entries": [e.id for e in todo]})  # fmt: skip
            message = mask_text(reason.strip())
            now = datetime.now(UTC)
            for entry in todo:
                release_kept_file(settings, session, entry.origin)
                entry.status = "discarded"
                entry.updated_at = now
                session.add(
                    ReplayOutcome(batch_id=batch.id, entry_id=entry.id, outcome="discarded",
                                  rules=[], message=message, created_at=now)
                )  # fmt: skip
                summary.outcomes.append(EntryOutcome(entry.id, "discarded", message=message))
            session.flush()
            close_batch(session, batch, read=len(todo), accepted=0, quarantined=0,
                        unchanged=0, status="committed", settings=settings)  # fmt: skip
            summary.batch_id = batch.id
    finally:
        engine.dispose()
    return summary
