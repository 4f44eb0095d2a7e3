"""Storing checked records: into their library, or into quarantine with every broken rule.

Shared by every way records reach the hub (exchange files, adapter pulls), so a record is
judged and stored the same way whatever brought it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, inspect, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from standards.privacy import mask_text
from standards.records import Case, Item, License, Material, SourceLocation, StandardRecord
from standards.validation import Finding, Severity
from standards.validation.material_files import safe_relative_path
from tongyuan.config import Settings
from tongyuan.db.errors import describe_error
from tongyuan.ingest.library_checks import CaseLibraryChecks
from tongyuan.ingest.timeliness import TimelinessCounts, recompute_batch
from tongyuan.libraries.case_owners import department_of_source
from tongyuan.libraries.cases import CaseHistoryConflict, CaseRow, write_case
from tongyuan.libraries.items import ItemVersion, write_item
from tongyuan.libraries.licenses import LicenseRow, write_license
from tongyuan.libraries.materials import MaterialRow, write_material
from tongyuan.libraries.quarantine import QuarantineRequest, add_quarantined_many
from tongyuan.libraries.serials import DbSerialAllocator
from tongyuan.licensing.files import attach_license_files, store_license_files
from tongyuan.materials.intake import MaterialRejected, admit_material_file
from tongyuan.materials.kept import keep_material_file, with_kept_file
from tongyuan.privacy import PiiProtector


@dataclass(slots=True)
class StoreCounts:
    """Per-batch tallies: what was read, what each record's outcome was, which rules broke."""

    read: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    warnings: int = 0
    rules: Counter[str] = field(default_factory=Counter)

    @property
    def accepted(self) -> int:
        return self.added + self.changed

    def reset(self) -> None:
        self.added = self.changed = self.unchanged = self.quarantined = self.warnings = 0
        self.rules.clear()


