"""A large case file read by worker processes that also prepare its new cases' rows.

Sending every parsed record back whole costs more to pickle than to parse (a pydantic
Case with its events and datetimes). Here a worker parses and checks a segment and, for
each case that passed the standard, prepares its rows
(:class:`tongyuan.loading_rows.PreparedCase`: plain tuples, strings and bytes, cheap to
send). Records with findings travel whole, to be stored or quarantined here.

The answers are those of :func:`tongyuan.validating.check_file`, in file order: batch
uniqueness is checked here, and a case found to repeat a key goes back to being a checked
record with that finding. A segment that fails makes the rest of the file be read in one
piece, so a file-level error is raised exactly where a sequential read raises it.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from functools import partial
from pathlib import Path
from typing import Any

from standards.formats import (
    ParseLimits,
    RawRecord,
    UnreadableInput,
    UnsafeInput,
    iter_raw_records,
)
from standards.formats.segments import XmlSegment, iter_xml_segment
from standards.records import Case, SourceLocation
from standards.validation import CheckOptions, Severity
from standards.validation.batch import BatchUniqueness, unique_keys
from tongyuan.loading_rows import CasePreparer, PreparedCase, PrepContext, from_wire
from tongyuan.validating import CheckedRecord, _in_file_order, check_raw

_preparers: dict[str, CasePreparer] = {}


def _preparer(context: PrepContext) -> CasePreparer:
    """One preparer per batch in a worker (its calendar and key derivation are reused)."""
    found = _preparers.get(context.batch_id)
    if found is None:
        _preparers.clear()
        found = _preparers[context.batch_id] = CasePreparer(context)
    return found


def prepare_segment(
    segment: XmlSegment, options: CheckOptions, limits: ParseLimits, *, context: PrepContext
) -> tuple[list[Any], tuple[str, str, int | None] | None]:
    """Worker side: parse and check one segment; clean cases come back prepared."""
    preparer = _preparer(context)
    base_dir = Path(segment.path).parent
    out: list[Any] = []
    try:
        for raw in iter_xml_segment(segment, limits):
            record, findings = check_raw(raw, options, base_dir)
            if isinstance(record, Case) and not any(f.severity is Severity.ERROR for f in findings):
                warnings = sum(f.severity is Severity.WARNING for f in findings)
                out.append(
                    preparer.prepare(record, raw.data, raw.location, warnings, unique_keys(record))
                )
            else:
                out.append((raw, record, findings))
    except (UnsafeInput, UnreadableInput) as exc:
        return out, (exc.rule, exc.message, exc.line)
    return out, None


def prepare_segment_for_pool(
    segment: XmlSegment, options: CheckOptions, limits: ParseLimits, *, context: PrepContext
) -> tuple[WiredOutcomes, tuple[str, str, int | None] | None]:
    """Worker side: :func:`prepare_segment`, its answer in wire form."""
    out, error = prepare_segment(segment, options, limits, context=context)
    return WiredOutcomes(out), error


class WiredOutcomes:
    """A segment's outcomes as a worker sends them back: prepared cases as flat tuples
    (:meth:`PreparedCase.to_wire`), the other records as ``(position, outcome)``.

    Iterating gives the outcomes in file order again, as :func:`prepare_segment` made
    them; ``len`` counts them all.
    """

    __slots__ = ("others", "wires")

    def __init__(self, outcomes: list[Any]) -> None:
        self.wires: list[tuple[Any, ...]] = []
        self.others: list[tuple[int, Any]] = []
        for position, outcome in enumerate(outcomes):
            if isinstance(outcome, PreparedCase):
                self.wires.append(outcome.to_wire())
            else:
                self.others.append((position, outcome))

    def __len__(self) -> int:
        return len(self.wires) + len(self.others)

    def __iter__(self) -> Iterator[Any]:
        wires = iter(self.wires)
        at = 0
        for position, outcome in self.others:
            while at < position:
                yield from_wire(next(wires))
                at += 1
            yield outcome
            at += 1
        for wire in wires:
            yield from_wire(wire)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (_wired, (self.wires, self.others))


def _wired(wires: list[tuple[Any, ...]], others: list[tuple[int, Any]]) -> WiredOutcomes:
    found = WiredOutcomes.__new__(WiredOutcomes)
    found.wires, found.others = wires, others
    return found


def prepared_file_parallel(
    path: Path,
    *,
    options: CheckOptions,
    uniqueness: BatchUniqueness,
    pool: Executor,
    workers: int,
    segments: list[XmlSegment],
    context: PrepContext,
    limits: ParseLimits | None = None,
    file_label: str | None = None,
) -> Iterator[CheckedRecord | PreparedCase]:
    """The file's records in order: prepared cases, or checked records to store one by one.

    This process prepares segments too while the workers' next answer is not ready (see
    :func:`tongyuan.validating._in_file_order`).
    """
    limits = limits or ParseLimits()
    label = file_label if file_label is not None else str(path)
    work = partial(prepare_segment_for_pool, context=context)
    here = partial(prepare_segment, context=context)
    done = 0
    answers = _in_file_order(
        pool, work, segments, options, limits, workers, label, share=True, local_work=here
    )
    for done, outcomes in answers:
        if outcomes is None:
            break
        for outcome in outcomes:
            if isinstance(outcome, PreparedCase):
                where = outcome.location
                outcome.location = SourceLocation(label, done + (where.record or 0), where.line)
                repeated = uniqueness.check_keys(outcome.keys, outcome.location)
                if not repeated:
                    yield outcome
                    continue
                raw = RawRecord("case", outcome.location, outcome.raw)
                record, findings = check_raw(raw, options, path.parent)
                yield CheckedRecord(raw, record, findings + repeated)
                continue
            raw, record, findings = outcome
            raw.location = SourceLocation(label, done + raw.location.record, raw.location.line)
            if record is not None:
                findings += uniqueness.check(record, raw.location)
            yield CheckedRecord(raw, record, findings)
    else:
        return
    for i, raw in enumerate(iter_raw_records(path, limits=limits)):
        if i < done:
            continue
        raw.location = SourceLocation(label, raw.location.record, raw.location.line)
        record, findings = check_raw(raw, options, path.parent)
        if record is not None:
            findings += uniqueness.check(record, raw.location)
        yield CheckedRecord(raw, record, findings)
