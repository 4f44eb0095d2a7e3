"""Loading exchange files into the libraries: check, then store or quarantine.

One file is one batch and one transaction: the batch row, every accepted record and every
quarantined record commit together, or not at all. A file whose bytes were already loaded
from the same source is skipped, so a re-run changes nothing and costs one hash per file.
A file that turns out unreadable part-way is rolled back whole and recorded as a failed
batch with the reason: nothing is half-loaded and nothing is lost — the file stays where
it is until it is fixed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from standards.formats import ParseLimits, RawRecord, UnreadableInput, UnsafeInput
from standards.records import StandardRecord
from standards.validation import CheckOptions, Finding
from standards.validation.batch import BatchUniqueness
from tongyuan.collection import bulk_collection
from tongyuan.config import Settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.db.errors import describe_error
from tongyuan.ingest.timeliness import hub_today
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.batches import Batch, close_batch, open_batch, record_failed_batch
from tongyuan.libraries.serials import DbSerialAllocator
from tongyuan.loading_bulk import BulkCaseWriter
from tongyuan.loading_feed import prepared_file_parallel
from tongyuan.loading_keys import CompactUniqueness
from tongyuan.loading_rows import PreparedCase, PrepContext
from tongyuan.privacy import PiiProtector
from tongyuan.quarantine.origin import load_origin
from tongyuan.storing import RecordStore, StoreCounts
from tongyuan.validating import (
    CheckedRecord,
    check_file,
    check_raw,
    default_workers,
    discover_files,
    display_name,
    plan_load_segments,
    worker_pool,
)

log = logging.getLogger(__name__)

# Items first (cases refer to them), materials before the cases that cite them.
KIND_ORDER = {"item": 0, "material": 1, "case": 2, "license": 3}
_FOLDER_KIND = {"items": "item", "materials": "material", "cases": "case", "licenses": "license"}


@dataclass(slots=True, kw_only=True)
class FileResult(StoreCounts):
    """What happened to one file."""

    file: str
    kind: str | None
    status: str  # committed | skipped | failed
    batch_id: str | None = None
    error: str | None = None


@dataclass(slots=True)
class LoadSummary:
    """All files of one load, with totals per kind and the commonest quarantine rules."""

    files: list[FileResult] = field(default_factory=list)

    def totals(self) -> dict[str, Counter[str]]:
        out: dict[str, Counter[str]] = {}
        for f in self.files:
            if f.kind is None:
                continue
            c = out.setdefault(f.kind, Counter())
            for name in ("read", "added", "changed", "unchanged", "quarantined", "warnings"):
                c[name] += getattr(f, name)
            c["skipped_files"] += f.status == "skipped"
        return out

    def quarantine_rules(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for f in self.files:
            total.update(f.rules)
        return total

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def load_workers(files: list[Path]) -> int:
    """Worker processes for a load of ``files``: see :class:`Loader`."""
    if not default_workers(files):
        return 0
    return max(1, min((os.cpu_count() or 1) - 1, 3))


# SQLite page cache of a loading connection, in MB (SQLite's own default is 2 MB). A load
# inserts into indexes whose keys arrive in random order (serials, department case
# numbers, ID hashes), whose pages a bigger cache keeps at hand; but the cache counts in
# the loader's memory, and past a few MB it did not pay: 800k cases loaded at about the
# same rate with 8, 16 and 64 MB (the indexes outgrow any cache a loader can afford).
# ``TONGYUAN_LOAD_CACHE_MB`` sets another size for a machine with memory to spare.
LOAD_PAGE_CACHE_MB = 4
ENV_LOAD_CACHE_MB = "TONGYUAN_LOAD_CACHE_MB"


def load_page_cache_mb(environ: Mapping[str, str] = os.environ) -> int:
    """The page cache for loads: the environment's override, else the default."""
    text = environ.get(ENV_LOAD_CACHE_MB, "").strip()
    if not text:
        return LOAD_PAGE_CACHE_MB
    if not text.isdigit() or not 1 <= int(text) <= 65536:
        raise ValueError(f"{ENV_LOAD_CACHE_MB} must be a whole number of MB from 1 to 65536")
    return int(text)


