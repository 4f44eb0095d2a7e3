"""Ingesting one department's case system: materials, then the cases that cite them.

Each stream is one pull (:func:`tongyuan.pulling.pull`): one batch, one transaction with
the stream's state, the source acknowledged only after the commit. Materials go first so
a case can cite a material delivered with it. For a department the topology marks
``signing: true`` the delivery is verified as a whole before either pull starts
(:mod:`tongyuan.ingest.signed`); a delivery that fails is rejected whole — a failed batch
with the reason and nothing else written or acknowledged.

One ingest of a department at a time: the run holds the department's lock
(:mod:`tongyuan.db.locks`) from opening the source to the last commit, and a second run
raises :class:`IngestBusy` before reading anything. A dry run writes every stream into one
transaction rolled back at the end, so its case checks see the materials of the same
delivery exactly as the real run's do.
"""

from __future__ import annotations

import fnmatch
import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from adapters.sdk import AdapterError, Source, StreamRead
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.db.errors import describe_error
from tongyuan.db.locks import LockBusy, exclusive_lock
from tongyuan.ingest.signed import (
    DeliverySnapshot,
    DeliveryVerdict,
    SnapshotFolder,
    changed_since_verified,
    empty_snapshot,
    refused,
    sweep_verified,
    trust_dir_for,
    verify_delivery,
)
from tongyuan.libraries.adapter_states import load_state, save_state
from tongyuan.libraries.batches import Batch, record_failed_batch
from tongyuan.libraries.signed_deliveries import (
    accepted_delivery,
    latest_accepted,
    remember_delivery,
)
from tongyuan.pulling import Checkpoint, PullResult, pull
from tongyuan.topology import Topology
from tongyuan.topology.model import Department

if TYPE_CHECKING:
    from adapters.builtin.drop import DropSource
    from adapters.builtin.drop_folder import DropFolder

log = logging.getLogger(__name__)

COUNT_NAMES = ("read", "added", "changed", "unchanged", "quarantined")


class DeliveryRejected(RuntimeError):
    """A signed delivery changed under the read: a file no longer matched its manifest."""


class IngestBusy(RuntimeError):
    """Another ingest of the department is running (another process holds its lock)."""

    def __init__(self, dept: Department) -> None:
        super().__init__(
            f"another ingest of {dept.code} ({dept.name}) is running; nothing was read or "
            "written — run again once it has finished"
        )
        self.department = dept.code
        self.name = dept.name


@dataclass(slots=True)
class StreamOutcome:
    """One stream's pull, without records (safe to print and to pass through XCom)."""

    stream: str
    kind: str
    status: str
    batch_id: str | None
    counts: dict[str, int]
    error: str | None = None


@dataclass(slots=True)
class IngestResult:
    """What one ingestion of one department did; counts and ids only, no personal data.

    ``status``: committed (every stream committed), failed (a stream failed: its batch
    is a failed batch with the reason), rejected (a signed delivery failed verification:
    nothing read), dry-run; busy only where a caller caught :class:`IngestBusy` (the
    engine raises it) and reports the department with the others.
    """

    department: str
    name: str
    status: str = "committed"
    batch_ids: list[str] = field(default_factory=list)
    read: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    quarantined: int = 0
    rules: Counter[str] = field(default_factory=Counter)
    streams: list[StreamOutcome] = field(default_factory=list)
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    signer_fingerprint: str | None = None
    materials_written: int = 0
    cases_written: int = 0

    @property
    def accepted(self) -> int:
        return self.added + self.changed

    @property
    def counts(self) -> dict[str, int]:
        """Totals over the streams (what a DAG task returns)."""
        out = {name: getattr(self, name) for name in COUNT_NAMES}
        out["accepted"] = self.accepted
        out["materials"] = self.materials_written
        out["cases"] = self.cases_written
        return out

    @property
    def batch_id(self) -> str | None:
        """The last batch (the case stream's): what one-batch consumers show."""
        return self.batch_ids[-1] if self.batch_ids else None

    def add(self, outcome: PullResult, kind: str) -> None:
        self.streams.append(
            StreamOutcome(
                outcome.stream,
                kind,
                outcome.status,
                outcome.batch_id,
                {name: getattr(outcome, name) for name in COUNT_NAMES},
                outcome.error,
            )
        )
        if outcome.batch_id is not None:
            self.batch_ids.append(outcome.batch_id)
        for name in COUNT_NAMES:
            setattr(self, name, getattr(self, name) + getattr(outcome, name))
        written = outcome.added + outcome.changed
        if kind == "material":
            self.materials_written += written
        elif kind == "case":
            self.cases_written += written
        self.rules.update(outcome.rules)
        self.problems.extend(p for p in outcome.problems if p not in self.problems)
        if outcome.status == "failed":
            self.status = "failed"
            self.error = self.error or outcome.error


