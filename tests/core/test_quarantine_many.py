"""Quarantining many records at once leaves what one add_quarantined per record leaves."""

from __future__ import annotations

from typing import Any

from factories import CITIZEN_ID
from sqlalchemy import select
from sqlalchemy.orm import Session

from standards.records import SourceLocation
from standards.validation.findings import Finding
from tongyuan.libraries import QuarantineEntry, add_quarantined, open_batch, quarantined_payload
from tongyuan.libraries.quarantine import QuarantineRequest, add_quarantined_many
from tongyuan.privacy import PiiProtector


def _requests(batch_id: str) -> list[QuarantineRequest]:
    def payload(n: int) -> dict[str, Any]:
        return {"dept_case_no": f"SZ-{n}", "applicant": {"name": "张三", "id_number": CITIZEN_ID}}

    broke = [Finding("case.timestamps", f"受理早于申报 {CITIZEN_ID}", "accepted_at")]
    other = [Finding("case.serial.duplicate", "serial already belongs to another case")]
    origin = {"path": "pull", "source": "sz", "config": {"url": "secret"}}
    return [
        QuarantineRequest(batch_id, "case", SourceLocation("a.xml", 1, 3), payload(1), broke),
        QuarantineRequest(batch_id, "case", SourceLocation("a.xml", 2, 9), payload(2), other),
        # the first one again from the same place, now breaking another rule
        QuarantineRequest(batch_id, "case", SourceLocation("a.xml", 1, 3), payload(1), other),
        QuarantineRequest(batch_id, "case", SourceLocation("b.xml", 1), payload(3), broke, origin),
    ]


def _entries(session: Session, protector: PiiProtector) -> list[tuple[Any, ...]]:
    return [
        (
            e.kind, e.source_file, e.record_index, e.line, e.payload_hash, e.payload_masked,
            e.rules, e.rule, e.message, e.status, e.replay_count, e.origin,
            quarantined_payload(e, protector=protector),
            None if e.origin_enc is None else protector.decrypt(e.origin_enc),
        )
        for e in session.scalars(select(QuarantineEntry).order_by(QuarantineEntry.id))
    ]  # fmt: skip


def _with_one_open(session: Session, protector: PiiProtector) -> list[QuarantineRequest]:
    """A new batch's requests, with an entry already open for the second record."""
    batch = open_batch(session, "cases", "sz")
    requests = _requests(batch.id)
    first, second = requests[0], requests[1]
    add_quarantined(
        session, batch.id, kind="case", location=second.location, payload=second.payload,
        findings=first.findings, protector=protector,
    )  # fmt: skip
    return requests


def test_many_at_once_equals_one_at_a_time(session: Session, protector: PiiProtector) -> None:
    requests = _with_one_open(session, protector)
    add_quarantined_many(session, requests, protector=protector)
    session.flush()
    many = _entries(session, protector)

    session.rollback()
    for r in _with_one_open(session, protector):
        add_quarantined(
            session, r.batch_id, kind=r.kind, location=r.location, payload=r.payload,
            findings=r.findings, protector=protector, origin=r.origin,
        )  # fmt: skip
    session.flush()
    one_by_one = _entries(session, protector)

    assert many == one_by_one
    assert [(e[1], e[2], e[7]) for e in many] == [
        ("a.xml", 2, "case.serial.duplicate"),  # the earlier entry, its rules replaced
        ("a.xml", 1, "case.serial.duplicate"),  # the repeat's rules replaced the first's
        ("b.xml", 1, "case.timestamps"),
    ]
    text = repr([e[:12] for e in many])
    assert CITIZEN_ID not in text and "secret" not in text


def test_nothing_to_quarantine_writes_nothing(session: Session, protector: PiiProtector) -> None:
    add_quarantined_many(session, [], protector=protector)
    assert session.scalars(select(QuarantineEntry)).first() is None


def test_records_differing_only_in_case_or_separators_are_two_entries(
    session: Session, protector: PiiProtector
) -> None:
    """A repeat is the same text, not the same text once normalised like an ID number:
    two different records from one place must both be kept for replay."""
    batch = open_batch(session, "cases", "sz")
    broke = [Finding("case.timestamps", "受理早于申报", "accepted_at")]
    where = SourceLocation("a.xml", 1, 3)
    first = {"dept_case_no": "Q-1", "applicant": {"name": "li lei", "id_number": CITIZEN_ID}}
    second = {"dept_case_no": "Q1", "applicant": {"name": "LILEI", "id_number": CITIZEN_ID}}
    for payload in (first, second, first):
        add_quarantined(
            session, batch.id, kind="case", location=where, payload=payload, findings=broke,
            protector=protector,
        )  # fmt: skip
    entries = session.scalars(select(QuarantineEntry).order_by(QuarantineEntry.id)).all()
    assert [quarantined_payload(e, protector=protector) for e in entries] == [first, second]
