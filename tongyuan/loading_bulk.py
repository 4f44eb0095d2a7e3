"""Writing new cases of a file load in bulk: the same checks and rows, far fewer statements.

A case file of hundreds of thousands of records mostly holds cases the library has never
seen. Writing them one by one through the ORM costs a handful of statements and a
savepoint per case; here they are buffered after their checks and written a chunk at a
time (one lookup of the keys and serials already stored, one multi-row insert per
table, the timeliness of each case computed from the record in hand).

Only what is certainly a plain insert goes this way. A case whose key or serial is
already stored, one without a serial (the hub allocates it), and a chunk the database
refuses for any reason go through :meth:`tongyuan.storing.RecordStore.store` one by one,
so updates, history checks, serial allocation and conflict quarantine stay exactly as
they are everywhere else. Rows written here are the rows :func:`write_case` would write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from standards.codes.enums import CaseState
from standards.records import Case, SourceLocation
from standards.validation import Finding, Severity
from standards.workdays import WorkCalendar
from tongyuan.ingest.timeliness import TimelinessCounts, assess, hub_today, recompute
from tongyuan.libraries.base import json_hash, utcnow
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseEventRow, CaseRow, _event_doc, _stored_data, find_case
from tongyuan.libraries.protected import protect_id
from tongyuan.storing import RecordStore, StoreCounts

# Cases per flush: two bound parameters per key lookup stay far below every limit.
CHUNK = 1000


class _RowInserter:
    """A multi-row insert into one table with the columns' own bind conversions.

    The conversions are the ones SQLAlchemy applies (UTC datetimes, JSON documents,
    dates, booleans), looked up once per table; rows then go to the driver's
    ``executemany`` as plain tuples, without SQLAlchemy's per-row bookkeeping, which
    costs more than the database itself on inserts of this size.
    """

    def __init__(self, session: Session, table: Table) -> None:
        connection = session.connection()
        dialect = connection.dialect
        self.connection = connection
        columns = [c for c in table.columns if c is not table.autoincrement_column]
        self.names = [c.name for c in columns]
        # What the ORM would fill in for a column the writer does not name (a column
        # added later with a plain default, or a nullable one).
        self.defaults = {
            c.name: c.default.arg if c.default is not None and c.default.is_scalar else None
            for c in columns
        }
        processors = [c.type._cached_bind_processor(dialect) for c in columns]
        self.processors = list(enumerate(processors))
        quote = dialect.identifier_preparer.quote
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        self.sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in self.names)}) "
            f"VALUES ({', '.join(mark for _ in self.names)})"
        )

    def insert(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        names = self.names
        defaults = self.defaults
        processors = [(i, p) for i, p in self.processors if p is not None]
        params = []
        for row in rows:
            values = [row.get(name, defaults[name]) for name in names]
            for i, process in processors:
                if values[i] is not None:
                    values[i] = process(values[i])
            params.append(tuple(values))
        self.connection.exec_driver_sql(self.sql, params)


@dataclass(slots=True)
class _Pending:
    record: Case
    raw: dict[str, Any]
    location: SourceLocation
    findings: list[Finding]  # the standard's, as the checks gave them
    library: list[Finding]  # the library checks' (none of them errors)
    limit_days: int | None


class BulkCaseWriter:
    """Buffers the valid new cases of one batch and inserts them a chunk at a time.

    Callers own the session and its transaction; :meth:`flush` must run before anything
    else of the batch reads the case library, and :meth:`finish` once at the end.
    """

    def __init__(
        self,
        store: RecordStore,
        batch_id: str,
        counts: StoreCounts,
        *,
        source: str,
        now: datetime,
        base_dir: Path | None,
        today: date | None = None,
        calendar: WorkCalendar | None = None,
    ) -> None:
        self.store = store
        self.batch_id = batch_id
        self.counts = counts
        self.source = source
        self.now = now
        self.base_dir = base_dir
        self.today = today or hub_today()
        self.calendar = calendar or WorkCalendar.default()
        self.timeliness = TimelinessCounts()
        self._pending: list[_Pending] = []
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
        """Take one checked record: buffered when it is a clean case, else stored now."""
        if isinstance(record, Case) and not _has_error(findings):
            library = self.store.case_checks.check(session, self.batch_id, record)
            if not _has_error(library):
                item = self.store.case_checks.item(session, record.impl_code)
                limit = record.promised_limit_days
                if limit is None and item is not None:
                    limit = item.promised_limit_days
                self._pending.append(_Pending(record, raw, location, findings, library, limit))
                if len(self._pending) >= CHUNK:
                    self.flush(session)
                return
        self._store_one(session, kind, location, raw, record, findings)

    def _store_one(
        self,
        session: Session,
        kind: str,
        location: SourceLocation,
        raw: dict[str, Any],
        record: Any,
        findings: list[Finding],
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
        )
        if isinstance(record, Case) and outcome in ("added", "changed"):
            self._slow_keys.append((record.source_system, record.dept_case_no))

    def flush(self, session: Session) -> None:
        """Write every buffered case (a chunk's lookups, then its inserts)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        session.flush()
        keys = [(p.record.source_system, p.record.dept_case_no) for p in pending]
        stored_keys = set(_ids_by_key(session, keys))
        serials = [p.record.serial for p in pending if p.record.serial is not None]
        held = set(session.scalars(select(CaseRow.serial).where(CaseRow.serial.in_(serials))))
        fresh: list[_Pending] = []
        one_by_one: list[_Pending] = []
        for p, key in zip(pending, keys, strict=True):
            plain = p.record.serial is not None and key not in stored_keys
            (fresh if plain and p.record.serial not in held else one_by_one).append(p)
        if fresh:
            try:
                with session.begin_nested():
                    self._insert(session, fresh)
            except IntegrityError:
                one_by_one = fresh + one_by_one  # let each case meet its own conflict
            else:
                for p in fresh:
                    self.counts.read += 1
                    self.counts.added += 1
                    self.counts.warnings += sum(
                        f.severity is Severity.WARNING for f in (*p.findings, *p.library)
                    )
        for p in one_by_one:
            self._store_one(session, "case", p.location, p.raw, p.record, p.findings)

    def _insert(self, session: Session, fresh: list[_Pending]) -> None:
        protector = self.store.protector
        updated = utcnow()
        rows = []
        for p in fresh:
            case = p.record
            applicant = case.applicant
            protected = protect_id(protector, applicant.id_number, applicant.id_type)
            data = _stored_data(case, protected.hash, protected.masked)
            events = [_event_doc(e) for e in case.events]
            rows.append(
                {
                    "serial": case.serial,
                    "source_system": case.source_system,
                    "dept_case_no": case.dept_case_no,
                    "impl_code": case.impl_code,
                    "item_name": case.item_name,
                    "applicant_name": applicant.name,
                    "applicant_id_type": applicant.id_type.value,
                    "applicant_id_enc": protected.enc,
                    "applicant_id_hash": protected.hash,
                    "applicant_id_masked": protected.masked,
                    "current_state": case.current_state.value,
                    "accepted_at": case.accepted_at,
                    "decided_at": case.decided_at,
                    "delivered_at": case.delivered_at,
                    "promised_deadline": case.promised_deadline,
                    "region_code": case.region_code,
                    "content_hash": json_hash({"case": data, "events": events}),
                    "batch_id": self.batch_id,
                    "data": data,
                    "updated_at": updated,
                }
            )
        # Ids read back by key: RETURNING with parameter order costs SQLite one statement
        # per row, while a plain multi-row insert and one indexed lookup cost two.
        _RowInserter(session, CaseRow.__table__).insert(rows)
        keys = [(row["source_system"], row["dept_case_no"]) for row in rows]
        by_key = _ids_by_key(session, keys)
        ids = [by_key[key] for key in keys]
        event_rows = []
        timeliness_rows = []
        for case_id, p in zip(ids, fresh, strict=True):
            history = []
            for seq, event in enumerate(p.record.events, start=1):
                event_rows.append(
                    {
                        "case_id": case_id,
                        "seq": seq,
                        "state": event.state.value,
                        "at": event.at,
                        "actor": event.actor,
                        "note": event.note,
                        "batch_id": self.batch_id,
                    }
                )
                history.append((CaseState(event.state), event.at))
            timeliness_rows.append(self._timeliness_row(case_id, history, p.limit_days))
        _RowInserter(session, CaseEventRow.__table__).insert(event_rows)
        _RowInserter(session, CaseTimeliness.__table__).insert(timeliness_rows)

    def _timeliness_row(
        self, case_id: int, history: list[tuple[CaseState, datetime]], limit: int | None
    ) -> dict[str, Any]:
        """The row :func:`tongyuan.ingest.timeliness.recompute` would store for the case."""
        result = assess(history, limit_days=limit, today=self.today, calendar=self.calendar)
        counts = self.timeliness
        counts.cases += 1
        counts.overdue += bool(result.overdue)
        counts.prereview_late += bool(result.prereview_late)
        counts.unknown += result.status == "unknown"
        for problem in result.problems:
            if problem not in counts.problems:
                counts.problems.append(problem)
        return {
            "case_id": case_id,
            "status": result.status,
            "overdue": result.overdue,
            "limit_days": result.limit_days,
            "deadline": result.deadline,
            "received_at": result.received_at,
            "prereview_deadline": result.prereview_deadline,
            "prereview_at": result.prereview_at,
            "prereview_late": result.prereview_late,
            "as_of": self.today,
            "problem": "; ".join(result.problems) or None,
        }

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
    which makes a load quadratic in the size of the library.
    """
    by_system: dict[str, list[str]] = {}
    for source_system, dept_case_no in keys:
        by_system.setdefault(source_system, []).append(dept_case_no)
    found: dict[tuple[str, str], int] = {}
    for source_system, numbers in by_system.items():
        rows = session.execute(
            select(CaseRow.id, CaseRow.dept_case_no).where(
                CaseRow.source_system == source_system, CaseRow.dept_case_no.in_(numbers)
            )
        )
        for case_id, dept_case_no in rows:
            found[(source_system, dept_case_no)] = case_id
    return found


def _has_error(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
