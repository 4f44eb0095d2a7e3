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
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from adapters.sdk import Source
from standards.validation import CheckOptions
from standards.validation.batch import BatchUniqueness
from standards.validation.record_checks import check_record
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.libraries.adapter_states import load_state, save_state
from tongyuan.libraries.batches import close_batch, open_batch, record_failed_batch
from tongyuan.libraries.serials import DbSerialAllocator
from tongyuan.privacy import PiiProtector
from tongyuan.storing import RecordStore, StoreCounts

log = logging.getLogger(__name__)


@dataclass(slots=True, kw_only=True)
class PullResult(StoreCounts):
    """What one pull did."""

    source: str
    stream: str
    status: str = "committed"  # committed | failed
    batch_id: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def pull(
    settings: Settings,
    source: Source,
    stream: str,
    *,
    source_name: str,
    options: CheckOptions | None = None,
) -> PullResult:
    """Read ``stream`` from ``source`` incrementally and store it; never raises for data.

    Adapter or database failures end the pull as a failed batch with the reason (the
    state is not advanced, nothing is acknowledged) and are returned, not raised.
    """
    options = options or CheckOptions()
    spec = source.stream(stream)
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    protector = PiiProtector(settings.pii_key())
    store = RecordStore(settings, protector, DbSerialAllocator(engine))
    result = PullResult(source=source_name, stream=stream)
    label = f"{source_name}/{stream}"
    read = None
    try:
        with sessions() as session:
            state = load_state(session, source_name, stream)
        read = source.read(stream, state)
        now = datetime.now(UTC)
        uniqueness = BatchUniqueness()
        with sessions.begin() as session:
            batch = open_batch(session, "pull", label, meta={"kind": spec.kind})
            result.batch_id = batch.id
            for envelope in read:
                findings = list(envelope.findings)
                if envelope.record is not None:
                    findings += check_record(envelope.record, options)
                    findings += uniqueness.check(envelope.record, envelope.location)
                store.store(
                    session,
                    batch.id,
                    result,
                    kind=spec.kind,
                    location=envelope.location,
                    raw=envelope.raw,
                    record=envelope.record,
                    findings=findings,
                    source=f"adapter:{source_name}",
                    now=now,
                )
            result.state = read.state()
            save_state(session, source_name, stream, result.state, batch_id=batch.id)
            close_batch(
                session,
                batch,
                read=result.read,
                accepted=result.accepted,
                quarantined=result.quarantined,
                unchanged=result.unchanged,
                status="committed",
            )
        read.commit()
    except Exception as exc:
        log.exception("pull %s failed", label)
        result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        result.reset()
        with sessions.begin() as session:
            batch = record_failed_batch(session, "pull.failed", label, error=result.error)
            result.batch_id = batch.id
    finally:
        if read is not None:
            read.close()
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
