"""Display masks stored before at-most-a-third (``E123*5678``): unchanged records stay
unchanged, and what is shown of them is masked as today."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any

import pytest
import std_factories
from factories import make_case, make_license
from sqlalchemy import select
from sqlalchemy.orm import Session

from standards.codes.enums import IdType
from standards.formats import write_records
from standards.identifiers import InMemorySerialAllocator
from standards.privacy import mask_id
from standards.records import Applicant, Case
from tongyuan.config import Settings
from tongyuan.ingest.overdue import overdue_cases
from tongyuan.libraries import (
    CaseRow,
    LicenseRow,
    find_case,
    open_batch,
    write_case,
    write_license,
)
from tongyuan.libraries.base import json_hash, record_json_hash
from tongyuan.libraries.cases import _event_doc, _stored_data
from tongyuan.libraries.protected import hash_form, protect_id, shown_mask
from tongyuan.loading import Loader
from tongyuan.privacy import PiiProtector

PASSPORT = "E12345678"
OLD_MASK = "E123*5678"  # what the versions before at-most-a-third stored
NEW_MASK = "E******78"


def _passport_case(**overrides: Any) -> Case:
    applicant = Applicant(name="John Smith", id_type=IdType.PASSPORT, id_number=PASSPORT)
    return make_case(2, applicant=applicant, **overrides)


def _store_as_before(session: Session, case: Case, protector: PiiProtector) -> CaseRow:
    """The case written, then its row made what an older version wrote: the old mask in
    the column and the document, the content hash over that document."""
    write_case(session, open_batch(session, "cases", "sz-market").id, case,
               protector=protector, allocator=InMemorySerialAllocator())  # fmt: skip
    row = find_case(session, case.source_system, case.dept_case_no)
    assert row is not None
    data = _stored_data(case, row.applicant_id_hash, OLD_MASK)
    row.applicant_id_masked = OLD_MASK
    row.data = data
    row.content_hash = record_json_hash(
        {"case": data, "events": [_event_doc(e) for e in case.events]}
    )
    session.commit()
    return row


def _case_columns(row: CaseRow) -> tuple[Any, ...]:
    return (row.content_hash, row.applicant_id_masked, row.data, row.batch_id, row.updated_at)


def test_an_unchanged_case_stored_with_the_old_mask_is_unchanged(
    session: Session, protector: PiiProtector
) -> None:
    case = _passport_case()
    row = _store_as_before(session, case, protector)
    before = _case_columns(row)
    again = open_batch(session, "cases", "sz-market")
    outcome = write_case(
        session, again.id, case, protector=protector, allocator=InMemorySerialAllocator()
    )
    session.commit()
    assert outcome == "unchanged"
    assert _case_columns(row) == before
    # A real change is written, with the new mask for display.
    changed = _passport_case(item_name="食品经营许可（变更）")
    assert write_case(session, again.id, changed, protector=protector,
                      allocator=InMemorySerialAllocator()) == "changed"  # fmt: skip
    assert row.applicant_id_masked == NEW_MASK
    assert row.data["applicant"]["id_masked"] == NEW_MASK


def test_an_unchanged_licence_stored_with_the_old_mask_keeps_its_verdict(
    session: Session, protector: PiiProtector
) -> None:
    licence = make_license(holder_id=PASSPORT, holder_id_type=IdType.PASSPORT)
    batch = open_batch(session, "licenses", "sz-market")
    assert write_license(session, batch.id, licence, protector=protector) == "added"
    row = session.get(LicenseRow, licence.identifier)
    assert row is not None and row.holder_id_masked == NEW_MASK
    data = {**row.data, "holder_id_masked": OLD_MASK}  # as an older version wrote it
    row.data, row.holder_id_masked = data, OLD_MASK
    row.content_hash = json_hash({**data, "holder_id_hash": row.holder_id_hash})
    row.verified_at, row.indication = datetime(2026, 1, 5, tzinfo=UTC), "TOTAL_PASSED"
    session.commit()
    again = open_batch(session, "licenses", "sz-market")
    assert write_license(session, again.id, licence, protector=protector) == "unchanged"
    session.commit()
    assert (row.indication, row.holder_id_masked, row.batch_id) == (
        "TOTAL_PASSED",
        OLD_MASK,
        batch.id,
    )
    assert row.verified_at is not None


def test_a_case_loaded_in_bulk_is_unchanged_when_written_one_by_one(
    settings: Settings, db_url: str, tmp_path
) -> None:
    """The bulk path hashes a case as write_case does (the hash form, not the mask)."""
    drop = tmp_path / "drop"
    (drop / "items").mkdir(parents=True)
    (drop / "cases").mkdir()
    write_records(drop / "items" / "items.xml", [std_factories.make_item()])
    applicant = Applicant(name="John Smith", id_type=IdType.PASSPORT, id_number=PASSPORT)
    case = std_factories.make_case(applicant=applicant)
    write_records(drop / "cases" / "cases.xml", [case])
    loader = Loader(dataclasses.replace(settings, database_url=db_url))
    try:
        assert loader.load([drop], relative_to=drop).totals()["case"]["added"] == 1
        # the same case beside another one (the same file again would be skipped whole)
        other = std_factories.make_case(dept_case_no="NS-other", serial=None)
        write_records(drop / "cases" / "cases.xml", [case, other])
        totals = loader.load([drop / "cases"], relative_to=drop).totals()["case"]
        assert (totals["added"], totals["unchanged"], totals["changed"]) == (1, 1, 0)
        with loader.sessions() as session:
            masks = session.scalars(select(CaseRow.applicant_id_masked)).all()
            assert NEW_MASK in masks
    finally:
        loader.close()


@pytest.mark.parametrize(
    ("stored", "id_type", "shown"),
    [
        (OLD_MASK, IdType.PASSPORT, NEW_MASK),
        (NEW_MASK, IdType.PASSPORT, NEW_MASK),  # a new mask stays as it is
        ("4403**********123X", IdType.CITIZEN_ID, "4403**********123X"),
        ("1101*******2345", IdType.CITIZEN_ID, "11**********345"),  # legacy 15 digits
        ("********", IdType.HK_MACAO_PERMIT, "********"),
        ("91110108551385082Q", IdType.USCC, "91110108551385082Q"),  # public, whole
        (OLD_MASK, IdType.PASSPORT.value, NEW_MASK),  # the type as a column stores it
    ],
)
def test_a_stored_mask_is_shown_masked_as_today(
    stored: str, id_type: IdType | str, shown: str
) -> None:
    assert shown_mask(stored, id_type) == shown
    assert mask_id(shown) == shown or id_type in (IdType.USCC, IdType.USCC.value)


@pytest.mark.parametrize("value", [PASSPORT, "H12345678", "123456789012345", "AB1234", "E1"])
def test_the_hash_form_is_the_old_mask_and_never_the_display(
    protector: PiiProtector, value: str
) -> None:
    protected = protect_id(protector, value, IdType.PASSPORT)
    old = value[:4] + "*" * (len(value) - 8) + value[-4:] if len(value) > 8 else "*" * len(value)
    assert protected.hash_form == hash_form(value) == old
    assert protected.masked == mask_id(value)
    org = protect_id(protector, "91110108551385082Q", IdType.USCC)
    assert org.masked == org.hash_form == "91110108551385082Q"


def test_cases_overdue_shows_an_old_mask_masked_again(
    session: Session, protector: PiiProtector
) -> None:
    _store_as_before(session, _passport_case(promised_limit_days=3), protector)
    report = overdue_cases(session, today=date(2026, 1, 5))
    session.commit()
    assert [c["applicant"] for c in report.cases] == [NEW_MASK]