def source_name(dept: Department) -> str:
    """The name the department's case streams keep their state and batches under."""
    return f"dept:{dept.code}:cases"


def ingest_department(
    settings: Settings,
    topology: Topology,
    department: str,
    *,
    dry_run: bool = False,
    now: datetime | None = None,
    checkpoint: Checkpoint | None = None,
) -> IngestResult:
    """Pull the case system of ``department`` (its USCC or name) into the libraries.

    Never raises for data or for an unreachable system: a failed stream is a failed
    batch and ``status == "failed"``; a rejected signed delivery ``status == "rejected"``.
    Raises KeyError for a department the topology has no case system for, and
    :class:`IngestBusy` (nothing read, nothing written) while another ingest of the same
    department holds its lock: two runs would read the same delivery and race to insert
    the same cases, and the loser would fail after doing all the work.
    """
    dept = topology.case_department(department)
    assert dept.cases is not None
    try:
        with exclusive_lock(
            settings.database_url, ingest_lock_name(dept), fallback_dir=settings.home
        ):
            return _ingest_locked(settings, topology, dept, dry_run, now, checkpoint)
    except LockBusy:
        raise IngestBusy(dept) from None


def ingest_lock_name(dept: Department) -> str:
    """The lock one ingest of ``dept`` holds from opening its source to the last commit."""
    return f"ingest-{dept.code}"


def _ingest_locked(
    settings: Settings,
    topology: Topology,
    dept: Department,
    dry_run: bool,
    now: datetime | None,
    checkpoint: Checkpoint | None,
) -> IngestResult:
    assert dept.cases is not None
    result = IngestResult(department=dept.code, name=dept.name)
    label = source_name(dept)
    try:
        source: Source = dept.cases.open()
        streams = _ordered_streams(source, dept.cases.stream)
    except AdapterError as exc:
        return _failed(settings, result, label, f"{type(exc).__name__}: {exc}", dry_run)

    batch_meta: dict[str, Any] = {"department": dept.code}
    verify_read: Callable[[StreamRead], None] | None = None
    remember: Callable[[Session, Batch], None] | None = None
    snapshot: DeliverySnapshot | None = None
    after_commit: Callable[[str, PullResult], None] | None = None
    if dept.signing:
        verdict = _verify(settings, topology, dept, source, now)
        if not verdict.ok:
            return _rejected(settings, result, label, verdict, dry_run)
        snapshot = verdict.snapshot or empty_snapshot()
    try:  # from here on the verified copies (personal data in clear) are always removed
        if snapshot is not None:
            refusal, accepted_in = _refusal(settings, dept, source, verdict, snapshot, label)
            if refusal is not None:
                return _rejected(settings, result, label, refusal, dry_run)
            batch_meta.update(verdict.meta())
            if accepted_in is not None:
                batch_meta["accepted_in"] = accepted_in  # acknowledging it only
            elif not dry_run:
                remember = _remember(dept, snapshot)
            result.signer_fingerprint = verdict.signer_fingerprint
            reads = _SignedReads(settings, label, accepted_in)
            verify_read = reads.verify
            after_commit = None if dry_run else reads.forget_acknowledged
            _pin(source, snapshot)
        _pull_streams(settings, source, streams, result, label, batch_meta, dry_run, now,
                      checkpoint, verify_read, remember, after_commit)  # fmt: skip
    finally:
        if snapshot is not None:
            snapshot.close()
            _pin(source, None)
    if dry_run and result.status == "committed":
        result.status = "dry-run"
    log.info(
        "ingest %s %s: read %d added %d changed %d unchanged %d quarantined %d",
        dept.code,
        result.status,
        result.read,
        result.added,
        result.changed,
        result.unchanged,
        result.quarantined,
    )
    return result


