"""Checking exchange files against the standard, file by file, record by record.

Used by ``tongyuan validate`` and by the loaders, so a file is judged the same way
whether an engineer checks it by hand or the hub ingests it.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from standards.formats import (
    ParseLimits,
    RawRecord,
    UnreadableInput,
    UnsafeInput,
    iter_raw_records,
    to_record,
)
from standards.formats.segments import XmlSegment, iter_xml_segment, plan_xml_segments
from standards.records import SourceLocation, StandardRecord
from standards.validation import CheckOptions, Finding, Severity
from standards.validation.batch import BatchUniqueness, UniqueKey, unique_keys
from standards.validation.record_checks import check_record
from tongyuan.collection import tune_worker

_log = logging.getLogger(__name__)

RECORD_SUFFIXES = (".xml", ".jsonl", ".ndjson")


@dataclass(frozen=True, slots=True)
class RecordError:
    """One problem: where (file, record, line, field), which rule, what."""

    file: str
    record: int | None
    line: int | None
    rule: str
    field: str | None
    message: str
    severity: str = Severity.ERROR.value

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "record": self.record,
            "line": self.line,
            "rule": self.rule,
            "field": self.field,
            "message": self.message,
            "severity": self.severity,
        }


@dataclass(slots=True)
class CheckedRecord:
    """A record after every check: ``record`` is None when it did not even parse."""

    raw: RawRecord
    record: StandardRecord | None
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        return self.record is not None and not any(
            f.severity is Severity.ERROR for f in self.findings
        )


@dataclass(slots=True)
class ValidationReport:
    """Everything ``validate`` found in a set of files."""

    files: int = 0
    records: int = 0
    invalid_records: int = 0
    unreadable_files: int = 0
    errors: list[RecordError] = field(default_factory=list)
    warnings: list[RecordError] = field(default_factory=list)
    by_kind: Counter[str] = field(default_factory=Counter)

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def exit_code(self) -> int:
        """0 all valid, 1 invalid records, 2 a file unreadable or unsafe."""
        if self.unreadable_files:
            return 2
        return 1 if self.errors else 0

    def rule_counts(self) -> Counter[str]:
        return Counter(e.rule for e in self.errors)

    def as_dict(self) -> dict[str, object]:
        return {
            "valid": self.valid,
            "files": self.files,
            "records": self.records,
            "invalid_records": self.invalid_records,
            "unreadable_files": self.unreadable_files,
            "records_by_kind": dict(self.by_kind),
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [w.as_dict() for w in self.warnings],
        }


def discover_files(paths: Iterable[Path]) -> list[Path]:
    """Record files under the given paths, in a stable order.

    Folders are searched recursively for exchange files; symlinks are not followed, so a
    drop folder cannot point the validator elsewhere. Named files are taken as given.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p
                for p in sorted(path.rglob("*"))
                if p.suffix.lower() in RECORD_SUFFIXES and p.is_file() and not p.is_symlink()
            )
        else:
            found.append(path)
    return found


def check_raw(
    raw: RawRecord, options: CheckOptions, base_dir: Path
) -> tuple[StandardRecord | None, list[Finding]]:
    """Every per-record check of one parsed record (not the batch-wide uniqueness)."""
    record, findings = to_record(raw)
    if record is not None:
        try:
            findings = findings + check_record(
                record, options, base_dir=base_dir, chars_checked=raw.chars_checked
            )
        except Exception as exc:  # a defect of one check must not cost the whole file
            # The record waits in quarantine (replayable once the check is fixed) and the
            # rest of the file goes on. Only the exception's type is kept: its text could
            # quote the record's values.
            _log.error(
                "a check failed on %s: %s (record quarantined)",
                raw.location,
                type(exc).__name__,
            )
            failed = Finding(
                "record.check_failed",
                f"a check could not run on this record ({type(exc).__name__}); "
                "replay it once the hub is fixed",
            )
            findings = [*findings, failed]
    return record, findings


def check_file(
    path: Path,
    *,
    options: CheckOptions,
    uniqueness: BatchUniqueness,
    limits: ParseLimits | None = None,
    file_label: str | None = None,
) -> Iterator[CheckedRecord]:
    """Parse and check one file. File-level problems raise UnsafeInput / UnreadableInput.

    Material manifests are checked against files in the manifest's own folder.
    """
    base_dir = path.parent
    for raw in iter_raw_records(path, limits=limits or ParseLimits()):
        if file_label is not None:
            raw.location = SourceLocation(file_label, raw.location.record, raw.location.line)
        record, findings = check_raw(raw, options, base_dir)
        if record is not None:
            findings += uniqueness.check(record, raw.location)
        yield CheckedRecord(raw, record, findings)


# Smaller segments for loading than for validating: a loader holds the prepared rows of
# the segments in flight, and memory must not grow with the file.
LOAD_SEGMENT_BYTES = 512 << 10