def _widen_page_cache(session: Session) -> None:
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(f"PRAGMA cache_size=-{load_page_cache_mb() * 1024}")


def _kind_hint(path: Path) -> int:
    for part in reversed(path.parts[:-1]):
        if part in _FOLDER_KIND:
            return KIND_ORDER[_FOLDER_KIND[part]]
    return len(KIND_ORDER)


class Loader:
    """Loads files into the libraries of one hub (one Settings, one database)."""

    def __init__(
        self,
        settings: Settings,
        *,
        options: CheckOptions | None = None,
        limits: ParseLimits | None = None,
        workers: int | None = None,
    ) -> None:
        """``workers``: processes that parse, check and prepare the rows of segments of
        large XML files; 0 reads everything here. None: one per core beside the one this
        process writes on (at least 1, at most 3), for files of 16 MB and more.

        A worker spends about twice what the writer spends on a case (parsing, the
        standard's checks, the row preparation); the writer prepares segments itself
        whenever the workers' next answer is not ready, so one worker per spare core
        keeps both busy. More workers than spare cores add memory (each holds its own
        interpreter, ~100 MB) and contend with the writer for the cores.
        """
        self.settings = settings
        self.workers = workers
        self._pool: Executor | None = None
        self._pool_size = 0
        self.options = options or CheckOptions()
        self.limits = limits or ParseLimits()
        self.engine = make_engine(settings.database_url)
        self.sessions = make_session_factory(self.engine)
        self._pii_key = settings.pii_key()
        self.protector = PiiProtector(self._pii_key)
        self.allocator = DbSerialAllocator(self.engine)
        self.store = RecordStore(settings, self.protector, self.allocator)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
        self.engine.dispose()

    def load(
        self,
        paths: Iterable[Path],
        *,
        relative_to: Path | None = None,
        on_record: Callable[[str, int], None] | None = None,
    ) -> LoadSummary:
        """Load every record file under ``paths`` (items, then materials, cases, licenses)."""
        files = sorted(discover_files(paths), key=lambda p: (_kind_hint(p), str(p)))
        summary = LoadSummary()
        uniqueness = CompactUniqueness()
        workers = load_workers(files) if self.workers is None else self.workers
        with bulk_collection():
            for path in files:
                name = display_name(path, relative_to)
                summary.files.append(self._load_file(path, name, uniqueness, on_record, workers))
        return summary

    def _checked(
        self,
        path: Path,
        name: str,
        uniqueness: BatchUniqueness,
        workers: int,
        context: PrepContext,
    ) -> Iterator[CheckedRecord | PreparedCase]:
        """The file's checked records, from worker processes when the file is large (new
        cases then arrive prepared for the bulk writer)."""
        segments = plan_load_segments(path, workers)
        if segments:
            # Started on first need and kept for the loader's life (spawning costs seconds).
            if self._pool is None or self._pool_size != workers:
                if self._pool is not None:
                    self._pool.shutdown(cancel_futures=True)
                self._pool, self._pool_size = worker_pool(workers), workers
            return prepared_file_parallel(
                path,
                options=self.options,
                uniqueness=uniqueness,
                pool=self._pool,
                workers=workers,
                segments=segments,
                context=context,
                limits=self.limits,
                file_label=name,
            )
        return check_file(
            path, options=self.options, uniqueness=uniqueness, limits=self.limits, file_label=name
        )

    def _recheck(
        self, prepared: PreparedCase, *, base_dir: Path
    ) -> tuple[StandardRecord | None, list[Finding]]:
        """A prepared case checked again from its source record (for the one-by-one
        path: the same record and findings its first check gave). Both file readers
        refuse text XML cannot carry as they read, so that walk is not repeated."""
        raw = RawRecord("case", prepared.location, prepared.raw, chars_checked=True)
        return check_raw(raw, self.options, base_dir)

    def _already_loaded(self, session: Session, name: str, digest: str) -> bool:
        stmt = select(Batch.id).where(
            Batch.source == name, Batch.content_hash == digest, Batch.status == "committed"
        )
        return session.execute(stmt.limit(1)).first() is not None

    def _load_file(
        self,
        path: Path,
        name: str,
        uniqueness: BatchUniqueness,
        on_record: Callable[[str, int], None] | None,
        workers: int = 0,
    ) -> FileResult:
        digest = file_sha256(path)
        result = FileResult(file=name, kind=None, status="committed")
        with self.sessions() as session:
            if self._already_loaded(session, name, digest):
                result.status = "skipped"
                result.kind = _FOLDER_KIND.get(path.parent.name)
                log.info("skip %s: already loaded with the same content", name)
                return result
        now = datetime.now(UTC)
        try:
            with self.sessions.begin() as session:
                _widen_page_cache(session)
                batch = open_batch(session, "load", name, meta={"sha256": digest})
                result.batch_id = batch.id
                # New cases are written a chunk at a time; everything else one by one.
                context = PrepContext(
                    batch_id=batch.id,
                    updated_at=utcnow(),
                    database_url=self.settings.database_url,
                    pii_key=self._pii_key,
                    today=hub_today(),
                    digests=self.engine.dialect.name == "sqlite",
                )
                bulk = BulkCaseWriter(
                    self.store, result, context=context, source=f"file:{name}", now=now,
                    base_dir=path.parent, recheck=partial(self._recheck, base_dir=path.parent),
                    origin=load_origin(path),
                )  # fmt: skip
                for checked in self._checked(path, name, uniqueness, workers, context):
                    if isinstance(checked, PreparedCase):
                        result.kind = result.kind or "case"
                        bulk.add_prepared(session, checked)
                        if on_record is not None:
                            on_record("case", result.read)
                        continue
                    result.kind = result.kind or checked.raw.kind
                    bulk.add(
                        session,
                        kind=checked.raw.kind,
                        location=checked.raw.location,
                        raw=checked.raw.data,
                        record=checked.record,
                        findings=checked.findings,
                    )
                    if on_record is not None:
                        on_record(checked.raw.kind, result.read)
                bulk.flush(session)
                if result.kind == "case":
                    bulk.finish(session)
                batch.kind = f"load.{result.kind or 'empty'}"
                close_batch(
                    session,
                    batch,
                    read=result.read,
                    accepted=result.added + result.changed,
                    quarantined=result.quarantined,
                    unchanged=result.unchanged,
                    status="committed",
                    settings=self.settings,
                    content_hash=digest,
                )
        except (UnsafeInput, UnreadableInput) as exc:
            uniqueness.forget_file(name)  # rolled back: its keys were never stored
            self._record_failure(name, digest, exc.rule, exc.message, result)
        except Exception as exc:
            # Anything else (a database error, a bug) fails this file only, loudly.
            uniqueness.forget_file(name)
            log.exception("loading %s failed", name)
            self._record_failure(name, digest, "load.error", describe_error(exc), result)
        log.info(
            "%s %s: read %d added %d changed %d unchanged %d quarantined %d",
            result.status,
            name,
            result.read,
            result.added,
            result.changed,
            result.unchanged,
            result.quarantined,
        )
        return result

    def _record_failure(
        self, name: str, digest: str, rule: str, message: str, result: FileResult
    ) -> None:
        result.status = "failed"
        result.error = f"[{rule}] {message}"
        result.reset()
        with self.sessions.begin() as session:
            batch = record_failed_batch(
                session,
                "load.failed",
                name,
                error=result.error,
                settings=self.settings,
                read=result.read,
                content_hash=digest,
                meta={"sha256": digest},
            )
            result.batch_id = batch.id