def _pull_streams(
    settings: Settings,
    source: Source,
    streams: list[tuple[str, str]],
    result: IngestResult,
    label: str,
    batch_meta: dict[str, Any],
    dry_run: bool,
    now: datetime | None,
    checkpoint: Checkpoint | None,
    verify_read: Callable[[StreamRead], None] | None,
    remember: Callable[[Session, Batch], None] | None = None,
    after_commit: Callable[[str, PullResult], None] | None = None,
) -> None:
    """Pull the material streams, then the case stream; ``remember`` (an accepted signed
    delivery) is written in the case stream's transaction, so the delivery's cases and the
    memory that refuses its replay commit together, before anything is acknowledged.
    ``after_commit`` is called with each committed stream once it is acknowledged."""
    base_dir = getattr(source, "folder", None)
    with _dry_run_transaction(settings, dry_run) as shared:
        for stream, kind in streams:
            outcome = pull(
                settings,
                source,
                stream,
                source_name=label,
                batch_kind=f"ingest.{kind}",
                batch_meta=batch_meta,
                dry_run=dry_run,
                now=now,
                checkpoint=checkpoint,
                verify_read=verify_read,
                base_dir=base_dir if isinstance(base_dir, Path) else None,
                session=shared,
                in_transaction=remember if kind == "case" else None,
            )
            result.add(outcome, kind)
            if after_commit is not None and outcome.status == "committed":
                after_commit(stream, outcome)
            if outcome.status == "failed":
                break  # cases must not go in without the materials they cite


def _stream_patterns(source: Any) -> list[str]:
    """The file patterns of every stream of a drop source: what a delivery consists of."""
    return [p for spec in source._streams.values() for p in spec.patterns]


def _pin(source: Source, snapshot: DeliverySnapshot | None) -> None:
    """Make the source's reads see ``snapshot`` (the verified delivery), or the live folder."""
    from adapters.builtin.drop import DropSource

    if not isinstance(source, DropSource):
        return
    if snapshot is None:
        source.folder_view = None
    else:
        source.folder_view = lambda live: SnapshotFolder(live, snapshot)


def _refusal(
    settings: Settings,
    dept: Department,
    source: Source,
    verdict: DeliveryVerdict,
    snapshot: DeliverySnapshot,
    label: str,
) -> tuple[DeliveryVerdict | None, str | None]:
    """Why a verified delivery must still be refused (it changed since, or it is a
    replay), and the batch that accepted it when it is an accepted delivery whose files
    are only waiting for (or already have) their acknowledgement: read nothing of it
    again, acknowledge what is pending."""
    from adapters.builtin.drop import DropSource
    from signing.report import SubIndication

    assert isinstance(source, DropSource)  # _verify accepted only drop sources
    patterns = _stream_patterns(source)
    sub, accepted_in = SubIndication.HASH_FAILURE, None
    try:
        folder = source.open_folder()
        try:
            reason = changed_since_verified(folder, patterns, snapshot)
            if reason is None and snapshot.manifest_bytes:
                sub = SubIndication.SIG_CONSTRAINTS_FAILURE
                snapshot.freeze_markers(folder)  # what decides is what the reads will see
                view = SnapshotFolder(folder, snapshot)
                reason, accepted_in = _replay(settings, dept, source, view, snapshot, label)
        finally:
            folder.close()
    except (OSError, AdapterError) as exc:
        sub = SubIndication.HASH_FAILURE
        reason = f"the drop folder cannot be read again after verification: {exc}"
    if reason is None:
        return None, accepted_in
    refusal = refused(
        sub,
        reason,
        files=verdict.files,
        signer=verdict.signer,
        signer_fingerprint=verdict.signer_fingerprint,
    )
    return refusal, None


