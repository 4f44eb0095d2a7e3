"""The case library: one row per case, its state history in append-only events.

A case arrives again every time its department system reports it, usually with a longer
history. Stored events are facts the hub has already passed on; they are never rewritten.
An incoming history must therefore start with the stored one: it may add events, or be an
older snapshot (a strict prefix, ignored), but a history that disagrees with what is
stored is an error for a person to look at, not something to overwrite.

A stored case belongs to whoever first delivered it: the department whose case system
delivered its first event (``tongyuan ingest``, or a replay of that department's
quarantined delivery), or nobody for a case an operator loaded from a file or pulled by
hand. Only deliveries of that same owner may change it (``case.owner.mismatch``), so one
department's system can never rewrite another department's case. The owner is read from
the batch of the case's first event, which the ledger vouches for; no column holds it
(:mod:`tongyuan.libraries.case_owners`).
Its 实施编码 never changes either: the serial was made from it (``case.serial.mismatch``).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import (
    Date,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from standards.codes.enums import CaseState, IdType
from standards.identifiers.case_serial import SerialAllocator, format_case_serial
from standards.privacy import mask_text
from standards.records import Applicant, Case, CaseEvent
from tongyuan.libraries.base import (
    HUB_TIMEZONE,
    Base,
    JsonDoc,
    UtcDateTime,
    local_date,
    record_json_hash,
    to_utc,
    utcnow,
)
from tongyuan.libraries.case_owners import CaseOwner, case_owner
from tongyuan.libraries.protected import ProtectedId, protect_id
from tongyuan.libraries.serials import DbSerialAllocator
from tongyuan.privacy import PiiProtector

WriteOutcome = Literal["added", "changed", "unchanged"]


class CaseHistoryConflict(ValueError):
    """An incoming case history contradicts events already stored for the case.

    ``rule`` is the rule id a quarantine records for it: a rewritten history
    (``case.events.rewritten``), a serial already held by another case
    (``case.serial.duplicate``), a delivery by someone other than the case's owner
    (``case.owner.mismatch``), a changed 实施编码 the stored serial no longer matches
    (``case.serial.mismatch``); a changed serial stays a ``library.conflict``.
    """

    def __init__(self, message: str, *, rule: str = "case.events.rewritten") -> None:
        super().__init__(message)
        self.rule = rule


class CaseRow(Base):
    __tablename__ = "cases"
    __table_args__ = (UniqueConstraint("source_system", "dept_case_no"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)
    source_system: Mapped[str] = mapped_column(String(64))
    dept_case_no: Mapped[str] = mapped_column(String(64))
    impl_code: Mapped[str] = mapped_column(String(64), index=True)
    item_name: Mapped[str | None] = mapped_column(String(200))
    applicant_name: Mapped[str] = mapped_column(String(200))
    applicant_id_type: Mapped[str] = mapped_column(String(8))
    applicant_id_enc: Mapped[str] = mapped_column(Text)
    applicant_id_hash: Mapped[str] = mapped_column(String(64), index=True)
    applicant_id_masked: Mapped[str] = mapped_column(String(64))
    current_state: Mapped[str] = mapped_column(String(4), index=True)
    accepted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    promised_deadline: Mapped[date | None] = mapped_column(Date)
    region_code: Mapped[str | None] = mapped_column(String(12), index=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JsonDoc)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CaseEventRow(Base):
    __tablename__ = "case_events"
    __table_args__ = (UniqueConstraint("case_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(4))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"), index=True)


def _event_doc(event: CaseEvent | CaseEventRow) -> dict[str, Any]:
    state = event.state.value if isinstance(event.state, CaseState) else event.state
    return {
        "state": state,
        "at": to_utc(event.at).isoformat(),
        "actor": event.actor,
        "note": event.note,
    }


def _stored_data(case: Case, id_hash: str, id_masked: str) -> dict[str, Any]:
    """The record as stored: no clear ID, no serial (a column), no events (a table)."""
    data = case.model_dump(mode="json", exclude_none=True, exclude={"serial", "events"})
    applicant = data["applicant"]
    del applicant["id_number"]
    applicant["id_hash"] = id_hash
    applicant["id_masked"] = id_masked
    return data


def case_content_hash(
    data: dict[str, Any], protected: ProtectedId, events: list[dict[str, Any]]
) -> str:
    """The content hash of a stored case document and its events' documents.

    The applicant's ID is hashed in its hash form, not as displayed
    (:mod:`tongyuan.libraries.protected`): a case stored before the display mask changed
    and delivered again unchanged stays unchanged.
    """
    applicant = {**data["applicant"], "id_masked": protected.hash_form}
    return record_json_hash({"case": {**data, "applicant": applicant}, "events": events})


def find_case(session: Session, source_system: str, dept_case_no: str) -> CaseRow | None:
    return session.scalars(
        select(CaseRow).where(
            CaseRow.source_system == source_system, CaseRow.dept_case_no == dept_case_no
        )
    ).one_or_none()


def case_events(session: Session, case_id: int) -> list[CaseEventRow]:
    return list(
        session.scalars(
            select(CaseEventRow).where(CaseEventRow.case_id == case_id).order_by(CaseEventRow.seq)
        )
    )


def find_cases_by_applicant_id(
    session: Session, id_number: str, *, protector: PiiProtector
) -> list[CaseRow]:
    """Cases of one applicant, found through the keyed hash (never a clear-text scan)."""
    id_hash = protector.lookup_hash(id_number)
    return list(
        session.scalars(
            select(CaseRow).where(CaseRow.applicant_id_hash == id_hash).order_by(CaseRow.id)
        )
    )


def _shown_time(value: datetime) -> str:
    """A stored (UTC) time as the hub shows times: Beijing time, as departments send them."""
    return to_utc(value).astimezone(HUB_TIMEZONE).isoformat()


def _shown_value(field: str, value: Any) -> str:
    """One event field for a message: times in Beijing time, free text masked and quoted."""
    if value is None:
        return "(none)"
    if field == "at":
        return _shown_time(datetime.fromisoformat(value))
    if field in ("actor", "note"):
        text = mask_text(str(value))
        return repr(text if len(text) <= 80 else text[:77] + "...")
    return str(value)


def _check_history(row: CaseRow, stored: list[CaseEventRow], incoming: list[CaseEvent]) -> None:
    for index, (old, new) in enumerate(zip(stored, incoming, strict=False)):
        old_doc, new_doc = _event_doc(old), _event_doc(new)
        if old_doc != new_doc:
            differing = "; ".join(
                f"{k}: stored {_shown_value(k, old_doc[k])}, incoming {_shown_value(k, new_doc[k])}"
                for k in old_doc
                if old_doc[k] != new_doc[k]
            )
            raise CaseHistoryConflict(
                f"case {row.source_system}/{row.dept_case_no} (serial {row.serial}): incoming "
                f"event {index + 1} differs from the stored one (state {old_doc['state']} at "
                f"{_shown_value('at', old_doc['at'])}) in {differing}; stored events are "
                "never rewritten"
            )


def _owner_conflict(row: CaseRow, owner: CaseOwner, department: str | None) -> CaseHistoryConflict:
    now = (
        f"this delivery comes from the case system of department {department}"
        if department is not None
        else "this is a file load or hand pull, not a department's case system"
    )
    return CaseHistoryConflict(
        f"case {row.source_system}/{row.dept_case_no} (serial {row.serial}) {owner.first}; "
        f"{now}. A stored case changes only with deliveries of whoever first delivered it",
        rule="case.owner.mismatch",
    )


def write_case(
    session: Session,
    batch_id: str,
    case: Case,
    *,
    protector: PiiProtector,
    allocator: SerialAllocator,
    department: str | None = None,
) -> WriteOutcome:
    """Upsert a case by (source system, department case number) and append new events.

    ``department`` is the department whose case system delivers it (``None``: a file
    load or hand pull, see :func:`department_of_source`); a stored case of another owner
    is refused (``case.owner.mismatch``). A case without a serial gets the hub's
    统一业务流水号 for the day of its first event (hub-local calendar). A given serial must
    match the stored one, and the 实施编码 the stored one: serials never change.
    """
    row = find_case(session, case.source_system, case.dept_case_no)
    stored = case_events(session, row.id) if row is not None else []
    if row is not None:
        owner = case_owner(session, row, stored)
        if not owner.admits(department):
            raise _owner_conflict(row, owner, department)
        if case.impl_code != row.impl_code:
            raise CaseHistoryConflict(
                f"case {row.source_system}/{row.dept_case_no}: delivered 实施编码 "
                f"{case.impl_code} differs from the stored {row.impl_code}, from which its "
                f"serial {row.serial} was made; a case's 实施编码 and serial never change",
                rule="case.serial.mismatch",
            )
        _check_history(row, stored, case.events)
        if case.serial is not None and case.serial != row.serial:
            raise CaseHistoryConflict(
                f"case {row.source_system}/{row.dept_case_no}: incoming serial {case.serial} "
                f"differs from the stored serial {row.serial}; serials never change",
                rule="library.conflict",
            )
        if len(case.events) < len(stored):
            return "unchanged"  # an older snapshot of a case we know better

    applicant = case.applicant
    protected = protect_id(protector, applicant.id_number, applicant.id_type)
    data = _stored_data(case, protected.hash, protected.masked)
    content_hash = case_content_hash(data, protected, [_event_doc(e) for e in case.events])
    if row is not None and row.content_hash == content_hash:
        return "unchanged"

    outcome: WriteOutcome = "changed"
    if row is None:
        row = CaseRow(
            source_system=case.source_system,
            dept_case_no=case.dept_case_no,
            serial=_new_serial(session, case, allocator),
        )
        session.add(row)
        outcome = "added"
    if row.applicant_id_hash != protected.hash:
        # A fresh nonce makes every ciphertext differ: re-encrypt only when the ID changed,
        # so an unchanged applicant leaves the row untouched.
        row.applicant_id_enc = protected.enc
        row.applicant_id_hash = protected.hash
    row.applicant_id_masked = protected.masked
    row.applicant_name = applicant.name
    row.applicant_id_type = applicant.id_type.value
    row.impl_code = case.impl_code
    row.item_name = case.item_name
    row.current_state = case.current_state.value
    row.accepted_at = case.accepted_at
    row.decided_at = case.decided_at
    row.delivered_at = case.delivered_at
    row.promised_deadline = case.promised_deadline
    row.region_code = case.region_code
    row.content_hash = content_hash
    row.batch_id = batch_id
    row.data = data
    row.updated_at = utcnow()
    session.flush()
    for seq, event in enumerate(case.events[len(stored) :], start=len(stored) + 1):
        session.add(
            CaseEventRow(
                case_id=row.id,
                seq=seq,
                state=event.state.value,
                at=event.at,
                actor=event.actor,
                note=event.note,
                batch_id=batch_id,
            )
        )
    session.flush()
    return outcome


def serial_taken(source_system: str, dept_case_no: str, serial: str) -> CaseHistoryConflict:
    """The conflict of a new case bringing a serial another case holds (bulk loads that
    know it beforehand quarantine the case with this very finding, without the write)."""
    return CaseHistoryConflict(
        f"case {source_system}/{dept_case_no}: serial {serial} already belongs to another case",
        rule="case.serial.duplicate",
    )


def _new_serial(session: Session, case: Case, allocator: SerialAllocator) -> str:
    if case.serial is not None:
        taken = session.scalars(select(CaseRow.id).where(CaseRow.serial == case.serial)).first()
        if taken is not None:
            raise serial_taken(case.source_system, case.dept_case_no, case.serial)
        return case.serial
    day = local_date(case.events[0].at)
    # A department may give serials of its own in the hub's format; the counter does not
    # know them, so a number already held is skipped rather than written twice (which the
    # unique index would refuse, failing the whole batch).
    for _ in range(_SERIAL_ATTEMPTS):
        if isinstance(allocator, DbSerialAllocator):
            seq = allocator.allocate_for(session, case.impl_code, day)
        else:
            seq = allocator.allocate(case.impl_code, day)
        serial = format_case_serial(case.impl_code, day, seq)
        if session.scalars(select(CaseRow.id).where(CaseRow.serial == serial)).first() is None:
            return serial
    raise CaseHistoryConflict(
        f"case {case.source_system}/{case.dept_case_no}: {_SERIAL_ATTEMPTS} serials in a row "
        f"for {case.impl_code} on {day} are already held by other cases",
        rule="case.serial.duplicate",
    )


_SERIAL_ATTEMPTS = 1000


def case_record(session: Session, row: CaseRow, *, protector: PiiProtector) -> Case:
    """Rebuild the standard record, clear ID included (for exports to entitled receivers)."""
    data = dict(row.data)
    applicant_doc = {
        k: v for k, v in data.pop("applicant").items() if k not in ("id_hash", "id_masked")
    }
    applicant = Applicant.model_validate(
        {
            **applicant_doc,
            "id_type": IdType(row.applicant_id_type),
            "id_number": protector.decrypt(row.applicant_id_enc),
        }
    )
    events = [
        CaseEvent(state=CaseState(e.state), at=e.at, actor=e.actor, note=e.note)
        for e in case_events(session, row.id)
    ]
    return Case.model_validate(
        {**data, "serial": row.serial, "applicant": applicant, "events": events}
    )
