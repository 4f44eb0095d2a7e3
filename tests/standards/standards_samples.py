"""Sample records of every kind for the tests of the standard (Chinese text, XML specials).

A module of its own, not the conftest: ``from conftest import`` finds whichever conftest
was imported first when several test folders run together."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from standards.codes import CaseState, ExerciseLevel, IdType, ItemType, LicenseStatus
from standards.records import (
    Applicant,
    Case,
    CaseEvent,
    Fee,
    Item,
    License,
    Material,
    RequiredMaterial,
)

CST = timezone(timedelta(hours=8))
USCC = "91110000600037341L"
BASIC_CODE = "000101001000"
IMPL_CODE = f"{USCC}3{BASIC_CODE}"
CITIZEN_ID = "11010519491231002X"


def sample_item(n: int = 1) -> Item:
    return Item(
        basic_code=BASIC_CODE,
        impl_code=IMPL_CODE,
        handling_code=f"{IMPL_CODE}{n % 100:02d}",
        name=f"食品经营许可（第{n}项）",
        item_type=ItemType.LICENSING,
        legal_basis="《中华人民共和国食品安全法》第三十五条 & <附则>",
        conditions="申请人应当具有与经营的食品品种、数量相适应的经营场所。",
        statutory_limit_days=20,
        promised_limit_days=5,
        location="深圳市南山区政务服务中心 1 楼",
        process="申请 → 受理 → 审查 → 决定",
        fees=[Fee(name="工本费", standard="0 元", basis="粤价〔2017〕1号")],
        query_channels="i深圳 APP",
        consult_channels="12345",
        complaint_channels="12345 热线",
        materials=[
            RequiredMaterial(name="营业执照", material_type="证照", form="电子", copies=1),
            RequiredMaterial(name="场所平面图", required=False, source="申请人自备"),
        ],
        authority_name="深圳市市场监督管理局",
        authority_uscc=USCC,
        exercise_level=ExerciseLevel.CITY,
        region_code="440300",
        updated_at=datetime(2024, 3, 1, 9, 30, tzinfo=CST),
    )


def sample_case(n: int = 1) -> Case:
    start = datetime(2024, 5, 6, 9, 0, tzinfo=CST) + timedelta(minutes=n)
    return Case(
        source_system="sz-market",
        dept_case_no=f"SZ2024{n:08d}",
        serial=f"{IMPL_CODE}20240506{n:04d}",
        impl_code=IMPL_CODE,
        item_name="食品经营许可",
        applicant=Applicant(
            name="张三丰", id_type=IdType.CITIZEN_ID, id_number=CITIZEN_ID, phone="13800138000"
        ),
        events=[
            CaseEvent(state=CaseState.RECEIVED, at=start, actor="窗口 3 号"),
            CaseEvent(state=CaseState.ACCEPTED, at=start + timedelta(hours=1)),
            CaseEvent(state=CaseState.DONE_APPROVED, at=start + timedelta(days=2), note="准予许可"),
        ],
        accepted_at=start + timedelta(hours=1),
        decided_at=start + timedelta(days=2),
        decision="准予许可",
        promised_limit_days=5,
        promised_deadline=date(2024, 5, 13),
        region_code="440305",
        material_ids=[f"M{n:06d}"],
    )


def sample_material(n: int = 1) -> Material:
    return Material(
        material_id=f"M{n:06d}",
        name="营业执照副本",
        material_type="证照",
        holder_name="深圳市某某餐饮有限公司",
        holder_id_type=IdType.USCC,
        holder_id_number=USCC,
        file=f"files/{n:06d}.pdf",
        sha256="ab" * 32,
        size=123456,
        media_type="application/pdf",
        valid_from=date(2024, 1, 1),
        source_case=f"SZ2024{n:08d}",
    )


def sample_license(n: int = 1) -> License:
    return License(
        identifier=f"1.2.156.3005.2.11100000000000000000A.{USCC}.{n:010d}.001.K",
        type_name="食品经营许可证",
        type_code="11100000000000000000A",
        number=f"JY1440305{n:07d}",
        name="食品经营许可证",
        version="001",
        issue_date=date(2024, 5, 8),
        issuer_name="深圳市市场监督管理局",
        issuer_code=USCC,
        valid_from=date(2024, 5, 8),
        valid_to=date(2029, 5, 7),
        region_code="440305",
        holder_name="李四",
        holder_id=CITIZEN_ID,
        holder_id_type=IdType.CITIZEN_ID,
        item_name="食品经营许可",
        item_code=IMPL_CODE,
        status=LicenseStatus.VALID,
        file=f"licenses/{n}.ofd",
    )


SAMPLE_FACTORIES = {
    "item": sample_item,
    "case": sample_case,
    "material": sample_material,
    "license": sample_license,
}