def _replay(
    settings: Settings,
    dept: Department,
    source: DropSource,
    live: DropFolder,
    snapshot: DeliverySnapshot,
    label: str,
) -> tuple[str | None, str | None]:
    """Why the verified delivery is a replay, or (None, the accepting batch) for an
    accepted delivery still in the folder only because it awaits (or has, as markers)
    its acknowledgement.

    The same envelope accepted before is a replay unless every file it lists is the one
    the hub ingested and is either acknowledged by a marker or named pending in the
    stream's state (its acknowledgement failed and is retried): files put back after
    their acknowledgement are not in that state. An envelope signed no later than the
    department's last accepted one is an older delivery replayed.
    """
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            earlier = accepted_delivery(session, dept.code, snapshot.envelope_sha256)
            latest = latest_accepted(session, dept.code)
            states = {name: load_state(session, label, name) for name in source._streams}
    finally:
        engine.dispose()
    if earlier is not None:
        if _awaiting_acknowledgement(source, live, snapshot, states):
            return None, earlier.batch_id
        return (
            f"replay of the delivery accepted in batch {earlier.batch_id} (the same signed "
            f"envelope, signed at {earlier.signing_time:%Y-%m-%dT%H:%M:%SZ}), put back after "
            "it was acknowledged; nothing of it is ingested again"
        ), None
    signed_at = snapshot.signing_time
    if latest is not None and signed_at is not None and signed_at <= latest.signing_time:
        return (
            f"signed at {signed_at:%Y-%m-%dT%H:%M:%SZ}, not later than the last accepted "
            f"signed delivery (signed at {latest.signing_time:%Y-%m-%dT%H:%M:%SZ}, batch "
            f"{latest.batch_id}): an older delivery replayed; nothing of it is ingested"
        ), None
    return None, None


def _awaiting_acknowledgement(
    source: DropSource,
    live: DropFolder,
    snapshot: DeliverySnapshot,
    states: dict[str, Any],
) -> bool:
    """Whether every file of ``snapshot`` a stream reads is the one ingested (the state's
    or the marker's size and mtime, the manifest's sha256) and is acknowledged by its
    marker or pending in the stream's state."""
    from adapters.builtin.drop_folder import MARKER_SUFFIX, SIDECAR_SUFFIX
    from adapters.builtin.drop_read import Delivered, marker_acknowledges

    marker_mode = source.config.acknowledge == "marker"  # type: ignore[attr-defined]
    for stream, spec in source._streams.items():
        pending = {
            (d.name, d.size, d.mtime, d.sha256)
            for d in map(Delivered.from_state, (states[stream] or {}).get("delivered", []))
        }
        for name in snapshot.listed_names():
            if name.endswith((SIDECAR_SUFFIX, MARKER_SUFFIX)):
                continue
            if not any(fnmatch.fnmatchcase(name, p) for p in spec.patterns):
                continue
            entry = snapshot.entries[name]
            signed = snapshot.manifest.entries[name].sha256
            if (name, entry.size, entry.mtime, signed) in pending:
                continue
            if not (marker_mode and marker_acknowledges(live, entry)):
                return False
    return True


def _remember(
    dept: Department, snapshot: DeliverySnapshot
) -> Callable[[Session, Batch], None] | None:
    """What remembers an accepted delivery, so the same envelope is refused if it comes
    back: written in the case stream's commit transaction (a delivery whose pull fails
    is rolled back with it and read again in full by the next run)."""
    signing_time = snapshot.signing_time
    if not snapshot.manifest_bytes or signing_time is None:
        return None
    key = snapshot.envelope_sha256

    def remember(session: Session, batch: Batch) -> None:
        remember_delivery(session, dept.code, key, signing_time, batch.id)

    return remember


@contextmanager
def _dry_run_transaction(settings: Settings, dry_run: bool) -> Iterator[Session | None]:
    """For a dry run, one transaction every stream writes into, rolled back at the end.

    The real run commits the materials before the cases are read, so its case checks
    find them in the library; a dry run must predict that, so its case stream has to
    see what its material stream stored. A real run gets ``None``: each stream commits
    on its own.
    """
    if not dry_run:
        yield None
        return
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            session.begin()
            try:
                yield session
            finally:
                session.rollback()
    finally:
        engine.dispose()


def _ordered_streams(source: Source, case_stream: str) -> list[tuple[str, str]]:
    """Material streams first, then the case stream; other streams are not this job's."""
    specs = source.streams()
    materials = [(s.name, s.kind) for s in specs if s.kind == "material"]
    cases = [(s.name, s.kind) for s in specs if s.name == case_stream]
    return materials + cases


def _verify(
    settings: Settings,
    topology: Topology,
    dept: Department,
    source: Source,
    now: datetime | None,
) -> DeliveryVerdict:
    from adapters.builtin.drop import DropSource
    from signing.report import SubIndication

    if not isinstance(source, DropSource):
        return refused(
            SubIndication.FORMAT_FAILURE,
            f"signed deliveries need a drop-folder source (files, sftp); "
            f"{dept.cases.adapter if dept.cases else '?'} delivers no files to sign",
        )
    sweep_verified(source, dept.code)  # copies a killed run left behind
    patterns = _stream_patterns(source)
    trust_dir = trust_dir_for(settings, topology.trust_dir)
    try:
        return verify_delivery(
            source, patterns, trust_dir, department=dept.code, signing_ca=dept.signing_ca, now=now
        )
    except AdapterError as exc:
        return refused(SubIndication.SIGNED_DATA_NOT_FOUND, f"the delivery cannot be read: {exc}")


