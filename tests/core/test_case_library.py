from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from factories import CITIZEN_ID, CITIZEN_ID_2, IMPL_CODE, make_case
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from standards.codes.enums import CaseState, IdType
from standards.identifiers import InMemorySerialAllocator, format_case_serial
from standards.records import Applicant, CaseEvent
from tongyuan.libraries import (
    CaseEventRow,
    CaseHistoryConflict,
    CaseRow,
    DbSerialAllocator,
    case_events,
    case_record,
    find_case,
    find_cases_by_applicant_id,
    open_batch,
    write_case,
)
from tongyuan.privacy import PiiProtector


def _events(session: Session, row: CaseRow) -> list[tuple[int, str]]:
    return [(e.seq, e.state) for e in case_events(session, row.id)]


def test_add_assigns_serial_and_appends_events(
    session: Session, engine: Engine, protector: PiiProtector
) -> None:
    allocator = DbSerialAllocator(engine)
    batch = open_batch(session, "cases", "sz-market")
    assert write_case(
        session, batch.id, make_case(2), protector=protector, allocator=allocator
    ) == ("added")
    row = find_case(session, "sz-market", "SZ-2024-000001")
    assert row is not None
    assert row.serial == format_case_serial(IMPL_CODE, date(2024, 3, 1), 1)
    assert row.current_state == CaseState.ACCEPTED.value
    assert _events(session, row) == [(1, "1"), (2, "3")]

    assert write_case(
        session, batch.id, make_case(2), protector=protector, allocator=allocator
    ) == ("unchanged")
    assert write_case(
        session, batch.id, make_case(4), protector=protector, allocator=allocator
    ) == ("changed")
    assert _events(session, row) == [(1, "1"), (2, "3"), (3, "8"), (4, "11")]
    assert row.current_state == CaseState.DONE_APPROVED.value
    # An older snapshot (a prefix of the history) never rolls the case back.
    assert write_case(
        session, batch.id, make_case(3), protector=protector, allocator=allocator
    ) == ("unchanged")
    assert row.current_state == CaseState.DONE_APPROVED.value
    session.commit()

    other = make_case(1, dept_case_no="SZ-2024-000002")
    write_case(session, batch.id, other, protector=protector, allocator=allocator)
    second = find_case(session, "sz-market", "SZ-2024-000002")
    assert second is not None
    assert second.serial == format_case_serial(IMPL_CODE, date(2024, 3, 1), 2)


def test_stored_events_are_never_rewritten(session: Session, protector: PiiProtector) -> None:
    allocator = InMemorySerialAllocator()
    batch = open_batch(session, "cases", "sz-market")
    write_case(session, batch.id, make_case(2), protector=protector, allocator=allocator)
    session.commit()
    contradicting = make_case(3)
    contradicting.events[1] = CaseEvent(state=CaseState.REJECTED, at=datetime(2024, 3, 1, 10, 30))
    with pytest.raises(CaseHistoryConflict, match=r"event 2 differs .* state"):
        write_case(session, batch.id, contradicting, protector=protector, allocator=allocator)
    session.rollback()
    moved = make_case(2)
    moved.events[0] = CaseEvent(state=CaseState.RECEIVED, at=datetime(2024, 3, 1, 9, 31))
    with pytest.raises(CaseHistoryConflict, match="event 1 differs"):
        write_case(session, batch.id, moved, protector=protector, allocator=allocator)
    session.rollback()
    row = find_case(session, "sz-market", "SZ-2024-000001")
    assert row is not None
    assert _events(session, row) == [(1, "1"), (2, "3")]


def test_rewritten_event_message_names_the_differing_field_in_beijing_time(
    session: Session, protector: PiiProtector
) -> None:
    """Only the actor differs: the message shows both actors (IDs masked), and the event's
    time as departments send it (+08:00), not the stored UTC."""
    allocator = InMemorySerialAllocator()
    batch = open_batch(session, "cases", "sz-market")
    write_case(session, batch.id, make_case(2), protector=protector, allocator=allocator)
    session.commit()
    changed = make_case(2)
    stored_event = changed.events[1]
    changed.events[1] = stored_event.model_copy(update={"actor": f"窗口二 {CITIZEN_ID}"})
    with pytest.raises(CaseHistoryConflict) as caught:
        write_case(session, batch.id, changed, protector=protector, allocator=allocator)
    session.rollback()
    message = str(caught.value)
    local = stored_event.at.replace(tzinfo=None).isoformat() + "+08:00"
    assert f"(state 3 at {local})" in message, message
    assert "+00:00" not in message
    assert f"actor: stored {stored_event.actor!r}, incoming '窗口二 " in message
    assert CITIZEN_ID not in message and CITIZEN_ID[:4] in message