class RecordStore:
    """Writes checked records of one hub; callers own the session and its transaction."""

    def __init__(
        self, settings: Settings, protector: PiiProtector, allocator: DbSerialAllocator
    ) -> None:
        self.settings = settings
        self.protector = protector
        self.allocator = allocator
        # Cases are checked against the libraries on every path that stores them.
        self.case_checks = CaseLibraryChecks(settings)
        # Quarantined records held back while quarantine_in_bulk is active.
        self._held: list[QuarantineRequest] | None = None

    @contextmanager
    def quarantine_in_bulk(self, session: Session) -> Iterator[None]:
        """Records quarantined inside are written together on the way out, in order.

        For bulk paths: an entry costs one ORM flush when written alone. Nothing inside
        may read the quarantine back (replay, which does, stores one entry at a time).
        Nested uses write once, at the outermost exit; an exception writes nothing (the
        caller's transaction is going to be rolled back).
        """
        if self._held is not None:
            yield
            return
        held: list[QuarantineRequest] = []
        self._held = held
        try:
            yield
        finally:
            self._held = None
        add_quarantined_many(session, held, protector=self.protector)

    def store(
        self,
        session: Session,
        batch_id: str,
        counts: StoreCounts,
        *,
        kind: str,
        location: SourceLocation,
        raw: dict[str, Any],
        record: StandardRecord | None,
        findings: list[Finding],
        source: str,
        now: datetime,
        base_dir: Path | None = None,
        origin: dict[str, Any] | None = None,
        known_conflict: ValueError | None = None,
        material_file: Path | None = None,
    ) -> str:
        """Store one record or quarantine it; returns the outcome (added, …, quarantined).

        ``origin`` (see :mod:`tongyuan.quarantine.origin`) is kept with a quarantined
        record so that a replay can rebuild what produced ``raw``. A material whose file
        breaks a material rule (size, media type, hostile archive) is quarantined with it.

        A case is also checked against the libraries (its item published, its materials
        stored…). A write that conflicts with the library is rolled back to a savepoint and
        the record quarantined: a rewritten case history with ``case.events.rewritten``, a
        serial held by another case with ``case.serial.duplicate``, anything else with
        ``library.conflict``. A caller that already knows the write would conflict (a bulk
        load that looked the serials up) passes that error as ``known_conflict``: the
        record is quarantined as if the write had raised it, without trying.

        ``material_file`` is a material's file itself (a replay's kept copy,
        :mod:`tongyuan.materials.kept`) instead of ``file`` under ``base_dir``. A material
        quarantined with its file there and verified keeps a copy of it for the replay.
        """
        if isinstance(record, Case):
            findings = [*findings, *self.case_checks.check(session, batch_id, record)]
        counts.read += 1
        counts.warnings += sum(f.severity is Severity.WARNING for f in findings)
        errors = [f for f in findings if f.severity is Severity.ERROR]
        if record is None or errors:
            return self._quarantine(
                session, batch_id, counts, kind, location, raw, findings, origin=origin,
                kept=(record, base_dir, material_file),
            )  # fmt: skip
        conflict = known_conflict
        if conflict is None:
            try:
                outcome = write_retrying_races(
                    session,
                    record,
                    lambda: self._write(
                        session, batch_id, record, source, now, base_dir, material_file
                    ),
                )
            except MaterialRejected as exc:
                return self._quarantine(
                    session, batch_id, counts, kind, location, raw, [*findings, *exc.findings],
                    origin=origin, kept=(record, base_dir, material_file),
                )  # fmt: skip
            except ValueError as exc:
                conflict = exc
        if conflict is not None:
            rule = (
                conflict.rule if isinstance(conflict, CaseHistoryConflict) else "library.conflict"
            )
            finding = Finding(
                rule, str(conflict), "events" if rule == "case.events.rewritten" else None
            )
            return self._quarantine(
                session, batch_id, counts, kind, location, raw, [*findings, finding],
                origin=origin, kept=(record, base_dir, material_file),
            )  # fmt: skip
        if outcome == "added":
            counts.added += 1
        elif outcome == "changed":
            counts.changed += 1
        else:
            counts.unchanged += 1
        return outcome

    def _write(
        self,
        session: Session,
        batch_id: str,
        record: StandardRecord,
        source: str,
        now: datetime,
        base_dir: Path | None,
        material_file: Path | None = None,
    ) -> str:
        if isinstance(record, Item):
            return write_item(session, batch_id, record, source=source, now=now)
        if isinstance(record, Case):
            # The source says whose case system delivers it: a stored case changes only
            # with deliveries of the department that first delivered it.
            return write_case(
                session, batch_id, record, protector=self.protector, allocator=self.allocator,
                department=department_of_source(source),
            )  # fmt: skip
        if isinstance(record, Material):
            path = material_file or _material_path(record, base_dir)
            admitted = admit_material_file(self.settings, session, path, record)
            outcome = write_material(
                session, batch_id, record, protector=self.protector, sha256=admitted.sha256,
                sniffed_media_type=admitted.sniffed_media_type,
            )  # fmt: skip
            self.case_checks.forget_material(record.material_id)
            return outcome
        if isinstance(record, License):
            # The signed file and its signature go to the blob store: verified later.
            files = store_license_files(self.settings, session, record, base_dir)
            outcome = write_license(session, batch_id, record, protector=self.protector)
            if attach_license_files(session, record, files, batch_id):
                outcome = "changed" if outcome == "unchanged" else outcome
            return outcome
        raise TypeError(f"cannot store {type(record).__name__}")

    def finish_batch(self, session: Session, batch_id: str) -> TimelinessCounts:
        """After the last record of a batch: the timeliness of the cases it wrote.

        Raises nothing for an unknown calendar year: those cases are marked ``unknown``
        with the reason (see :mod:`tongyuan.ingest.timeliness`).
        """
        return recompute_batch(session, batch_id)

    def _quarantine(
        self,
        session: Session,
        batch_id: str,
        counts: StoreCounts,
        kind: str,
        location: SourceLocation,
        raw: dict[str, Any],
        findings: list[Finding],
        *,
        origin: dict[str, Any] | None = None,
        kept: tuple[StandardRecord | None, Path | None, Path | None] = (None, None, None),
    ) -> str:
        """Quarantine one record; ``kept`` is (record, base_dir, material_file) of a
        material whose verified file is kept for its replay (tongyuan.materials.kept)."""
        errors = [f for f in findings if f.severity is Severity.ERROR] or findings
        record, base_dir, material_file = kept
        if isinstance(record, Material):
            sha256, problems = keep_material_file(
                self.settings, session, record, errors, base_dir=base_dir,
                source_path=material_file,
            )  # fmt: skip
            errors, origin = [*errors, *problems], with_kept_file(origin, sha256)
        request = QuarantineRequest(batch_id, kind, location, raw, errors, origin)
        if self._held is not None:
            self._held.append(request)
        else:
            add_quarantined_many(session, [request], protector=self.protector)
        counts.quarantined += 1
        counts.rules.update({f.rule for f in errors})
        return "quarantined"


