from __future__ import annotations

from datetime import date

import pytest
from factories import CITIZEN_ID, make_license
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from standards.records import SourceLocation
from standards.validation.findings import Finding, Severity
from tongyuan.config import Settings
from tongyuan.libraries import (
    LicenseRow,
    QuarantineEntry,
    add_quarantined,
    close_batch,
    license_record,
    open_batch,
    quarantined_payload,
    set_quarantine_status,
    write_license,
)
from tongyuan.libraries.batches import Batch
from tongyuan.privacy import PiiProtector


def test_license_upsert_and_protection(session: Session, protector: PiiProtector) -> None:
    batch = open_batch(session, "licenses", "sz-market")
    lic = make_license()
    assert write_license(session, batch.id, lic, protector=protector) == "added"
    assert write_license(session, batch.id, lic, protector=protector) == "unchanged"
    row = session.get(LicenseRow, lic.identifier)
    assert row is not None
    row.indication = "TOTAL-PASSED"
    session.flush()
    assert (
        write_license(
            session, batch.id, make_license(valid_to=date(2030, 1, 1)), protector=protector
        )
        == "changed"
    )
    assert row.valid_to == date(2030, 1, 1)
    assert row.indication is None  # a verification of other content no longer applies
    assert row.holder_id_masked == "4403**********123X"
    assert license_record(row, protector=protector) == make_license(valid_to=date(2030, 1, 1))
    session.commit()
    for record in session.execute(text("SELECT * FROM licenses")):
        assert CITIZEN_ID not in repr(tuple(record))


def test_quarantine_round_trip(session: Session, protector: PiiProtector) -> None:
    batch = open_batch(session, "cases", "sz-market")
    payload = {
        "dept_case_no": "SZ-1",
        "applicant": {"name": "张三", "id_number": CITIZEN_ID},
        "note": f"证件 {CITIZEN_ID}",
    }
    findings = [
        Finding(
            "citizen_id.check",
            f"check character of {CITIZEN_ID[:4]}… is wrong",
            "applicant.id_number",
        ),
        Finding("region.unknown", "region 449999 does not exist", "region_code", Severity.WARNING),
    ]
    where = SourceLocation("cases-2024-03-01.xml", 7, 120)
    entry_id = add_quarantined(
        session, batch.id, kind="case", location=where, payload=payload, findings=findings,
        protector=protector,
    )  # fmt: skip
    again = add_quarantined(
        session, batch.id, kind="case", location=where, payload=payload, findings=findings,
        protector=protector,
    )  # fmt: skip
    assert again == entry_id
    assert session.scalar(select(func.count()).select_from(QuarantineEntry)) == 1
    session.commit()
    session.expire_all()

    entry = session.get(QuarantineEntry, entry_id)
    assert entry is not None
    assert quarantined_payload(entry, protector=protector) == payload
    assert entry.rule == "citizen_id.check"
    assert [r["rule"] for r in entry.rules] == ["citizen_id.check", "region.unknown"]
    assert entry.rules[1]["severity"] == "warning"
    assert (entry.source_file, entry.record_index, entry.line) == ("cases-2024-03-01.xml", 7, 120)
    assert entry.payload_masked["applicant"]["id_number"] == "4403**********123X"
    assert entry.status == "open" and entry.replay_count == 0
    for record in session.execute(text("SELECT * FROM quarantine")):
        assert CITIZEN_ID not in repr(tuple(record))

    set_quarantine_status(session, entry_id, "replayed", replayed=True)
    assert entry.replay_count == 1
    # Once the entry is no longer open, the same record failing again is a new entry.
    new_id = add_quarantined(
        session, batch.id, kind="case", location=where, payload=payload, findings=findings,
        protector=protector,
    )  # fmt: skip
    assert new_id != entry_id
    with pytest.raises(ValueError, match="at least one finding"):
        add_quarantined(
            session, batch.id, kind="case", location=where, payload=payload, findings=[],
            protector=protector,
        )  # fmt: skip


def test_batch_lifecycle(session: Session, settings: Settings) -> None:
    batch = open_batch(session, "items", "sz-catalogue", meta={"file": "items.xml"})
    assert batch.status == "running" and batch.started_at is not None
    close_batch(
        session, batch, read=10, accepted=7, quarantined=2, unchanged=1, status="committed",
        settings=settings, content_hash="ab" * 32,
    )  # fmt: skip
    session.commit()
    session.expire_all()
    stored = session.get(Batch, batch.id)
    assert stored is not None
    assert (stored.read_count, stored.accepted_count, stored.quarantined_count) == (10, 7, 2)
    assert stored.status == "committed" and stored.finished_at is not None
    assert stored.meta == {"file": "items.xml"}
    with pytest.raises(ValueError, match="already closed"):
        close_batch(
            session,
            stored,
            read=1,
            accepted=1,
            quarantined=0,
            unchanged=0,
            status="failed",
            settings=settings,
        )
