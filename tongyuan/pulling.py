"""Pulling a stream from an adapter into the libraries, with its state kept beside the data.

One pull is one batch and one transaction: the records (stored or quarantined), the
stream's new state and the batch row commit together. Only after that commit is the
source told to acknowledge (``StreamRead.commit()``: move the remote file to ``done/``),
so a crash at any point leaves either nothing changed or everything done; a crash between
the commit and the acknowledgement re-delivers records the libraries already hold, which
the natural-key upserts turn into "unchanged".
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from adapters.sdk import Envelope, Source, StreamRead
from adapters.sdk.contract import ReadContract, checked_spec
from standards.validation import CheckOptions
from standards.validation.batch import BatchUniqueness
from standards.validation.record_checks import check_record
from tongyuan.collection import bulk_collection
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.db.errors import describe_error
from tongyuan.ingest.timeliness import hub_today
from tongyuan.libraries.adapter_states import load_state, save_state
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.batches import Batch, close_batch, open_batch, record_failed_batch
from tongyuan.libraries.serials import DbSerialAllocator
from tongyuan.loading_bulk import BulkCaseWriter
from tongyuan.loading_rows import PrepContext
from tongyuan.privacy import PiiProtector
from tongyuan.quarantine.origin import json_safe, pull_origin
from tongyuan.storing import RecordStore, StoreCounts

log = logging.getLogger(__name__)

# Called with "before_commit" (everything written, transaction still open) and
# "after_commit" (committed, source not yet acknowledged): the points a crash test needs.
Checkpoint = Callable[[str], None]


@dataclass(slots=True, kw_only=True)
class PullResult(StoreCounts):
    """What one pull did."""

    source: str
    stream: str
    status: str = "committed"  # committed | failed | dry-run
    batch_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # Things the pull could not decide and a person must see (e.g. a deadline in a year
    # the working-day calendar does not know); no personal data.
    problems: list[str] = field(default_factory=list)


class PullWriter(Protocol):
    """What a pull does with the records it reads, inside the pull's one transaction.

    ``begin`` runs once the batch exists, ``write`` once per envelope, ``finish`` after
    the last one (before the state is saved and the batch closed; it may add to
    ``batch.meta``). Whatever they write commits or rolls back with the state.
    """

    def begin(self, session: Session, batch: Batch, now: datetime) -> None: ...

    def write(
        self, session: Session, batch: Batch, envelope: Envelope, counts: StoreCounts
    ) -> None: ...

    def finish(self, session: Session, batch: Batch, counts: StoreCounts) -> None: ...


class StoringWriter:
    """The default writer: check each record against the standard and store or quarantine it."""

    def __init__(self, settings: Settings, engine: Any, kind: str, source_name: str,
                 options: CheckOptions, base_dir: Path | None = None) -> None:  # fmt: skip
        self.settings = settings
        self._pii_key = settings.pii_key()
        protector = PiiProtector(self._pii_key)
        self.store = RecordStore(settings, protector, DbSerialAllocator(engine))
        # New cases go through the bulk writer (one batch's chunked inserts); the rest,
        # and every case it cannot simply insert, through RecordStore.store.
        self.bulk: BulkCaseWriter | None = None
        self.kind = kind
        self.source = f"adapter:{source_name}"
        self.options = options
        self.uniqueness = BatchUniqueness()
        self.now = datetime.now(UTC)
        self.base_dir = base_dir
        # How to rebuild what produced a quarantined row (tongyuan.quarantine.origin).
        self.origin: dict[str, Any] | None = None

    def begin(self, session: Session, batch: Batch, now: datetime) -> None:
        self.now = now
        self.bulk = None

    def _bulk(self, session: Session, batch: Batch, counts: StoreCounts) -> BulkCaseWriter:
        if self.bulk is None:
            context = PrepContext(
                batch_id=batch.id,
                updated_at=utcnow(),
                database_url=self.settings.database_url,
                pii_key=self._pii_key,
                today=hub_today(),
                digests=session.get_bind().dialect.name == "sqlite",
            )
            self.bulk = BulkCaseWriter(
                self.store, counts, context=context, source=self.source, now=self.now,
                base_dir=self.base_dir, origin=self.origin,
            )  # fmt: skip
        return self.bulk

    def write(
        self, session: Session, batch: Batch, envelope: Envelope, counts: StoreCounts
    ) -> None:
        findings = list(envelope.findings)
        if envelope.record is not None:
            findings += check_record(envelope.record, self.options)
            findings += self.uniqueness.check(envelope.record, envelope.location)
        if self.kind == "case":
            self._bulk(session, batch, counts).add(
                session,
                kind=self.kind,
                location=envelope.location,
                raw=json_safe(envelope.raw),
                record=envelope.record,
                findings=findings,
            )
            return
        self.store.store(
            session,
            batch.id,
            counts,
            kind=self.kind,
            location=envelope.location,
            raw=json_safe(envelope.raw),
            record=envelope.record,
            findings=findings,
            source=self.source,
            now=self.now,
            base_dir=self.base_dir,
            origin=self.origin,
        )

    def finish(self, session: Session, batch: Batch, counts: StoreCounts) -> None:
        if self.kind == "case":
            if self.bulk is not None:
                timeliness = self.bulk.finish(session)
            else:
                timeliness = self.store.finish_batch(session, batch.id)
            if isinstance(counts, PullResult):
                counts.problems.extend(timeliness.problems)
            for problem in timeliness.problems:
                log.warning("%s: deadlines not computed: %s", batch.source, problem)


def pull(
    settings: Settings,
    source: Source,
    stream: str,
    *,
    source_name: str,
    options: CheckOptions | None = None,
    writer: PullWriter | None = None,
    batch_kind: str = "pull",
    batch_meta: dict[str, Any] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    checkpoint: Checkpoint | None = None,
    verify_read: Callable[[StreamRead], None] | None = None,
    base_dir: Path | None = None,
    session: Session | None = None,
    in_transaction: Callable[[Session, Batch], None] | None = None,
) -> PullResult:
    """Read ``stream`` from ``source`` incrementally and store it; never raises for data.

    Adapter or database failures end the pull as a failed batch with the reason (the
    state is not advanced, nothing is acknowledged) and are returned, not raised. A
    SystemExit (or GeneratorExit, or a KeyboardInterrupt of its own) from the source's
    code is such a failure too (adapters.sdk.contract); a real Ctrl-C is raised.

    ``writer`` replaces the default check-and-store of each record (the item sync uses
    this); ``dry_run`` runs the same code in a transaction that is always rolled back,
    records no batch (not even a failed one) and acknowledges nothing, so the source
    delivers the same data to the next real run.

    ``verify_read`` is called once every record is read, before the state is saved: an
    exception from it fails the whole batch (a signed delivery whose files did not all
    pass). ``base_dir`` of the default writer is where material files are found.

    ``session`` (dry runs only) is a transaction the caller opened and will roll back:
    the pull writes into it instead of a transaction of its own, so the dry runs of
    several streams see each other's records as the real runs would see each other's
    commits (a case citing a material delivered with it). Without it, each dry run is
    rolled back on its own and the next stream never sees what this one stored.

    ``in_transaction`` writes what must commit with the batch (the memory of an accepted
    signed delivery), last, in the pull's transaction: before the source is acknowledged,
    and an exception from it fails the pull like any other write.
    """
    if session is not None and not dry_run:
        raise ValueError("pull(session=…) is for dry runs: a real pull commits on its own")
    spec = checked_spec(source, stream)
    contract = ReadContract(source, spec)
    engine = make_engine(settings.database_url) if session is None else session.get_bind()
    sessions = make_session_factory(engine)
    if writer is None:
        writer = StoringWriter(
            settings, engine, spec.kind, source_name, options or CheckOptions(), base_dir
        )
    if isinstance(writer, StoringWriter) and writer.origin is None:
        writer.origin = pull_origin(source, stream, source_name, files_dir=base_dir)
    result = PullResult(source=source_name, stream=stream)
    label = f"{source_name}/{stream}"
    read = None
    try:
        if session is not None:
            state = load_state(session, source_name, stream)
        else:
            with sessions() as reading:
                state = load_state(reading, source_name, stream)
        read = contract.open(source, state)
        started = now or datetime.now(UTC)
        # A pull streams up to millions of records: see tongyuan.collection.
        with bulk_collection():
            if session is not None:
                _write_stream(session, read, writer, result, contract, spec.kind, batch_kind,
                              label, batch_meta, started, verify_read, source_name, stream,
                              settings, in_transaction)  # fmt: skip
                result.status = "dry-run"
            else:
                with sessions() as own:
                    own.begin()
                    try:
                        batch = _write_stream(own, read, writer, result, contract, spec.kind,
                                              batch_kind, label, batch_meta, started,
                                              verify_read, source_name, stream,
                                              settings, in_transaction)  # fmt: skip
                        if dry_run:
                            result.status = "dry-run"
                        else:
                            result.batch_id = batch.id
                            if checkpoint is not None:
                                checkpoint("before_commit")
                    except BaseException:
                        own.rollback()
                        raise
                    if dry_run:
                        own.rollback()
                    else:
                        own.commit()
        if not dry_run:
            if checkpoint is not None:
                checkpoint("after_commit")
            contract.commit(read)
    except Exception as exc:
        # The short form: a database error's own text carries the statement and what the
        # driver quotes of the row (PostgreSQL's DETAIL: the key's values), so the log
        # gets the short form and where it was raised, not the exception's own text.
        result.status, result.error = "failed", describe_error(exc)
        where = "".join(traceback.format_tb(exc.__traceback__))
        log.error("pull %s failed: %s\n%s", label, result.error, where)
        result.reset()
        result.batch_id = None
        if not dry_run:
            _record_failure(sessions, result, batch_kind, label, batch_meta, settings)
    finally:
        try:
            if read is not None:
                _close(contract, read, result, label)
        finally:
            if session is None:
                engine.dispose()
    log.info(
        "pull %s %s: read %d added %d changed %d unchanged %d quarantined %d",
        label,
        result.status,
        result.read,
        result.added,
        result.changed,
        result.unchanged,
        result.quarantined,
    )
    return result


def _record_failure(
    sessions: sessionmaker[Session],
    result: PullResult,
    batch_kind: str,
    label: str,
    batch_meta: dict[str, Any] | None,
    settings: Settings,
) -> None:
    """Store the failed batch of a failed pull, or say on the result why it could not be.

    The database that failed the pull is often the one that cannot take its failed batch
    either (the server stopped, the network gone): that second failure is added to the
    pull's one-line error instead of being raised, which printed both tracebacks chained
    (1,191 lines) and broke the promise that a pull returns its failures. Nothing was
    stored then either, so the state is unchanged and the pull can simply run again.
    """
    try:
        with sessions.begin() as failed:
            batch = record_failed_batch(
                failed, f"{batch_kind}.failed", label, error=result.error,
                meta=batch_meta, settings=settings,
            )  # fmt: skip
    except Exception as exc:
        also = describe_error(exc)
        log.error("pull %s: its failed batch could not be recorded: %s", label, also)
        result.error = f"{result.error} (the failed batch could not be recorded either: {also})"
        return
    result.batch_id = batch.id


def _close(contract: ReadContract, read: StreamRead, result: PullResult, label: str) -> None:
    """``read.close()``, which runs after the pull decided (its batch committed or
    recorded as failed, the source acknowledged): what it raises must neither undo that
    nor end the caller's run of every other department. After a committed (or dry) run
    it is a problem on the result, for the operator to see; after a failed one the first
    error stays the pull's error. Either way it is logged, masked. A real Ctrl-C (a
    KeyboardInterrupt) propagates."""
    try:
        contract.close(read)
    except Exception as exc:
        problem = describe_error(exc)
        log.warning("pull %s: the source's close() failed: %s", label, problem)
        if result.status != "failed":
            result.problems.append(problem)


def _write_stream(
    session: Session,
    read: StreamRead,
    writer: PullWriter,
    result: PullResult,
    contract: ReadContract,
    kind: str,
    batch_kind: str,
    label: str,
    batch_meta: dict[str, Any] | None,
    started: datetime,
    verify_read: Callable[[StreamRead], None] | None,
    source_name: str,
    stream: str,
    settings: Settings,
    in_transaction: Callable[[Session, Batch], None] | None = None,
) -> Batch:
    """Everything one pull writes, inside ``session``'s open transaction (not ended here).

    What the source hands over passes ``contract`` first (adapters.sdk.contract): an
    adapter's programming error fails the pull with a message naming adapter, stream
    and envelope, before anything of it is used.
    """
    batch = open_batch(session, batch_kind, label, meta={"kind": kind, **(batch_meta or {})})
    writer.begin(session, batch, started)
    for envelope in contract.envelopes(read):
        writer.write(session, batch, envelope, result)
    if verify_read is not None:
        verify_read(read)
    writer.finish(session, batch, result)
    result.state = contract.read_state(read)
    save_state(session, source_name, stream, result.state, batch_id=batch.id)
    close_batch(
        session,
        batch,
        read=result.read,
        accepted=result.accepted,
        quarantined=result.quarantined,
        unchanged=result.unchanged,
        status="committed",
        settings=settings,
    )
    if in_transaction is not None:
        in_transaction(session, batch)
    return batch
