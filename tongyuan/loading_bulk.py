"""Writing new cases of a file load in bulk: the same checks and rows, far fewer statements.

A case file of hundreds of thousands of records mostly holds cases the library has never
seen. Writing them one by one through the ORM costs a handful of statements and a
savepoint per case; here they arrive prepared (:mod:`tongyuan.loading_rows`: rows
finished but for their ids, in the worker that parsed them or in this process), are
buffered, and are written a chunk at a time: one lookup of the keys and serials already
stored, the library checks from per-chunk caches, ids reserved in one statement, one
multi-row insert per table, and on SQLite the ledger records of the new rows written with
them, so closing the batch need not read the rows back.

Only what is certainly a plain insert goes this way. A case whose key or serial is
already stored, one without a serial (the hub allocates it), one the libraries turn down,
and a chunk the database refuses for any reason go through
:meth:`tongyuan.storing.RecordStore.store` one by one, so updates, history checks, serial
allocation and quarantine stay exactly as they are everywhere else. Rows written here are
the rows :func:`tongyuan.libraries.cases.write_case` would write.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from standards.codes.enums import CaseState
from standards.records import Case, SourceLocation
from standards.validation import Finding, Severity
from standards.workdays import WorkCalendar
from tongyuan.ingest.timeliness import TimelinessCounts, recompute
from tongyuan.libraries.base import insert_tuples
from tongyuan.libraries.cases import find_case, serial_taken
from tongyuan.libraries.ledger import insert_records, note_prerecorded
from tongyuan.loading_rows import (
    CasePreparer,
    PreparedCase,
    PrepContext,
    timeliness_row,
)
from tongyuan.storing import RecordStore, StoreCounts

# Cases per flush: two bound parameters per key lookup stay far below every limit.
CHUNK = 1000

# A record for RecordStore.store: kind, location, raw, record, findings.
_OneByOne = tuple[str, SourceLocation, dict[str, Any], Any, list[Finding]]

# Checks a prepared case again from its source record, for the one-by-one path.
Recheck = Callable[[PreparedCase], tuple[Case | None, list[Finding]]]


def _reserve_ids(connection: Connection, table: str, count: int) -> list[int]:
    """``count`` ids for new rows of ``table`` (an integer ``id`` primary key).

    SQLite: above the largest id, safe because the batch's transaction holds the only
    write lock. PostgreSQL: taken from the column's sequence, as an insert would.
    """
    if connection.dialect.name == "postgresql":
        rows = connection.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
            f"FROM generate_series(1, {int(count)})"
        )
        return [row[0] for row in rows]
    top = connection.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table}").scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + count))


class BulkCaseWriter:
    """Buffers the valid new cases of one batch and inserts them a chunk at a time.

    Callers own the session and its transaction; :meth:`flush` must run before anything
    else of the batch reads the case library, and :meth:`finish` once at the end.
    """

    def __init__(
        self,
        store: RecordStore,
        counts: StoreCounts,
        *,
        context: PrepContext,
        source: str,
        now: datetime,
        base_dir: Path | None,
        recheck: Recheck | None = None,
        origin: dict[str, Any] | None = None,
        calendar: WorkCalendar | None = None,
    ) -> None:
        """``recheck`` rebuilds record and findings of a case prepared in a worker (not
        needed when every case is added here); ``origin`` goes with quarantined records
        (see :mod:`tongyuan.quarantine.origin`)."""
        self.store = store
        self.context = context
        self.batch_id = context.batch_id
        self.counts = counts
        self.source = source
        self.now = now
        self.base_dir = base_dir
        self.recheck = recheck
        self.origin = origin
        self.today = context.today
        self.calendar = calendar or WorkCalendar.default()
        self.preparer = CasePreparer(context, self.calendar)
        self.timeliness = TimelinessCounts()
        # Cases in arrival order: the clean ones to insert, and those to store one by one
        # (quarantined, mostly), kept back so quarantine entries follow the source's order.
        self._arrived = 0
        self._pending: list[tuple[int, PreparedCase]] = []
        self._deferred: list[tuple[int, _OneByOne]] = []
        # Cases written one by one: their timeliness is recomputed from the library.
        self._slow_keys: list[tuple[str, str]] = []

    def add(
        self,
        session: Session,
        *,
        kind: str,
        location: SourceLocation,
        raw: dict[str, Any],
        record: Any,
        findings: list[Finding],
    ) -> None:
        """Take one checked record: prepared and buffered when it is a clean case, else
        stored one by one (a case with the next chunk, anything else now)."""
        if isinstance(record, Case) and not _has_error(findings):
            warnings = sum(f.severity is Severity.WARNING for f in findings)
            prepared = self.preparer.prepare(record, raw, location, warnings, ())
            prepared.checked = (record, findings)
            self.add_prepared(session, prepared)
            return
        if kind != "case":
            self._store_one(session, kind, location, raw, record, findings)
            return
        self._arrived += 1
        self._deferred.append((self._arrived, (kind, location, raw, record, findings)))
        self._flush_when_full(session)

    def add_prepared(self, session: Session, prepared: PreparedCase) -> None:
        """Take one case prepared (here or in a worker) for this batch."""
        self._arrived += 1
        self._pending.append((self._arrived, prepared))
        self._flush_when_full(session)

    def _flush_when_full(self, session: Session) -> None:
        if len(self._pending) + len(self._deferred) >= CHUNK:
            self.flush(session)

    def _store_one(
        self,
        session: Session,
        kind: str,
        location: SourceLocation,
        raw: dict[str, Any],
        record: Any,
        findings: list[Finding],
        known_conflict: ValueError | None = None,
    ) -> None:
        outcome = self.store.store(
            session,
            self.batch_id,
            self.counts,
            kind=kind,
            location=location,
            raw=raw,
            record=record,
            findings=findings,
            source=self.source,
            now=self.now,
            base_dir=self.base_dir,
            origin=self.origin,
            known_conflict=known_conflict,
        )
        if isinstance(record, Case) and outcome in ("added", "changed"):
            self._slow_keys.append((record.source_system, record.dept_case_no))

    def _store_prepared(
        self, session: Session, prepared: PreparedCase, known_conflict: ValueError | None
    ) -> None:
        if prepared.checked is not None:
            record, findings = prepared.checked
        else:
            if self.recheck is None:
                raise RuntimeError("a case prepared elsewhere needs a recheck function")
            record, findings = self.recheck(prepared)
        self._store_one(
            session, "case", prepared.location, prepared.raw, record, findings, known_conflict
        )

    def flush(self, session: Session) -> None:
        """Write every buffered case (a chunk's lookups and checks, then its inserts)."""
        arrivals, self._pending = self._pending, []
        slow: list[tuple[int, PreparedCase | _OneByOne]] = list(self._deferred)
        self._deferred = []
        conflicts: dict[int, ValueError] = {}
        if arrivals:
            one_by_one, conflicts = self._write_chunk(session, arrivals)
            slow += one_by_one
        with self.store.quarantine_in_bulk(session):
            for arrived, item in sorted(slow, key=lambda entry: entry[0]):
                if isinstance(item, PreparedCase):
                    self._store_prepared(session, item, conflicts.get(arrived))
                else:
                    self._store_one(session, *item)

    def _write_chunk(
        self, session: Session, arrivals: list[tuple[int, PreparedCase]]
    ) -> tuple[list[tuple[int, PreparedCase | _OneByOne]], dict[int, ValueError]]:
        """Insert what certainly is a plain insert; returns the rest, to store one by one,
        and the conflicts already certain among them (by arrival).

        A new case bringing a serial the library held before this chunk cannot be written:
        ``write_case`` would refuse it with :func:`serial_taken`. Knowing that here spares
        a savepoint and two lookups per case, which made a re-delivery under new case
        numbers crawl at about a hundred cases a second.
        """
        pending = [p for _, p in arrivals]
        session.flush()
        keys = [p.key for p in pending]
        stored_keys = set(_ids_by_key(session, keys))
        held = _held_serials(session, [p.serial for p in pending if p.serial is not None])
        held_before = frozenset(held)
        conflicts: dict[int, ValueError] = {}
        seen: set[tuple[str, str]] = set()
        checks = self.store.case_checks
        cited = [m for p in pending for m in p.material_ids]
        checks.prefetch_materials(session, self.batch_id, cited)
        fresh: list[PreparedCase] = []
        fresh_arrivals: list[tuple[int, PreparedCase]] = []
        one_by_one: list[tuple[int, PreparedCase | _OneByOne]] = []
        chunk_keys: set[tuple[str, str]] = set()
        for (arrived, p), key in zip(arrivals, keys, strict=True):
            # A key or serial twice in one chunk would fail the whole insert: the second
            # one goes one by one (batch uniqueness normally stops it before it gets here;
            # serials of the chunk join ``held`` as they are taken).
            plain = (
                p.serial is not None
                and key not in stored_keys
                and key not in chunk_keys
                and p.serial not in held
            )
            if plain:
                library = checks.check_facts(
                    session,
                    self.batch_id,
                    impl_code=p.impl_code,
                    promised_limit_days=p.promised_limit_days,
                    material_ids=p.material_ids,
                )
                plain = not _has_error(library)
            if plain:
                chunk_keys.add(key)
                held.add(p.serial)  # type: ignore[arg-type]
                fresh.append(p)
                fresh_arrivals.append((arrived, p))
            else:
                one_by_one.append((arrived, p))
                if p.serial in held_before and key not in stored_keys and key not in seen:
                    conflicts[arrived] = serial_taken(key[0], key[1], p.serial)  # type: ignore[arg-type]
            seen.add(key)
        if fresh:
            try:
                with session.begin_nested():
                    written = self._insert(session, fresh)
            except IntegrityError:
                one_by_one += fresh_arrivals  # let each case meet its own conflict
            else:
                if written:
                    for kind, count in written.items():
                        note_prerecorded(session, self.batch_id, kind, count)
                self._count_timeliness(fresh)
                for p in fresh:
                    self.counts.read += 1
                    self.counts.added += 1
                    self.counts.warnings += p.warnings
        return one_by_one, conflicts

    def _finish_timeliness(self, session: Session, p: PreparedCase) -> None:
        """The timeliness row of a case that names no promised limit: the item's."""
        if p.timeliness is not None:
            return
        item = self.store.case_checks.item(session, p.impl_code)
        limit = item.promised_limit_days if item is not None else None
        history = [(CaseState(state), at) for state, at in p.history or []]
        p.timeliness, p.timeliness_flags = timeliness_row(
            self.preparer.shapes.timeliness, history, limit, self.today, self.calendar
        )

    def _insert(self, session: Session, fresh: list[PreparedCase]) -> dict[str, int]:
        """Insert the chunk; returns the ledger records written per kind (none on
        PostgreSQL, where the append reads the rows back)."""
        connection = session.connection()
        shapes = self.preparer.shapes
        case_ids = _reserve_ids(connection, "cases", len(fresh))
        event_ids = _reserve_ids(connection, "case_events", sum(len(p.event_rows) for p in fresh))
        case_rows = []
        event_rows = []
        timeliness_rows = []
        records: list[tuple[str, str, str, str]] = []
        digests = self.context.digests
        next_event = iter(event_ids)
        batch_id = self.batch_id
        for case_id, p in zip(case_ids, fresh, strict=True):
            case_rows.append((case_id, *p.case_row))
            if digests:
                assert p.case_digest is not None
                records.append(
                    (batch_id, "case", str(case_id), shapes.case.digest(p.case_digest, (case_id,)))
                )
            for index, values in enumerate(p.event_rows):
                event_id = next(next_event)
                event_rows.append((case_id, event_id, *values))
                if digests:
                    assert p.event_digests is not None
                    parts = p.event_digests[index]
                    digest = shapes.event.digest(parts, (case_id, event_id))
                    records.append((batch_id, "case_event", str(event_id), digest))
            self._finish_timeliness(session, p)
            assert p.timeliness is not None
            timeliness_rows.append((case_id, *p.timeliness))
        insert_tuples(connection, shapes.case.table, shapes.case.names, case_rows)
        insert_tuples(connection, shapes.event.table, shapes.event.names, event_rows)
        insert_tuples(connection, shapes.timeliness.table, shapes.timeliness.names, timeliness_rows)
        if not records:
            return {}
        insert_records(connection, records)
        return {"case": len(case_rows), "case_event": len(event_rows)}

    def _count_timeliness(self, fresh: list[PreparedCase]) -> None:
        counts = self.timeliness
        for p in fresh:
            assert p.timeliness_flags is not None
            overdue, prereview_late, status, problems = p.timeliness_flags
            counts.cases += 1
            counts.overdue += bool(overdue)
            counts.prereview_late += bool(prereview_late)
            counts.unknown += status == "unknown"
            for problem in problems:
                if problem not in counts.problems:
                    counts.problems.append(problem)

    def finish(self, session: Session) -> TimelinessCounts:
        """After the last record: flush, then the timeliness of cases written one by one."""
        self.flush(session)
        ids = []
        for source_system, dept_case_no in self._slow_keys:
            row = find_case(session, source_system, dept_case_no)
            if row is not None:
                ids.append(row.id)
        slow = recompute(session, ids, today=self.today, calendar=self.calendar)
        total = self.timeliness
        total.cases += slow.cases
        total.overdue += slow.overdue
        total.prereview_late += slow.prereview_late
        total.unknown += slow.unknown
        total.problems += [p for p in slow.problems if p not in total.problems]
        return total


def _ids_by_key(session: Session, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Ids of the stored cases among ``keys``, one indexed lookup per source system.

    Not a row-value ``(a, b) IN (…)``: SQLite answers that by scanning the whole index,
    which makes a load quadratic in the size of the library. The numbers go as one
    parameter (a JSON array on SQLite, an array on PostgreSQL): a thousand bound
    parameters cost SQLAlchemy more to expand than the lookup costs the database.
    """
    by_system: dict[str, list[str]] = {}
    for source_system, dept_case_no in keys:
        by_system.setdefault(source_system, []).append(dept_case_no)
    found: dict[tuple[str, str], int] = {}
    connection = session.connection()
    for source_system, numbers in by_system.items():
        rows = _in_list(
            connection,
            "SELECT id, dept_case_no FROM cases WHERE source_system = {mark} "
            "AND dept_case_no {in_list}",
            (source_system,),
            numbers,
        )
        for case_id, dept_case_no in rows:
            found[(source_system, dept_case_no)] = case_id
    return found


def _held_serials(session: Session, serials: list[str]) -> set[str]:
    """The serials among ``serials`` that stored cases hold."""
    if not serials:
        return set()
    rows = _in_list(
        session.connection(), "SELECT serial FROM cases WHERE serial {in_list}", (), serials
    )
    return {row[0] for row in rows}


def _in_list(
    connection: Connection, template: str, params: tuple[Any, ...], values: list[str]
) -> list[Any]:
    """Run ``template`` with ``{in_list}`` matching any of ``values`` (one parameter)."""
    if connection.dialect.name == "postgresql":
        sql = template.format(mark="%s", in_list="= ANY(%s)")
        return list(connection.exec_driver_sql(sql, (*params, values)))
    sql = template.format(mark="?", in_list="IN (SELECT value FROM json_each(?))")
    return list(connection.exec_driver_sql(sql, (*params, json.dumps(values))))


def _has_error(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
