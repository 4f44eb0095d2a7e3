"""Valid standard records for tests, built with the real identifier algorithms.

Each factory takes overrides, so a test states only the field it breaks.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from standards.codes import CaseState, ExerciseLevel, IdType, ItemType
from standards.identifiers import (
    build_license_identifier,
    citizen_id_check_char,
    format_case_serial,
    make_impl_code,
    uscc_check_char,
)
from standards.records import Applicant, Case, CaseEvent, Item, License, Material

CST = timezone(timedelta(hours=8))
AUTH17 = "11440305" + "007510000"
AUTHORITY = AUTH17 + uscc_check_char(AUTH17)
BASIC = "440107008000"
IMPL = make_impl_code(AUTHORITY, "4", BASIC)
PERSON17 = "44030519850312001"
PERSON = PERSON17 + citizen_id_check_char(PERSON17)


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