def write_retrying_races(session: Session, record: StandardRecord, write: Callable[[], str]) -> str:
    """``write`` (of ``record``) in a savepoint, again after a unique index refused it
    where another transaction may have caused that.

    On PostgreSQL another transaction (another department's ingest, a file load) may
    insert the same key or serial uncommitted while this one looks it up and finds
    nothing; this insert then waits for that transaction and is refused by the unique
    index once it commits. Under READ COMMITTED the next statement sees the commit, so
    the write is tried again and the record judged as it would have been had the other
    commit come first (another department's case: ``case.owner.mismatch``).

    On SQLite (one writer at a time, ``BEGIN IMMEDIATE``) no other transaction can
    commit in between: a refusal is a bug of the hub, and the IntegrityError fails the
    batch at once. On PostgreSQL a refusal on every attempt fails it too, unless rows
    holding the record's key or serial appeared after the first refusal, committed by
    other transactions while this one retried: that record alone is then a
    :class:`WriteRefused` (quarantined as ``library.conflict``), saying so. Other
    integrity errors are bugs and propagate.
    """
    attempts = 1 if session.get_bind().dialect.name == "sqlite" else _WRITE_ATTEMPTS
    first_seen: frozenset[str] = frozenset()
    for attempt in range(1, attempts + 1):
        try:
            with session.begin_nested():
                return write()
        except IntegrityError as exc:
            if not is_unique_violation(exc) or attempts == 1:
                raise
            if attempt == 1:
                # What the refusal's cause committed; a race adds holders after this.
                first_seen = key_holders(session, record)
            elif attempt == attempts:
                if key_holders(session, record) - first_seen:
                    raise WriteRefused(
                        f"{_record_label(record)}: the library's unique index refused the "
                        f"write on each of {attempts} attempts, and other transactions "
                        "committed rows holding its key or serial while it retried "
                        f"({describe_error(exc)}); replay it once those writers have finished"
                    ) from exc
                raise
    raise AssertionError("unreachable")


# Each refusal of a raced write means another transaction committed the key meanwhile.
_WRITE_ATTEMPTS = 3

# The library row of each kind of record, looked up by the record's natural key.
_ROWS: dict[type[StandardRecord], Any] = {
    Case: CaseRow, Item: ItemVersion, Material: MaterialRow, License: LicenseRow,
}  # fmt: skip


class WriteRefused(ValueError):
    """Unique indexes refused a record on every attempt while other transactions kept
    committing rows holding its key (see :func:`write_retrying_races`)."""


def key_holders(session: Session, record: StandardRecord) -> frozenset[str]:
    """The library rows this transaction sees holding ``record``'s natural key (or, for a
    case, the serial it brings), by primary key: rows another transaction committed
    since an earlier look are the ones not in that look's answer."""
    row = _ROWS[type(record)]
    (identity,) = inspect(row).primary_key
    held = and_(*(getattr(row, name) == getattr(record, name) for name in record.primary_key))
    if isinstance(record, Case) and record.serial is not None:
        held = or_(held, CaseRow.serial == record.serial)
    found = session.execute(select(identity).where(held).execution_options(autoflush=False))
    return frozenset(str(value) for value in found.scalars())


def is_unique_violation(exc: IntegrityError) -> bool:
    """True when a unique index refused the statement (PostgreSQL 23505, SQLite UNIQUE)."""
    if getattr(exc.orig, "sqlstate", None) == "23505":
        return True
    return "UNIQUE constraint failed" in str(exc.orig)


def _record_label(record: StandardRecord) -> str:
    """What names a record in a message: its kind and natural key, IDs masked."""
    key = "/".join(str(getattr(record, name)) for name in record.primary_key)
    return mask_text(f"{record.kind} {key}")


def _material_path(record: Material, base_dir: Path | None) -> Path:
    """The local file of ``record``; MaterialRejected (a material.file.* rule) when the
    file cannot be found, so the material is quarantined with what to do about it."""
    if base_dir is None:
        # A source without a local folder (http, sql), or a replay not told where it is.
        raise MaterialRejected(
            record.material_id,
            [
                Finding(
                    "material.file.missing",
                    f"file {record.file}: no folder holding the delivery's files is known "
                    "for this record (its source gives none); replay it with --files-dir DIR "
                    "naming the folder the file is in",
                    "file",
                )
            ],
        )
    path = safe_relative_path(base_dir, record.file)
    if path is None:
        raise MaterialRejected(
            record.material_id,
            [
                Finding(
                    "material.file.unsafe_path",
                    f"file name {record.file!r} is absolute or leaves the delivery's folder",
                    "file",
                )
            ],
        )
    if not path.is_file() or path.is_symlink():
        raise MaterialRejected(
            record.material_id,
            [
                Finding(
                    "material.file.missing",
                    f"file {record.file} not found in the delivery's folder {base_dir}",
                    "file",
                )
            ],
        )
    return path