def test_serial_is_immutable(session: Session, protector: PiiProtector) -> None:
    allocator = InMemorySerialAllocator()
    batch = open_batch(session, "cases", "sz-market")
    given = format_case_serial(IMPL_CODE, date(2024, 3, 1), 77)
    write_case(
        session, batch.id, make_case(1, serial=given), protector=protector, allocator=allocator
    )
    row = find_case(session, "sz-market", "SZ-2024-000001")
    assert row is not None and row.serial == given
    with pytest.raises(CaseHistoryConflict, match="serials never change"):
        write_case(
            session,
            batch.id,
            make_case(1, serial=format_case_serial(IMPL_CODE, date(2024, 3, 1), 78)),
            protector=protector,
            allocator=allocator,
        )
    with pytest.raises(CaseHistoryConflict, match="already belongs to another case"):
        write_case(
            session,
            batch.id,
            make_case(1, dept_case_no="OTHER-1", serial=given),
            protector=protector,
            allocator=allocator,
        )


def test_serial_day_is_beijing_day_of_first_event(
    session: Session, protector: PiiProtector
) -> None:
    batch = open_batch(session, "cases", "sz-market")
    late_utc = CaseEvent(state=CaseState.RECEIVED, at=datetime(2024, 2, 29, 17, 0, tzinfo=UTC))
    case = make_case(1, events=[late_utc])
    write_case(session, batch.id, case, protector=protector, allocator=InMemorySerialAllocator())
    row = find_case(session, "sz-market", "SZ-2024-000001")
    assert row is not None
    assert row.serial == format_case_serial(IMPL_CODE, date(2024, 3, 1), 1)


def test_applicant_id_protected_and_searchable(
    session: Session, db_url: str, protector: PiiProtector
) -> None:
    allocator = InMemorySerialAllocator()
    batch = open_batch(session, "cases", "sz-market")
    write_case(session, batch.id, make_case(2), protector=protector, allocator=allocator)
    company = make_case(
        1,
        dept_case_no="SZ-2024-000009",
        applicant=Applicant(name="某公司", id_type=IdType.USCC, id_number="91110108551385082Q"),
    )
    write_case(session, batch.id, company, protector=protector, allocator=allocator)
    session.commit()

    row = find_case(session, "sz-market", "SZ-2024-000001")
    assert row is not None
    assert row.applicant_id_masked == "4403**********123X"
    assert protector.decrypt(row.applicant_id_enc) == CITIZEN_ID
    assert [
        c.id for c in find_cases_by_applicant_id(session, CITIZEN_ID.lower(), protector=protector)
    ] == [row.id]
    assert find_cases_by_applicant_id(session, CITIZEN_ID_2, protector=protector) == []
    org = find_case(session, "sz-market", "SZ-2024-000009")
    assert org is not None and org.applicant_id_masked == "91110108551385082Q"

    rebuilt = case_record(session, row, protector=protector)
    assert rebuilt.applicant.id_number == CITIZEN_ID
    assert [e.state for e in rebuilt.events] == [CaseState.RECEIVED, CaseState.ACCEPTED]

    # Nowhere in the database does the clear number appear.
    for table in ("cases", "case_events", "batches"):
        for record in session.execute(text(f"SELECT * FROM {table}")):
            assert CITIZEN_ID not in repr(tuple(record))
    session.close()
    if db_url.startswith("sqlite:///"):
        path = db_url.removeprefix("sqlite:///")
        session.get_bind().dispose()  # type: ignore[union-attr]
        blob = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if Path(p).exists())
        assert CITIZEN_ID.encode() not in blob
        assert b"44030119900101123" not in blob


def test_rerun_changes_nothing(session: Session, engine: Engine, protector: PiiProtector) -> None:
    allocator = DbSerialAllocator(engine)
    cases = [make_case(2), make_case(3, dept_case_no="SZ-2024-000002")]
    batch = open_batch(session, "cases", "sz-market")
    for case in cases:
        write_case(session, batch.id, case, protector=protector, allocator=allocator)
    session.commit()
    snapshot = [
        (r.id, r.serial, r.applicant_id_enc, r.updated_at, r.content_hash)
        for r in session.scalars(select(CaseRow).order_by(CaseRow.id))
    ]
    rerun = open_batch(session, "cases", "sz-market")
    outcomes = [
        write_case(session, rerun.id, c, protector=protector, allocator=allocator) for c in cases
    ]
    session.commit()
    assert outcomes == ["unchanged", "unchanged"]
    assert snapshot == [
        (r.id, r.serial, r.applicant_id_enc, r.updated_at, r.content_hash)
        for r in session.scalars(select(CaseRow).order_by(CaseRow.id))
    ]
    assert session.scalar(select(func.count()).select_from(CaseEventRow)) == 5