def plan_load_segments(path: Path, workers: int) -> list[XmlSegment] | None:
    """Segments for :func:`tongyuan.loading_feed.prepared_file_parallel`, or None to read
    the file in one piece."""
    if workers < 1 or path.suffix.lower() != ".xml" or not path.is_file():
        return None
    size = path.stat().st_size
    if size < PARALLEL_MIN_BYTES:
        return None
    return plan_xml_segments(
        path, max(2 * workers, size // LOAD_SEGMENT_BYTES), min_bytes=LOAD_SEGMENT_BYTES
    )


def _in_file_order(
    pool: Executor,
    work: Callable[[XmlSegment, CheckOptions, ParseLimits], tuple[list[Any], Any]],
    segments: list[XmlSegment],
    options: CheckOptions,
    limits: ParseLimits,
    workers: int,
    label: str,
    *,
    share: bool = False,
    local_work: Callable[[XmlSegment, CheckOptions, ParseLimits], tuple[list[Any], Any]]
    | None = None,
) -> Iterator[tuple[int, list[Any] | None]]:
    """Segments checked by ``work`` in the pool, answers taken in file order.

    Yields ``(records before this segment, its outcomes)``; for a segment whose worker
    hit a file-level error it yields ``(records before it, None)`` and stops, so the
    caller re-reads the file in one piece from there. At most ``workers + 1`` segments
    are in the pool (memory stays bounded), and the record limit applies to the file.

    ``share``: this process takes a segment itself whenever the next answer is not ready
    yet, instead of waiting. The consumer of the answers (a loader writing them) is
    often faster than the workers; its idle time then parses and checks too, and what it
    does itself is never pickled. At most :data:`LOCAL_AHEAD` such answers wait.
    ``local_work`` does those segments instead of ``work`` (whose answer may be shaped
    for the trip back from a worker); both must answer alike.
    """
    here = local_work or work
    pending: deque[Future[tuple[list[Any], Any]] | tuple[list[Any], Any]] = deque()
    queue = iter(segments)
    in_pool = 0
    done = 0

    def top_up() -> None:
        nonlocal in_pool
        while in_pool <= workers:
            segment = next(queue, None)
            if segment is None:
                return
            pending.append(pool.submit(work, segment, options, limits))
            in_pool += 1

    top_up()
    while pending:
        head = pending[0]
        if share and isinstance(head, Future) and not head.done():
            done_here = len(pending) - in_pool
            segment = next(queue, None) if done_here < LOCAL_AHEAD else None
            if segment is not None:
                pending.append(here(segment, options, limits))
                continue
        pending.popleft()
        if isinstance(head, Future):
            in_pool -= 1
            outcomes, error = head.result()
        else:
            outcomes, error = head
        if error is not None:
            for item in pending:
                if isinstance(item, Future):
                    item.cancel()
            yield done, None
            return
        yield done, outcomes
        done += len(outcomes)
        if done > limits.max_records:
            raise UnsafeInput(label, f"more than {limits.max_records} records in one file")
        top_up()


# Answers a sharing consumer may hold, done by itself, ahead of the pool's next one.
LOCAL_AHEAD = 1


# One record as the collector sees it: kind, where, parsed?, findings, keys to keep unique.
_Item = tuple[str, SourceLocation, bool, list[Finding], tuple[UniqueKey, ...]]
# A worker's answer for one segment: (relative index, line, parsed?, findings, keys) per
# record, and the file-level error that ended it (rule, message, line), if any.
_SegmentResult = tuple[
    list[tuple[int, int | None, bool, list[Finding], tuple[UniqueKey, ...]]],
    tuple[str, str, int | None] | None,
]

PARALLEL_MIN_BYTES = 16 << 20
SEGMENT_BYTES = 32 << 20


def _check_segment(
    segment: XmlSegment, options: CheckOptions, limits: ParseLimits
) -> _SegmentResult:
    """Worker side: parse and check one segment; only compact outcomes travel back."""
    base_dir = Path(segment.path).parent
    out = []
    try:
        for raw in iter_xml_segment(segment, limits):
            record, findings = check_raw(raw, options, base_dir)
            keys = unique_keys(record) if record is not None else ()
            out.append((raw.location.record, raw.location.line, record is not None, findings, keys))
    except (UnsafeInput, UnreadableInput) as exc:
        return out, (exc.rule, exc.message, exc.line)
    return out, None


def _outcomes_inline(
    path: Path, name: str, options: CheckOptions, limits: ParseLimits
) -> Iterator[_Item]:
    for raw in iter_raw_records(path, limits=limits):
        loc = SourceLocation(name, raw.location.record, raw.location.line)
        record, findings = check_raw(raw, options, path.parent)
        yield raw.kind, loc, record is not None, findings, unique_keys(record) if record else ()


def _outcomes_segmented(
    path: Path,
    name: str,
    options: CheckOptions,
    limits: ParseLimits,
    pool: Executor,
    segments: list[XmlSegment],
    workers: int,
) -> Iterator[_Item]:
    """Segments parsed and checked in worker processes, results taken in file order.

    Same answers as reading the file in one piece: indexes continue across segments, the
    record limit applies to the file, and when a segment fails the file is read again in
    one piece from the record where the failure's segment began — so an error is reported
    exactly where (and as) a sequential read reports it, whatever the cut.
    """
    kind = segments[0].kind
    done = 0
    for done, outcomes in _in_file_order(
        pool, _check_segment, segments, options, limits, workers, name
    ):
        if outcomes is None:
            break
        for index, line, parsed, findings, keys in outcomes:
            yield kind, SourceLocation(name, done + index, line), parsed, findings, keys
    else:
        return
    for i, item in enumerate(_outcomes_inline(path, name, options, limits)):
        if i >= done:
            yield item


def _pool(workers: int) -> Executor:
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=mp.get_context("spawn"),
        initializer=tune_worker,
        initargs=WORKER_MODULES,
    )


