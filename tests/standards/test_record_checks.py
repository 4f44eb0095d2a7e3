"""Record rules: a valid record passes; each broken rule is reported once, with its field."""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from standards.codes import CaseState, ExerciseLevel, IdType, ItemType
from standards.identifiers import (
    build_license_identifier,
    citizen_id_check_char,
    format_case_serial,
    make_impl_code,
    uscc_check_char,
)
from standards.records import Applicant, Case, CaseEvent, Item, License, Material, SourceLocation
from standards.validation import CheckOptions, Severity
from standards.validation.batch import BatchUniqueness
from standards.validation.record_checks import check_record
from standards.validation.state_machine import illegal_step

CST = timezone(timedelta(hours=8))
AUTH17 = "11440305" + "007510000"
AUTHORITY = AUTH17 + uscc_check_char(AUTH17)
BASIC = "440107008000"
IMPL = make_impl_code(AUTHORITY, "4", BASIC)
PERSON17 = "44030519850312001"
PERSON = PERSON17 + citizen_id_check_char(PERSON17)


def _rules(findings):
    return sorted(f.rule for f in findings)


def make_item(**over) -> Item:
    data = dict(
        basic_code=BASIC,
        impl_code=IMPL,
        name="食品经营许可",
        item_type=ItemType.LICENSING,
        legal_basis="《中华人民共和国食品安全法》第三十五条",
        conditions="有与经营的食品品种、数量相适应的经营场所",
        statutory_limit_days=20,
        promised_limit_days=10,
        location="深圳市南山区粤海街道科技园政务服务大厅",
        process="申请—受理—审查—决定—送达",
        query_channels="广东政务服务网",
        consult_channels="0755-12345",
        complaint_channels="12345 热线",
        authority_name="深圳市南山区市场监督管理局",
        authority_uscc=AUTHORITY,
        exercise_level=ExerciseLevel.COUNTY,
        region_code="440305",
    )
    data.update(over)
    return Item(**data)


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, 0, tzinfo=CST)


def make_case(**over) -> Case:
    data = dict(
        source_system="SZ-SCJGJ",
        dept_case_no="NS2026030200001",
        serial=format_case_serial(IMPL, date(2026, 3, 2), 1),
        impl_code=IMPL,
        applicant=Applicant(name="张伟", id_type=IdType.CITIZEN_ID, id_number=PERSON),
        events=[
            CaseEvent(state=CaseState.RECEIVED, at=at(2)),
            CaseEvent(state=CaseState.ACCEPTED, at=at(2, 10)),
            CaseEvent(state=CaseState.PROCESSING, at=at(3)),
            CaseEvent(state=CaseState.DONE_APPROVED, at=at(6)),
        ],
        accepted_at=at(2, 10),
        decided_at=at(6),
        delivered_at=at(7),
        region_code="440305",
    )
    data.update(over)
    return Case(**data)


def test_valid_item_and_case_pass():
    assert check_record(make_item()) == []
    assert check_record(make_case()) == []


@pytest.mark.parametrize(
    ("over", "rule", "field"),
    [
        ({"promised_limit_days": 30}, "item.time_limit", "promised_limit_days"),
        ({"exercise_level": ExerciseLevel.CITY}, "item.impl_code.level_mismatch", "exercise_level"),
        ({"item_type": ItemType.CONFIRMATION}, "item.item_type_mismatch", "item_type"),
        ({"region_code": "440399"}, "region.unknown", "region_code"),
        ({"basic_code": "4401070080A0"}, "basic_code.format", "basic_code"),
    ],
)
def test_item_rules(over, rule, field):
    findings = [f for f in check_record(make_item(**over)) if f.rule == rule]
    assert findings and findings[0].field == field


def test_bad_authority_check_char_is_configurable_per_source():
    bad = AUTH17 + ("0" if AUTHORITY[-1] != "0" else "1")
    item = make_item(authority_uscc=bad, impl_code=make_impl_code(bad, "4", BASIC))
    strict = check_record(item)
    assert _rules(strict) == ["uscc.check"] and strict[0].severity is Severity.ERROR
    lenient = check_record(item, CheckOptions(uscc_check_severity=Severity.WARNING))
    assert _rules(lenient) == ["uscc.check"] and lenient[0].severity is Severity.WARNING