class _SignedReads:
    """The reads of one verified signed delivery: each checked once read, and the
    acknowledged files forgotten by the stream's state once acknowledged.

    A run of a delivery accepted before (``accepted_in``) only acknowledges what is
    pending: a read that finds anything to ingest fails its batch, whatever made it find
    it. The state is saved before the acknowledgement (it commits with the records), so
    without forgetting, files put back right after their acknowledgement would still
    match "pending" and pass as acknowledge-only instead of being refused as a replay.
    """

    def __init__(self, settings: Settings, label: str, accepted_in: str | None) -> None:
        self.settings = settings
        self.label = label
        self.accepted_in = accepted_in
        self.reads: dict[str, StreamRead] = {}

    def verify(self, read: StreamRead) -> None:
        _refuse_changed_files(read)
        ingested = getattr(read, "ingested", ())
        if self.accepted_in is not None and ingested:
            raise DeliveryRejected(
                f"the signed delivery was accepted in batch {self.accepted_in} and this run "
                f"only acknowledges it, but the read found {len(ingested)} file(s) of it to "
                "ingest; nothing of it is stored"
            )
        self.reads[getattr(read, "stream", "")] = read

    def forget_acknowledged(self, stream: str, outcome: PullResult) -> None:
        read = self.reads.get(stream)
        names = set(getattr(read, "acknowledged", ()))
        if names and outcome.batch_id is not None:
            _forget_acknowledged(self.settings, self.label, stream, outcome.batch_id, names)


def _forget_acknowledged(
    settings: Settings, label: str, stream: str, batch_id: str, names: set[str]
) -> None:
    """Drop ``names`` from the stream state's pending files. A failure is logged, not
    raised: the batch is committed and acknowledged; only the replay check of files put
    back before the next run is weaker (they pass as acknowledge-only, storing nothing)."""
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            state = load_state(session, label, stream) or {}
            delivered = state.get("delivered", [])
            kept = [d for d in delivered if not (isinstance(d, dict) and d.get("name") in names)]
            if len(kept) != len(delivered):
                save_state(session, label, stream, {**state, "delivered": kept}, batch_id=batch_id)
    except Exception as exc:
        log.warning(
            "%s/%s: the acknowledged files are still named pending in the state: %s",
            label,
            stream,
            describe_error(exc),
        )
    finally:
        engine.dispose()


def _refuse_changed_files(read: StreamRead) -> None:
    refused = [n for n in getattr(read, "notices", []) if n.action == "refused"]
    if refused:
        raise DeliveryRejected(
            f"{len(refused)} file(s) of the signed delivery were refused while read "
            f"(first: {refused[0]}); the delivery is rejected whole"
        )


def _failed(
    settings: Settings, result: IngestResult, label: str, error: str, dry_run: bool
) -> IngestResult:
    result.status, result.error = "failed", error
    log.error("ingest %s failed: %s", result.department, error)
    if not dry_run:
        result.batch_ids.append(_failed_batch(settings, "ingest.failed", label, error, {}))
    return result


def _rejected(
    settings: Settings,
    result: IngestResult,
    label: str,
    verdict: DeliveryVerdict,
    dry_run: bool,
) -> IngestResult:
    reason = verdict.reason or "the delivery failed verification"
    result.status = "rejected"
    result.error = f"[{verdict.subindication}] {reason}"
    result.signer_fingerprint = verdict.signer_fingerprint
    log.error("ingest %s: signed delivery rejected: %s", result.department, result.error)
    if not dry_run:
        meta = {"department": result.department, **verdict.meta()}
        result.batch_ids.append(_failed_batch(settings, "ingest.rejected", label, reason, meta))
    return result


def _failed_batch(
    settings: Settings, kind: str, label: str, error: str, meta: dict[str, Any]
) -> str:
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine).begin() as session:
            return record_failed_batch(
                session, kind, label, error=error, meta=meta, settings=settings
            ).id
    finally:
        engine.dispose()
