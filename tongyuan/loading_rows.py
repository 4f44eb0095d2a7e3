"""New cases turned into finished rows where they are parsed: a worker process or here.

The bulk writer (:mod:`tongyuan.loading_bulk`) spends most of a case's cost on Python work
that needs no database: the stored JSON document and its hash, the encrypted and hashed
identifier, the bind conversions of every column, the timeliness in working days and the
ledger digests of the rows. Done beside the parsing, in the worker that parsed the case,
the process that owns the transaction is left with what only it can do: look the chunk up
in the libraries, give the rows their ids, and insert them.

What is prepared here must be exactly what :func:`tongyuan.libraries.cases.write_case`
stores and what :mod:`tongyuan.ledger.digests` computes from the stored rows:
tests compare both (``tests/load/test_bulk_cases.py``, ``test_prepared_rows.py``).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import JSON, Column, Date, Integer, String, Table, create_engine
from sqlalchemy.engine import Dialect

from standards.codes.enums import CaseState
from standards.records import Case, SourceLocation
from standards.validation import Finding
from standards.validation.batch import UniqueKey
from standards.workdays import WorkCalendar
from tongyuan.ingest.timeliness import Timeliness, assess
from tongyuan.ledger.digests import BY_TABLE, _text
from tongyuan.libraries.base import UtcDateTime, to_utc
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseEventRow, CaseRow, _stored_data, case_content_hash
from tongyuan.libraries.protected import protect_id
from tongyuan.privacy import PiiProtector


@dataclass(frozen=True, slots=True)
class PrepContext:
    """What a preparing process needs to know of the batch (it travels to workers).

    ``digests``: prepare the ledger digests of the rows too. Only where the database
    returns a JSON document as the very text that was written (SQLite); PostgreSQL's
    ``jsonb`` normalises the text, so there the ledger reads the rows back.
    """

    batch_id: str
    updated_at: datetime
    database_url: str
    pii_key: bytes
    today: date
    digests: bool

    def __repr__(self) -> str:  # the key never shows in a log or a traceback
        return f"PrepContext(batch_id={self.batch_id!r}, digests={self.digests})"


class RowShape:
    """One table's insert as plain tuples: column order, bind conversions, digest layout.

    ``assigned`` columns (ids) are known only to the writer; they come first in
    :attr:`names`, the prepared values after them. Their digest parts must be adjacent in
    the digest's column order, so a digest is ``prefix + assigned parts + suffix``.

    The prepared columns are kept in the digest's order, so one pass over a row gives
    both the values the driver takes and the digest text around the ids (``encode``,
    compiled per table like ``values``): each column has a codec returning
    ``(stored value, digest text)``.
    """

    def __init__(self, table: Table, dialect: Dialect, assigned: Sequence[str]) -> None:
        self.table = table
        self.assigned = tuple(assigned)
        spec = BY_TABLE.get(table.name)
        self.digest_order: tuple[str, ...] = spec.digested_columns() if spec else ()
        by_name = {c.name: c for c in table.columns}
        digested = [n for n in self.digest_order if n not in self.assigned]
        rest = [c.name for c in table.columns if c.name not in self.assigned + self.digest_order]
        self.prepared = tuple(digested + rest)
        self.names = self.assigned + self.prepared
        # A column the preparer does not name gets what the ORM would fill in: its
        # scalar default (a column added later with one), else NULL.
        columns = []
        for name in self.prepared:
            if not name.isidentifier():  # names go into generated source (_compile)
                raise ValueError(f"{table.name}: column name {name!r} is not an identifier")
            column = by_name[name]
            default = (
                column.default.arg
                if column.default is not None and column.default.is_scalar
                else None
            )
            process = column.type._cached_bind_processor(dialect)
            columns.append((name, default, process, _codec(column, dialect, process)))
        split = None
        if spec is not None:
            positions = [self.digest_order.index(name) for name in self.assigned]
            if positions != list(range(positions[0], positions[0] + len(positions))):
                raise ValueError(f"{table.name}: assigned columns must be adjacent in digests")
            split = positions[0]
        self.values: Callable[[Mapping[str, Any]], tuple[Any, ...]] = _compile_values(columns)
        self.encode: Callable[[Mapping[str, Any]], tuple[tuple[Any, ...], tuple[bytes, bytes]]] = (
            _compile_encode(table.name, columns, len(digested), split)
        )

    def digest(self, parts: tuple[bytes, bytes], assigned: Sequence[int]) -> str:
        """The finished digest once the writer knows the ids."""
        middle = []
        for name, value in zip(self.assigned, assigned, strict=True):
            text = str(value)
            middle.append(f"{name}\t{len(text)}\t{text}\n")
        return hashlib.sha256(parts[0] + "".join(middle).encode() + parts[1]).hexdigest()


# What a row function is compiled from: name, default, bind processor, codec per column.
# The codec comes with whether it converts faster than the bind processor.
_Columns = Sequence[tuple[str, Any, Callable[[Any], Any] | None, tuple["Codec", bool]]]


def _compile(source: list[str], env: dict[str, Any], name: str) -> Callable[..., Any]:
    """A row function from generated source, as dataclasses builds ``__init__``.

    A loop over the columns costs more than the conversions themselves (a bulk load runs
    it for every case and event); unrolled, each column is a few bytecodes. The source
    holds only column names of our own tables (checked by :class:`RowShape` to be
    identifiers) and indexes.
    """
    namespace: dict[str, Any] = {}
    exec("\n".join(source), env, namespace)  # noqa: S102 - generated from our own metadata
    return namespace[name]  # type: ignore[no-any-return]


def _compile_values(columns: _Columns) -> Callable[..., tuple[Any, ...]]:
    """``values(row)``: the prepared columns' values as the driver takes them (ids left
    out), through the faster codec where there is one (the same value as the bind
    processor's, tested), else the bind processor."""
    env: dict[str, Any] = {}
    source = ["def values(row):", "    get = row.get"]
    for i, (name, default, process, (codec, faster)) in enumerate(columns):
        env[f"d{i}"] = default
        if faster:
            env[f"c{i}"] = codec
            source.append(f"    v = get({name!r}, d{i})")
            source.append(f"    s{i} = None if v is None else c{i}(v)[0]")
            continue
        source.append(f"    s{i} = get({name!r}, d{i})")
        if process is not None:
            env[f"p{i}"] = process
            source.append(f"    if s{i} is not None: s{i} = p{i}(s{i})")
    source.append(f"    return ({''.join(f's{i}, ' for i in range(len(columns)))})")
    return _compile(source, env, "values")


def _compile_encode(
    table: str, columns: _Columns, digested: int, split: int | None
) -> Callable[..., tuple[tuple[Any, ...], tuple[bytes, bytes]]]:
    """``encode(row)``: the values and the digest text around the assigned columns.

    Column ``i < digested`` adds ``name TAB len TAB text LF`` when not null, as
    :meth:`tongyuan.ledger.digests.CoveredTable.digest_of` does; the text before the
    assigned columns (position ``split``) and after them come back apart."""
    env: dict[str, Any] = {"head": f"{table}\n"}
    source = ["def encode(row):", "    get = row.get", "    parts = [head]"]
    for i, (name, default, _process, (codec, _faster)) in enumerate(columns):
        if i == split:
            source += ["    before = ''.join(parts)", "    parts = []"]
        env[f"d{i}"] = default
        env[f"c{i}"] = codec
        source.append(f"    v = get({name!r}, d{i})")
        source.append("    if v is None:")
        source.append(f"        s{i} = None")
        source.append("    else:")
        source.append(f"        s{i}, t = c{i}(v)")
        if i < digested:
            source.append(f"        parts.append(f'{name}\\t{{len(t)}}\\t{{t}}\\n')")
    if split is None or split >= len(columns):
        source += ["    before = ''.join(parts)", "    parts = []"]
    values = "".join(f"s{i}, " for i in range(len(columns)))
    source.append(f"    return ({values}), (before.encode(), ''.join(parts).encode())")
    return _compile(source, env, "encode")


# A column's conversion: the value as the driver takes it, and its digest text.
Codec = Callable[[Any], tuple[Any, str]]


def _codec(
    column: Column[Any], dialect: Dialect, process: Callable[[Any], Any] | None
) -> tuple[Codec, bool]:
    """The fastest exact codec for ``column``, and whether it converts faster than the
    bind processor: specialised for the types bulk rows hold on SQLite, the type's own
    bind processor and :func:`_text` for everything else."""

    type_ = column.type
    is_json = isinstance(type_, JSON)

    def generic(value: Any) -> tuple[Any, str]:
        stored = process(value) if process is not None else value
        if is_json:
            return stored, stored  # a JSON column is digested as its stored text
        return stored, value if type(value) is str else _text(value)

    if dialect.name != "sqlite":
        return generic, False
    if isinstance(type_, UtcDateTime):

        def utc_datetime(value: Any) -> tuple[Any, str]:
            if type(value) is not datetime:
                return generic(value)
            text = to_utc(value).isoformat()
            # SQLite's storage format: "YYYY-MM-DD HH:MM:SS.ffffff" of the naive UTC time.
            if len(text) == 25:  # isoformat leaves out a zero microsecond
                return f"{text[:10]} {text[11:19]}.000000", text
            return f"{text[:10]} {text[11:26]}", text

        return utc_datetime, True
    if type(type_) is Date:

        def plain_date(value: Any) -> tuple[Any, str]:
            if type(value) is not date:
                return generic(value)
            text = value.isoformat()
            return text, text

        return plain_date, True
    if process is None and isinstance(type_, String):

        def text_value(value: Any) -> tuple[Any, str]:
            return (value, value) if type(value) is str else generic(value)

        return text_value, False
    if process is None and type(type_) is Integer:

        def integer(value: Any) -> tuple[Any, str]:
            return (value, str(value)) if type(value) is int else generic(value)

        return integer, False
    return generic, False


@dataclass(frozen=True, slots=True)
class CaseShapes:
    """The three tables a new case is written to, for one database dialect."""

    case: RowShape
    event: RowShape
    timeliness: RowShape


@lru_cache(maxsize=4)
def case_shapes(database_url: str) -> CaseShapes:
    """Shapes for the database at ``database_url`` (its dialect's conversions)."""
    engine = create_engine(database_url)
    try:
        dialect = engine.dialect
    finally:
        engine.dispose()
    return CaseShapes(
        RowShape(CaseRow.__table__, dialect, ("id",)),
        RowShape(CaseEventRow.__table__, dialect, ("case_id", "id")),
        RowShape(CaseTimeliness.__table__, dialect, ("case_id",)),
    )


# (overdue, prereview late, status, calendar problems): what TimelinessCounts adds up.
TimelinessFlags = tuple[bool | None, bool | None, str, tuple[str, ...]]


@dataclass(slots=True)
class PreparedCase:
    """A valid new case, its rows finished but for their ids.

    What travels from a worker is plain: tuples, strings, numbers. The source record is
    kept pickled (``raw_blob``) and only unpickled by the writer's slow path — a case the
    libraries turn down, or whose key turns out to be stored already, is checked again
    from it and stored one by one. ``history`` is kept only when the timeliness still
    needs the item's promised limit (the case names none); otherwise ``timeliness`` holds
    the finished row and ``timeliness_flags`` what the batch counts of it.
    """

    location: SourceLocation
    _raw: dict[str, Any] | None
    raw_blob: bytes | None
    keys: tuple[UniqueKey, ...]
    source_system: str
    dept_case_no: str
    serial: str | None
    impl_code: str
    promised_limit_days: int | None
    material_ids: tuple[str, ...]
    warnings: int
    case_row: tuple[Any, ...]
    case_digest: tuple[bytes, bytes] | None
    event_rows: list[tuple[Any, ...]]
    event_digests: list[tuple[bytes, bytes]] | None
    timeliness: tuple[Any, ...] | None
    timeliness_flags: TimelinessFlags | None
    history: list[tuple[str, datetime]] | None
    # The record and findings it was prepared from, while in the process that checked
    # it (never pickled): the slow path needs no second check then.
    checked: tuple[Case, list[Finding]] | None = field(default=None, compare=False)

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return (from_wire, (self.to_wire(),))

    def to_wire(self) -> tuple[Any, ...]:
        """The case as one flat tuple of plain values (what a worker sends back).

        A segment's cases travel as a list of these rather than as objects: pickle
        writes a flat tuple of strings and tuples faster than an object with a reduce
        hook, and the writer, which receives every case, unpickles a segment's answer
        in a third of the time.
        """
        raw_blob = self.raw_blob
        if raw_blob is None:
            raw_blob = pickle.dumps(self._raw, protocol=pickle.HIGHEST_PROTOCOL)
        where = self.location
        return (
            where.file, where.record, where.line, raw_blob, self.keys, self.source_system,
            self.dept_case_no, self.serial, self.impl_code, self.promised_limit_days,
            self.material_ids, self.warnings, self.case_row, self.case_digest,
            self.event_rows, self.event_digests, self.timeliness, self.timeliness_flags,
            self.history,
        )  # fmt: skip

    @property
    def raw(self) -> dict[str, Any]:
        """The source record as parsed (unpickled on first use)."""
        if self._raw is None:
            assert self.raw_blob is not None
            # Our own worker pickled it; the pool pipe it came through is pickle anyway.
            self._raw = pickle.loads(self.raw_blob)  # noqa: S301
        return self._raw

    @property
    def key(self) -> tuple[str, str]:
        return (self.source_system, self.dept_case_no)


def from_wire(wire: tuple[Any, ...]) -> PreparedCase:
    """The case :meth:`PreparedCase.to_wire` sent."""
    return PreparedCase(SourceLocation(wire[0], wire[1], wire[2]), None, *wire[3:])


def timeliness_row(
    shape: RowShape,
    history: Sequence[tuple[CaseState, datetime]],
    limit_days: int | None,
    today: date,
    calendar: WorkCalendar,
) -> tuple[tuple[Any, ...], TimelinessFlags]:
    """A case's timeliness row (as ``recompute`` stores it) and what the batch counts."""
    result = assess(history, limit_days=limit_days, today=today, calendar=calendar)
    flags = (result.overdue, result.prereview_late, result.status, tuple(result.problems))
    return timeliness_values(shape, result, today), flags


class CasePreparer:
    """Turns checked cases into :class:`PreparedCase` for one batch."""

    def __init__(self, context: PrepContext, calendar: WorkCalendar | None = None) -> None:
        self.context = context
        self.shapes = case_shapes(context.database_url)
        self.protector = _protector(context.pii_key)
        self.calendar = calendar or WorkCalendar.default()

    def prepare(
        self,
        case: Case,
        raw: dict[str, Any],
        location: SourceLocation,
        warnings: int,
        keys: tuple[UniqueKey, ...],
    ) -> PreparedCase:
        ctx = self.context
        shapes = self.shapes
        applicant = case.applicant
        protected = protect_id(self.protector, applicant.id_number, applicant.id_type)
        data = _stored_data(case, protected.hash, protected.masked)
        # The events first: their documents go into the case's content hash. Each
        # event's time is turned to UTC once, for its document, its row and its history.
        docs: list[dict[str, Any]] = []
        event_rows: list[tuple[Any, ...]] = []
        event_digests: list[tuple[bytes, bytes]] | None = [] if ctx.digests else None
        history: list[tuple[CaseState, datetime]] = []
        for seq, event in enumerate(case.events, start=1):
            state = event.state
            at = to_utc(event.at)
            actor, note = event.actor, event.note
            # What _event_doc makes of it (the ORM path's hash, compared by the tests).
            docs.append({"state": state.value, "at": at.isoformat(), "actor": actor, "note": note})
            doc = {
                "seq": seq,
                "state": state.value,
                "at": at,
                "actor": actor,
                "note": note,
                "batch_id": ctx.batch_id,
            }
            if event_digests is not None:
                values, parts = shapes.event.encode(doc)
                event_digests.append(parts)
            else:
                values = shapes.event.values(doc)
            event_rows.append(values)
            history.append((state, at))
        row = {
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
            "content_hash": case_content_hash(data, protected, docs),
            "batch_id": ctx.batch_id,
            "data": data,
            "updated_at": ctx.updated_at,
        }
        case_digest = None
        if ctx.digests:
            case_row, case_digest = shapes.case.encode(row)
        else:
            case_row = shapes.case.values(row)
        limit = case.promised_limit_days
        timeliness = flags = None
        if limit is not None:
            timeliness, flags = timeliness_row(
                shapes.timeliness, history, limit, ctx.today, self.calendar
            )
        return PreparedCase(
            location=location,
            _raw=raw,
            raw_blob=None,
            keys=keys,
            source_system=case.source_system,
            dept_case_no=case.dept_case_no,
            serial=case.serial,
            impl_code=case.impl_code,
            promised_limit_days=limit,
            material_ids=tuple(case.material_ids or ()),
            warnings=warnings,
            case_row=case_row,
            case_digest=case_digest,
            event_rows=event_rows,
            event_digests=event_digests,
            timeliness=timeliness,
            timeliness_flags=flags,
            history=None if timeliness is not None else [(s.value, at) for s, at in history],
        )


def timeliness_values(shape: RowShape, result: Timeliness, as_of: date) -> tuple[Any, ...]:
    """A timeliness row as :func:`tongyuan.ingest.timeliness.recompute` would store it."""
    return shape.values(
        {
            "status": result.status,
            "overdue": result.overdue,
            "limit_days": result.limit_days,
            "deadline": result.deadline,
            "received_at": result.received_at,
            "prereview_deadline": result.prereview_deadline,
            "prereview_at": result.prereview_at,
            "prereview_late": result.prereview_late,
            "as_of": as_of,
            "problem": "; ".join(result.problems) or None,
        }
    )


@lru_cache(maxsize=2)
def _protector(key: bytes) -> PiiProtector:
    return PiiProtector(key)