def test_case_rules():
    bad_id = PERSON17 + ("0" if PERSON[-1] != "0" else "1")
    case = make_case(applicant=Applicant(name="张伟", id_type=IdType.CITIZEN_ID, id_number=bad_id))
    findings = check_record(case)
    assert _rules(findings) == ["citizen_id.check"]
    assert findings[0].field == "applicant.id_number"
    assert bad_id not in findings[0].message  # personal IDs never echoed

    events = make_case().events
    done_before_accept = make_case(
        events=[events[0], events[3]], accepted_at=None, decided_at=at(6)
    )
    found = check_record(done_before_accept)
    assert _rules(found) == ["case.events.transition"]
    assert found[0].field == "events.1.state"

    swapped = [events[0], events[1], CaseEvent(state=CaseState.PROCESSING, at=at(1)), events[3]]
    assert _rules(check_record(make_case(events=swapped))) == ["case.events.order"]

    assert _rules(check_record(make_case(decided_at=at(2, 8)))) == ["case.timestamps"]
    other = make_impl_code(AUTHORITY, "4", "440107009000")
    assert _rules(
        check_record(make_case(serial=format_case_serial(other, date(2026, 3, 2), 1)))
    ) == ["case.serial.mismatch"]


def test_no_event_after_revocation():
    states = [CaseState.ACCEPTED, CaseState.DONE_APPROVED, CaseState.REVOKED, CaseState.PROCESSING]
    step = illegal_step(states)
    assert step is not None and step[0] == 3
    assert illegal_step([CaseState.ACCEPTED, CaseState.DONE_APPROVED, CaseState.REVOKED]) is None
    assert illegal_step([CaseState.DONE_APPROVED])[0] == 0


def make_material(tmp_path: Path, content: bytes = "营业执照".encode(), **over) -> Material:
    (tmp_path / "files").mkdir(exist_ok=True)
    (tmp_path / "files" / "a.pdf").write_bytes(content)
    data = dict(
        material_id="M1",
        name="营业执照副本",
        material_type="证照",
        holder_name="张伟",
        holder_id_type=IdType.CITIZEN_ID,
        holder_id_number=PERSON,
        file="files/a.pdf",
        sha256=hashlib.sha256(content).hexdigest(),
        size=len(content),
        media_type="application/pdf",
        valid_from=date(2026, 1, 1),
        valid_to=date(2027, 1, 1),
    )
    data.update(over)
    return Material(**data)


def test_material_file_rules(tmp_path):
    good = make_material(tmp_path)
    assert check_record(good, base_dir=tmp_path) == []
    assert _rules(check_record(good.model_copy(update={"size": 1}), base_dir=tmp_path)) == [
        "material.file.size"
    ]
    assert _rules(
        check_record(good.model_copy(update={"sha256": "0" * 64}), base_dir=tmp_path)
    ) == ["material.file.sha256"]
    for name in ("../secret", "/etc/passwd", "files/../../x", "C:\\x", "files\\a.pdf"):
        assert _rules(check_record(good.model_copy(update={"file": name}), base_dir=tmp_path)) == [
            "material.file.unsafe_path"
        ], name
    (tmp_path / "outside").write_text("x")
    (tmp_path / "files" / "link").symlink_to(tmp_path.parent)
    assert _rules(
        check_record(good.model_copy(update={"file": "files/link/x"}), base_dir=tmp_path)
    ) == ["material.file.unsafe_path"]
    assert _rules(
        check_record(good.model_copy(update={"file": "files/nope.pdf"}), base_dir=tmp_path)
    ) == ["material.file.missing"]
    assert _rules(
        check_record(good.model_copy(update={"valid_to": date(2025, 1, 1)}), base_dir=tmp_path)
    ) == ["material.validity"]


def make_license(**over) -> License:
    type_code = AUTHORITY + "001"
    data = dict(
        identifier=build_license_identifier(type_code, AUTHORITY, "A0000001", "001"),
        type_name="食品经营许可证",
        type_code=type_code,
        number="JY14403050000001",
        name="食品经营许可证",
        version="001",
        issue_date=date(2026, 3, 6),
        issuer_name="深圳市南山区市场监督管理局",
        issuer_code=AUTHORITY,
        valid_from=date(2026, 3, 6),
        valid_to=date(2031, 3, 5),
        region_code="440305",
        holder_name="张伟",
        holder_id=PERSON,
        holder_id_type=IdType.CITIZEN_ID,
        item_code=IMPL,
    )
    data.update(over)
    return License(**data)


def test_license_rules():
    assert check_record(make_license()) == []
    assert _rules(check_record(make_license(version="002"))) == ["license.identifier.mismatch"]
    assert _rules(check_record(make_license(valid_to=date(2020, 1, 1)))) == ["license.validity"]
    ident = make_license().identifier
    tampered = ident[:-1] + ("0" if ident[-1] != "0" else "1")
    assert _rules(check_record(make_license(identifier=tampered))) == ["license_id.check"]


def test_batch_uniqueness_names_first_occurrence():
    seen = BatchUniqueness()
    case = make_case()
    assert seen.check(case, SourceLocation("a.xml", 1, 3)) == []
    again = seen.check(case, SourceLocation("b.xml", 7, 40))
    assert _rules(again) == ["case.key.duplicate", "case.serial.duplicate"]
    assert "a.xml#1" in again[0].message
