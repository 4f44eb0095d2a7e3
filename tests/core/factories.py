"""Record factories for the core tests: valid standard records with small overrides.

A plain module (not a conftest) so tests import it by name without ambiguity.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from standards.codes.enums import CaseState, ExerciseLevel, IdType, ItemType
from standards.records import Applicant, Case, CaseEvent, Item, License, Material

USCC = "91110000600037341L"
IMPL_CODE = "91110000600037341L3440101001000"
IMPL_CODE_2 = "91110108551385082Q4440101002000"
CITIZEN_ID = "44030119900101123X"  # shape only; never a real person's number
CITIZEN_ID_2 = "360426199101010071"


def make_item(**overrides: Any) -> Item:
    fields: dict[str, Any] = {
        "basic_code": "440101001000",
        "impl_code": IMPL_CODE,
        "name": "食品经营许可",
        "item_type": ItemType.LICENSING,
        "legal_basis": "《中华人民共和国食品安全法》第三十五条",
        "conditions": "有与经营的食品品种、数量相适应的经营场所",
        "statutory_limit_days": 20,
        "promised_limit_days": 10,
        "location": "深圳市福田区行政服务大厅",
        "process": "申请—受理—审查—决定",
        "query_channels": "窗口查询",
        "consult_channels": "0755-12345",
        "complaint_channels": "12345 热线",
        "authority_name": "深圳市市场监督管理局",
        "authority_uscc": USCC,
        "exercise_level": ExerciseLevel.CITY,
        "region_code": "440300",
    }
    fields.update(overrides)
    return Item.model_validate(fields)


def make_case(n_events: int = 2, **overrides: Any) -> Case:
    states = [CaseState.RECEIVED, CaseState.ACCEPTED, CaseState.PROCESSING, CaseState.DONE_APPROVED]
    events = [
        CaseEvent(state=states[i], at=datetime(2024, 3, 1, 9 + i, 30), actor="窗口一")
        for i in range(n_events)
    ]
    fields: dict[str, Any] = {
        "source_system": "sz-market",
        "dept_case_no": "SZ-2024-000001",
        "impl_code": IMPL_CODE,
        "item_name": "食品经营许可",
        "applicant": Applicant(name="张三", id_type=IdType.CITIZEN_ID, id_number=CITIZEN_ID),
        "events": events,
        "region_code": "440304",
        "promised_deadline": date(2024, 3, 15),
    }
    fields.update(overrides)
    return Case.model_validate(fields)


def make_material(sha256: str, size: int, **overrides: Any) -> Material:
    fields: dict[str, Any] = {
        "material_id": "M-0001",
        "name": "营业执照副本",
        "material_type": "证照",
        "holder_name": "张三",
        "holder_id_type": IdType.CITIZEN_ID,
        "holder_id_number": CITIZEN_ID,
        "file": "files/m-0001.pdf",
        "sha256": sha256,
        "size": size,
        "media_type": "application/pdf",
    }
    fields.update(overrides)
    return Material.model_validate(fields)


def make_license(**overrides: Any) -> License:
    fields: dict[str, Any] = {
        "identifier": "1.2.156.3005.2.11100000000013338W001.91110000600037341L.0001.001.K",
        "type_name": "食品经营许可证",
        "type_code": "11100000000013338W001",
        "number": "JY14403040001",
        "name": "食品经营许可证",
        "version": "001",
        "issue_date": date(2024, 3, 2),
        "issuer_name": "深圳市市场监督管理局",
        "issuer_code": USCC,
        "valid_from": date(2024, 3, 2),
        "valid_to": date(2029, 3, 1),
        "region_code": "440300",
        "holder_name": "张三",
        "holder_id": CITIZEN_ID,
        "holder_id_type": IdType.CITIZEN_ID,
    }
    fields.update(overrides)
    return License.model_validate(fields)