# What a worker imports before its collector is tuned (see tongyuan.collection).
WORKER_MODULES = ("tongyuan.validating", "tongyuan.loading_feed")


def worker_pool(workers: int) -> Executor:
    """Processes for segment checks (spawned: nothing of the caller's state is shared)."""
    return _pool(workers)


def default_workers(paths: Iterable[Path]) -> int:
    """Worker processes worth starting for these files: 0 unless one is large."""
    big = any(p.is_file() and p.stat().st_size >= PARALLEL_MIN_BYTES for p in paths)
    workers = min(os.cpu_count() or 1, 4) if big else 0
    return workers if workers > 1 else 0


def validate_paths(
    paths: Iterable[Path],
    *,
    options: CheckOptions | None = None,
    limits: ParseLimits | None = None,
    relative_to: Path | None = None,
    on_file: Callable[[Path, int], None] | None = None,
    workers: int | None = None,
) -> ValidationReport:
    """Check every record file under ``paths``; one bad file or record never stops the rest.

    ``workers``: processes that parse and check segments of large XML files in parallel;
    ``None`` uses the machine's cores (up to 4) when a file is large enough to repay
    starting them, 0 reads everything in this process.
    """
    options = options or CheckOptions()
    limits = limits or ParseLimits()
    files = discover_files(paths)
    if workers is None:
        big = any(p.is_file() and p.stat().st_size >= PARALLEL_MIN_BYTES for p in files)
        workers = min(os.cpu_count() or 1, 4) if big else 0
        workers = workers if workers > 1 else 0
    report = ValidationReport()
    uniqueness = BatchUniqueness()
    pool = _pool(workers) if workers > 0 else None
    try:
        for path in files:
            name = display_name(path, relative_to)
            segments = None
            if pool is not None and path.suffix.lower() == ".xml":
                size = path.stat().st_size
                if size >= PARALLEL_MIN_BYTES:
                    segments = plan_xml_segments(path, max(2 * workers, size // SEGMENT_BYTES))
            outcomes = (
                _outcomes_segmented(path, name, options, limits, pool, segments, workers)  # type: ignore[arg-type]
                if segments
                else _outcomes_inline(path, name, options, limits)
            )
            count = _collect(report, outcomes, uniqueness, name)
            if on_file is not None:
                on_file(path, count)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return report


def _collect(
    report: ValidationReport, outcomes: Iterator[_Item], uniqueness: BatchUniqueness, name: str
) -> int:
    """Fold one file's outcomes into the report; a file-level error becomes one entry."""
    report.files += 1
    count = 0
    try:
        for kind, loc, parsed, findings, keys in outcomes:
            count += 1
            report.records += 1
            report.by_kind[kind] += 1
            if keys:
                findings = findings + uniqueness.check_keys(keys, loc)
            bad = not parsed
            for f in findings:
                err = RecordError(
                    name, loc.record, loc.line, f.rule, f.field, f.message, f.severity.value
                )
                if f.severity is Severity.ERROR:
                    bad = True
                    report.errors.append(err)
                else:
                    report.warnings.append(err)
            report.invalid_records += bad
    except (UnsafeInput, UnreadableInput) as exc:
        report.unreadable_files += 1
        report.errors.append(RecordError(name, None, exc.line, exc.rule, None, exc.message))
    except OSError as exc:
        report.unreadable_files += 1
        report.errors.append(
            RecordError(
                name, None, None, "xml.malformed", None, f"cannot read file: {exc.strerror}"
            )
        )
    return count


def display_name(path: Path, relative_to: Path | None) -> str:
    """The name reports use for a file: relative to the dataset root when possible."""
    if relative_to is not None:
        try:
            return path.resolve().relative_to(relative_to.resolve()).as_posix()
        except ValueError:
            pass
    return str(path)
