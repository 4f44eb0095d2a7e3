"""Mapping rows to standard records: fields, code tables, child rows, absent vs empty, findings."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.mapping import ChildSpec, Mapping
from adapters.sdk.errors import ConfigError
from standards.codes.enums import CaseState, IdType
from standards.records import Case, Item, License, SourceLocation

CST = timezone(timedelta(hours=8))
LOC = SourceLocation("dept.bj_sqxx", 7)
ID = "11010519491231002X"
ID2 = "360426199101010071"
IMPL = "91110000600037341L3000001000000"

CASE_MAPPING: dict[str, Any] = {
    "kind": "case",
    "timezone": "+08:00",
    "code_tables": {"dept_states": {"01": "1", "02": "3", "09": "11", "10": "13"}},
    "fields": {
        "source_system": {"const": "SZ-MARKET"},
        "dept_case_no": {"from": "CASE_NO", "transforms": ["trim", "halfwidth"]},
        "impl_code": {"from": "ITEM_CODE", "transforms": ["trim", "halfwidth", "upper"]},
        "applicant.name": {"from": "SQR_MC"},
        "applicant.id_type": {"const": "111"},
        "applicant.id_number": {
            "from": "SQR_ZJHM",
            "transforms": ["trim", "halfwidth", "strip_separators", "upper"],
        },
        "accepted_at": {
            "from": "SLSJ",
            "datetime": ["%Y-%m-%d %H:%M:%S", "%Y年%m月%d日 %H时%M分"],
        },
        "promised_limit_days": {"from": "CNSX", "type": "int", "default": None},
        "events": {
            "rows": "events",
            "fields": {
                "state": {"from": "ZT", "code_table": "dept_states"},
                "at": {"from": "SJ", "datetime": "%Y/%m/%d %H:%M"},
                "actor": {"from": "JBR", "transforms": ["trim", "none_if_empty"]},
            },
        },
    },
}


def case_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "CASE_NO": " ＳＺ２０２６０００１ ",
        "ITEM_CODE": IMPL.lower(),
        "SQR_MC": "张三",
        "SQR_ZJHM": "1101 0519-4912 3100 2x",
        "SLSJ": "2026年3月2日 9时30分",
        "CNSX": "20",
        "events": [
            {"ZT": "01", "SJ": "2026/3/2 9:05", "JBR": " 窗口一 "},
            {"ZT": "02", "SJ": "2026/3/2 9:30", "JBR": ""},
            {"ZT": "09", "SJ": "2026/3/16 17:00", "JBR": "王五"},
        ],
    }
    row.update(changes)
    return row


def test_contract_example_maps_a_full_case() -> None:
    mapping = Mapping.from_dict(CASE_MAPPING)
    record, findings = mapping.map(case_row(), LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert record.source_system == "SZ-MARKET"
    assert record.dept_case_no == "SZ20260001"
    assert record.impl_code == IMPL
    assert record.applicant.name == "张三"
    assert record.applicant.id_type is IdType.CITIZEN_ID
    assert record.applicant.id_number == ID
    assert record.accepted_at == datetime(2026, 3, 2, 9, 30, tzinfo=CST)
    assert record.promised_limit_days == 20
    assert [e.state for e in record.events] == [
        CaseState.RECEIVED,
        CaseState.ACCEPTED,
        CaseState.DONE_APPROVED,
    ]
    assert record.events[0].at == datetime(2026, 3, 2, 9, 5, tzinfo=CST)
    assert record.events[2].at == datetime(2026, 3, 16, 17, 0, tzinfo=CST)
    assert [e.actor for e in record.events] == ["窗口一", None, "王五"]


def test_mapping_describes_what_it_reads() -> None:
    mapping = Mapping.from_dict(CASE_MAPPING)
    assert mapping.kind == "case"
    assert mapping.encoding == "utf-8"
    assert mapping.columns == {"CASE_NO", "ITEM_CODE", "SQR_MC", "SQR_ZJHM", "SLSJ", "CNSX"}
    assert mapping.children == {
        "events": ChildSpec("events", "events", frozenset({"ZT", "SJ", "JBR"}))
    }


def test_unknown_department_code_is_a_code_finding_naming_code_and_table() -> None:
    mapping = Mapping.from_dict(CASE_MAPPING)
    row = case_row(events=[{"ZT": "07", "SJ": "2026/3/2 9:05", "JBR": "x"}])
    record, findings = mapping.map(row, LOC)
    assert record is None
    assert [(f.rule, f.field) for f in findings] == [("mapping.code", "events.0.state")]
    message = findings[0].message
    assert "'07'" in message and "dept_states" in message and "ZT" in message
    assert "events row 1" in message


def test_code_table_accepts_integer_codes_and_padded_char_columns() -> None:
    spec = {**CASE_MAPPING, "code_tables": {"dept_states": {"1": "1", "9": "11", "02": "3"}}}
    mapping = Mapping.from_dict(spec)
    row = case_row(
        events=[
            {"ZT": 1, "SJ": "2026/3/2 9:05", "JBR": "a"},
            {"ZT": "02 ", "SJ": "2026/3/2 9:06", "JBR": "a"},
            {"ZT": Decimal(9), "SJ": "2026/3/2 9:07", "JBR": "a"},
        ]
    )
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert [e.state.value for e in record.events] == ["1", "3", "11"]


def test_absent_column_is_mapping_missing_but_empty_is_no_value() -> None:
    mapping = Mapping.from_dict(CASE_MAPPING)
    row = case_row()
    del row["SQR_MC"]
    record, findings = mapping.map(row, LOC)
    assert record is None
    assert [(f.rule, f.field) for f in findings] == [("mapping.missing", "applicant.name")]
    assert "SQR_MC" in findings[0].message

    for empty in ("", None):
        record, findings = mapping.map(case_row(SQR_MC=empty), LOC)
        assert record is None
        assert [(f.rule, f.field) for f in findings] == [("schema.required", "applicant.name")]
        assert "column SQR_MC" in findings[0].message


def test_empty_optional_values_leave_the_field_unset() -> None:
    mapping = Mapping.from_dict(CASE_MAPPING)
    record, findings = mapping.map(case_row(SLSJ="", CNSX=None), LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert record.accepted_at is None
    assert record.promised_limit_days is None


def test_default_fills_empty_and_absent_columns() -> None:
    spec = {
        **CASE_MAPPING,
        "fields": {
            **CASE_MAPPING["fields"],
            "promised_limit_days": {"from": "CNSX", "type": "int", "default": "15"},
            "region_code": {"from": "XZQH", "default": "440305"},
        },
    }
    mapping = Mapping.from_dict(spec)
    row = case_row(CNSX="")
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert record.promised_limit_days == 15
    assert record.region_code == "440305"


@pytest.mark.parametrize("blank", ["  ", "\u3000", " \t\u3000 "])
def test_blank_counts_as_empty_for_defaults(blank: str) -> None:
    """Whitespace only (the ideographic space too) is an empty value: the default fills
    it, in the compiled function and in the reference closures alike."""
    spec = {
        **CASE_MAPPING,
        "fields": {
            **CASE_MAPPING["fields"],
            "promised_limit_days": {"from": "CNSX", "type": "int", "default": "15"},
            "region_code": {"from": "XZQH", "default": "440300"},
            "accepted_at": {
                "from": "SLSJ",
                "datetime": "%Y-%m-%d %H:%M:%S",
                "default": "2025-01-01 08:00:00",
            },
            "promised_deadline": {"from": "CNRQ", "date": "%Y%m%d", "default": "20250301"},
            "item_name": {"from": "SXMC", "transforms": ["trim"], "default": "无"},
        },
    }
    mapping = Mapping.from_dict(spec)
    row = case_row(CNSX=blank, XZQH=blank, SLSJ=blank, CNRQ=blank, SXMC=blank)
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert record.promised_limit_days == 15
    assert record.region_code == "440300"
    assert record.accepted_at == datetime(2025, 1, 1, 8, tzinfo=CST)
    assert record.promised_deadline == date(2025, 3, 1)
    assert record.item_name == "无"
    assert mapping.build(row) == mapping.build(row, reference=True)

    # without a default, blank is no value: a required field names its column
    record, findings = Mapping.from_dict(CASE_MAPPING).map(case_row(SQR_MC=blank), LOC)
    assert record is None
    assert [(f.rule, f.field) for f in findings] == [("schema.required", "applicant.name")]
    assert "column SQR_MC" in findings[0].message
    # blank child rows are no child rows, like empty ones
    mapping = Mapping.from_dict(CASE_MAPPING)
    assert mapping.build(case_row(events=blank))[0]["events"] == []
    assert mapping.build(case_row(events=blank), reference=True)[0]["events"] == []


def test_a_default_is_converted_like_the_column_it_stands_for() -> None:
    """Transforms, code table, date formats and time zone apply to a default too."""
    spec = {
        **CASE_MAPPING,
        "code_tables": {**CASE_MAPPING["code_tables"], "id_types": {"身份证": "111"}},
        "fields": {
            **CASE_MAPPING["fields"],
            "accepted_at": {
                "from": "SLSJ2",
                "datetime": ["%Y-%m-%d %H:%M:%S", "%Y年%m月%d日 %H时%M分"],
                "default": "2025年1月1日 8时0分",
            },
            "applicant.id_type": {
                "from": "ZJLX",
                "transforms": ["trim"],
                "code_table": "id_types",
                "default": " 身份证 ",
            },
        },
    }
    mapping = Mapping.from_dict(spec)
    record, findings = mapping.map(case_row(ZJLX=""), LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert record.accepted_at == datetime(2025, 1, 1, 8, tzinfo=CST)
    assert record.applicant.id_type is IdType.CITIZEN_ID
    # a default in the standard's vocabulary is not a department code: refused on load
    spec["fields"]["applicant.id_type"] = {**spec["fields"]["applicant.id_type"], "default": "111"}
    with pytest.raises(ConfigError) as caught:
        Mapping.from_dict(spec)
    assert dict(caught.value.problems)["fields.applicant.id_type.default"] == (
        "department code '111' is not in code table id_types"
    )


def test_whole_numbers_as_floats_or_decimals_find_their_code() -> None:
    """A NUMBER code column comes back as 1.0 or Decimal('1.0'): it is code 1."""
    spec = {
        **CASE_MAPPING,
        "code_tables": {**CASE_MAPPING["code_tables"], "id_types": {"1": "111"}},
        "fields": {
            **CASE_MAPPING["fields"],
            "applicant.id_type": {"from": "ZJLX", "code_table": "id_types"},
        },
    }
    mapping = Mapping.from_dict(spec)
    for value in (1, Decimal("1"), 1.0, Decimal("1.0"), Decimal("1E+0")):
        record, findings = mapping.map(case_row(ZJLX=value), LOC)
        assert findings == [], value
        assert isinstance(record, Case) and record.applicant.id_type is IdType.CITIZEN_ID
    for value in (1.5, Decimal("1.01"), float("nan")):
        record, findings = mapping.map(case_row(ZJLX=value), LOC)
        assert record is None
        assert [(f.rule, f.field) for f in findings] == [("mapping.code", "applicant.id_type")]


def test_child_rows_missing_or_in_the_wrong_shape_are_findings() -> None:
    mapping = Mapping.from_dict(CASE_MAPPING)
    row = case_row()
    del row["events"]
    record, findings = mapping.map(row, LOC)
    assert record is None
    assert [(f.rule, f.field) for f in findings] == [("mapping.missing", "events")]

    record, findings = mapping.map(case_row(events="01"), LOC)
    assert [(f.rule, f.field) for f in findings] == [("mapping.type", "events")]

    record, findings = mapping.map(case_row(events=[{"ZT": "01", "SJ": "x"}]), LOC)
    assert {(f.rule, f.field) for f in findings} == {
        ("mapping.date", "events.0.at"),
        ("mapping.missing", "events.0.actor"),
    }

    # no child rows at all: the standard requires at least one event
    record, findings = mapping.map(case_row(events=[]), LOC)
    assert record is None
    assert [f.field for f in findings] == ["events"]


def test_a_single_child_object_counts_as_one_row() -> None:
    """Foreign XML gives one repeated element as an object, several as a list."""
    mapping = Mapping.from_dict(CASE_MAPPING)
    row = case_row(events={"ZT": "01", "SJ": "2026/3/2 9:05", "JBR": "a"})
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert len(record.events) == 1


FROM_COLUMNS: dict[str, Any] = {
    "kind": "case",
    "fields": {
        "source_system": "DEPT",
        "dept_case_no": {"from": "BH"},
        "impl_code": {"from": "SSBM"},
        "applicant.name": {"from": "SQR"},
        "applicant.id_type": "111",
        "applicant.id_number": {"from": "ZJHM"},
        "events": {
            "from_columns": [
                {"state": "1", "at": {"from": "JJSJ", "datetime": "%Y-%m-%d %H:%M:%S"}},
                {"state": "3", "at": {"from": "SLSJ", "datetime": "%Y-%m-%d %H:%M:%S"}},
                {
                    "state": "11",
                    "at": {"from": "BJSJ", "datetime": "%Y-%m-%d %H:%M:%S"},
                    "note": {"from": "BJYJ"},
                },
            ]
        },
    },
}


def test_from_columns_builds_events_and_skips_entries_without_a_value() -> None:
    mapping = Mapping.from_dict(FROM_COLUMNS)
    assert mapping.children == {}
    assert {"JJSJ", "SLSJ", "BJSJ", "BJYJ"} <= mapping.columns
    row = {
        "BH": "A1",
        "SSBM": IMPL,
        "SQR": "李四",
        "ZJHM": ID2,
        "JJSJ": "2026-03-02 09:00:00",
        "SLSJ": "2026-03-02 10:00:00",
        "BJSJ": "",
        "BJYJ": "  ",
    }
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert [e.state.value for e in record.events] == ["1", "3"]
    assert record.events[1].at == datetime(2026, 3, 2, 10, tzinfo=CST)

    record, findings = mapping.map({**row, "BJSJ": "2026-03-09 16:30:00", "BJYJ": "准予"}, LOC)
    assert isinstance(record, Case)
    assert record.events[-1].note == "准予"

    row_bad = {**row, "SLSJ": "2026-03-02"}
    del row_bad["JJSJ"]
    record, findings = mapping.map(row_bad, LOC)
    assert record is None
    assert [(f.rule, f.field) for f in findings] == [
        ("mapping.missing", "events.0.at"),
        ("mapping.date", "events.1.at"),
    ]
    assert "from_columns entry 2" in findings[1].message


def test_a_half_filled_from_columns_entry_names_only_its_own_column() -> None:
    """Findings on a from_columns item name the entry that built it, not the constants or
    columns other entries map to the same field, also when an earlier entry was skipped."""
    spec = copy.deepcopy(FROM_COLUMNS)
    spec["code_tables"] = {"results": {"1": "11", "2": "13"}}
    spec["fields"]["events"]["from_columns"][2] = {
        "state": {"from": "BJJG", "code_table": "results"},
        "at": {"from": "BJSJ", "datetime": "%Y-%m-%d %H:%M:%S"},
    }
    mapping = Mapping.from_dict(spec)
    row = {
        "BH": "A1",
        "SSBM": IMPL,
        "SQR": "李四",
        "ZJHM": ID2,
        "JJSJ": "2026-03-02 09:00:00",
        "SLSJ": "2026-03-02 10:00:00",
        "BJJG": "",
        "BJSJ": "2026-03-06 10:00:00",
    }
    record, findings = mapping.map(row, LOC)
    assert record is None
    assert [(f.rule, f.field, f.message) for f in findings] == [
        (
            "schema.required",
            "events.2.state",
            "events.2.state: required field is missing [from column BJJG (from_columns entry 3)]",
        )
    ]
    record, findings = mapping.map({**row, "BJJG": "1", "BJSJ": "  "}, LOC)
    assert [(f.rule, f.field, f.message) for f in findings] == [
        (
            "schema.required",
            "events.2.at",
            "events.2.at: required field is missing [from column BJSJ (from_columns entry 3)]",
        )
    ]
    # entry 2 empty and skipped: list item 1 is entry 3
    record, findings = mapping.map({**row, "SLSJ": ""}, LOC)
    assert [(f.field, f.message) for f in findings] == [
        (
            "events.1.state",
            "events.1.state: required field is missing [from column BJJG (from_columns entry 3)]",
        )
    ]


def test_from_columns_skips_an_empty_entry_read_from_nested_objects() -> None:
    """Dotted source paths (nested JSON/XML) are empty or absent exactly like flat columns."""
    spec = copy.deepcopy(FROM_COLUMNS)
    spec["fields"]["events"]["from_columns"] = [
        {"state": "1", "at": {"from": "times.jjsj", "datetime": "%Y-%m-%d %H:%M:%S"}},
        {
            "state": "11",
            "at": {"from": "times.bjsj", "datetime": "%Y-%m-%d %H:%M:%S"},
            "note": {"from": "result.bjyj"},
        },
    ]
    mapping = Mapping.from_dict(spec)
    row = {
        "BH": "A1",
        "SSBM": IMPL,
        "SQR": "李四",
        "ZJHM": ID2,
        "times": {"jjsj": "2026-03-02 09:00:00", "bjsj": None},
        "result": {"bjyj": " "},
    }
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert [e.state.value for e in record.events] == ["1"]
    # absent is still not empty: the entry reports what is missing
    record, findings = mapping.map({**row, "result": {}}, LOC)
    assert record is None
    assert [(f.rule, f.field) for f in findings] == [("mapping.missing", "events.1.note")]


def test_type_conversions() -> None:
    spec = {
        "kind": "item",
        "fields": {
            "basic_code": {"from": "JBBM"},
            "impl_code": {"from": "SSBM"},
            "name": {"from": "MC"},
            "item_type": {"from": "LX", "type": "str"},
            "legal_basis": "《条例》",
            "conditions": "无",
            "statutory_limit_days": {"from": "FDSX", "type": "int"},
            "promised_limit_days": {"from": "CNSX", "type": "int"},
            "location": "大厅",
            "process": "受理-审查-决定",
            "query_channels": "电话",
            "consult_channels": "电话",
            "complaint_channels": "12345",
            "authority_name": "市监局",
            "authority_uscc": "91110000600037341L",
            "exercise_level": {"from": "CJ"},
            "region_code": {"from": "XZQH"},
            "materials": {
                "rows": "CL",
                "fields": {
                    "name": {"from": "MC"},
                    "required": {"from": "BX", "type": "bool"},
                    "copies": {"from": "FS", "type": "int", "default": "1"},
                },
            },
        },
    }
    mapping = Mapping.from_dict(spec)
    row = {
        "JBBM": "000101001000",
        "SSBM": IMPL,
        "MC": "食品经营许可",
        "LX": "01",
        "FDSX": "20.0",
        "CNSX": 10,
        "CJ": 3,  # numbers from a database into a text code
        "XZQH": 440305,
        "CL": [
            {"MC": "申请书", "BX": "是", "FS": "2"},
            {"MC": "身份证明", "BX": "N", "FS": None},
        ],
    }
    record, findings = mapping.map(row, LOC)
    assert findings == [], findings
    assert isinstance(record, Item)
    assert record.item_type.value == "01"
    assert record.exercise_level.value == "3"
    assert record.statutory_limit_days == 20
    assert record.promised_limit_days == 10
    assert record.region_code == "440305"
    assert [(m.name, m.required, m.copies) for m in record.materials] == [
        ("申请书", True, 2),
        ("身份证明", False, 1),
    ]

    record, findings = mapping.map({**row, "FDSX": "二十", "CL": [{"MC": "x", "BX": "也许"}]}, LOC)
    assert record is None
    rules = {(f.rule, f.field) for f in findings}
    assert ("mapping.type", "statutory_limit_days") in rules
    assert ("mapping.type", "materials.0.required") in rules
    assert ("mapping.missing", "materials.0.copies") not in rules  # default covers absence
    messages = " ".join(f.message for f in findings)
    assert "FDSX" in messages and "'二十'" in messages and "BX" in messages


def test_model_errors_come_from_to_record_with_the_source_column() -> None:
    mapping = Mapping.from_dict(CASE_MAPPING)
    record, findings = mapping.map(case_row(CNSX="-3"), LOC)
    assert record is None
    assert [(f.rule, f.field) for f in findings] == [("schema.type", "promised_limit_days")]
    assert "[from column CNSX]" in findings[0].message

    spec = {**CASE_MAPPING, "code_tables": {"dept_states": {"01": "1", "02": "3", "09": None}}}
    mapping = Mapping.from_dict(spec)
    record, findings = mapping.map(case_row(), LOC)
    assert record is None  # a code mapped to no value leaves a required field empty
    assert [(f.rule, f.field) for f in findings] == [("schema.required", "events.2.state")]
    assert "column ZT of events rows" in findings[0].message


def test_dotted_source_paths_read_nested_objects() -> None:
    spec = {
        "kind": "case",
        "fields": {
            "source_system": "API",
            "dept_case_no": {"from": "case.no"},
            "impl_code": {"from": "case.item.@code"},
            "applicant.name": {"from": "applicant.name"},
            "applicant.id_type": {"from": "applicant.idType"},
            "applicant.id_number": {"from": "applicant.idNo"},
            "events": {
                "rows": "flow.steps",
                "fields": {"state": {"from": "@state"}, "at": {"from": "time"}},
            },
        },
    }
    mapping = Mapping.from_dict(spec)
    assert mapping.columns == {"case", "applicant"}
    row = {
        "case": {"no": "N-1", "item": {"@code": IMPL}},
        "applicant": {"name": "王五", "idType": "111", "idNo": ID},
        "flow": {"steps": [{"@state": "1", "time": "2026-03-02T09:00:00"}]},
    }
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert record.impl_code == IMPL
    assert record.events[0].at == datetime(2026, 3, 2, 9, tzinfo=CST)

    broken = {**row, "case": {"no": "N-1"}, "applicant": "王五"}
    record, findings = mapping.map(broken, LOC)
    assert {(f.rule, f.field) for f in findings} == {
        ("mapping.missing", "impl_code"),
        ("mapping.type", "applicant.name"),
        ("mapping.type", "applicant.id_type"),
        ("mapping.type", "applicant.id_number"),
    }


def test_timezone_applies_to_naive_values_only() -> None:
    spec = {**CASE_MAPPING, "timezone": "Asia/Shanghai"}
    spec["fields"] = {
        **CASE_MAPPING["fields"],
        "updated_at": {"from": "GXSJ"},
        "decided_at": {"from": "BJSJ"},
        "promised_deadline": {"from": "CNRQ"},
    }
    mapping = Mapping.from_dict(spec)
    row = case_row(
        GXSJ=datetime(2026, 3, 2, 9, 0),  # a naive datetime from a database driver
        BJSJ="2026-03-02T01:00:00+00:00",  # an aware ISO text keeps its zone
        CNRQ=date(2026, 3, 20),
    )
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert record.updated_at is not None and record.updated_at.utcoffset() == timedelta(hours=8)
    assert record.decided_at == datetime(2026, 3, 2, 1, tzinfo=UTC)
    assert record.promised_deadline == date(2026, 3, 20)

    utc = Mapping.from_dict({**spec, "timezone": "UTC"})
    record, _ = utc.map(row, LOC)
    assert record is not None and record.updated_at == datetime(2026, 3, 2, 9, tzinfo=UTC)


def test_date_fields_from_chinese_text_and_datetime_text() -> None:
    spec = {
        "kind": "license",
        "fields": {
            "identifier": {"from": "BS"},
            "type_name": "营业执照",
            "type_code": {"from": "LXDM"},
            "number": {"from": "ZZBH"},
            "name": "营业执照",
            "version": {"from": "BB", "type": "str"},
            "issue_date": {"from": "FZRQ", "date": ["%Y年%m月%d日", "%Y-%m-%d %H:%M:%S"]},
            "issuer_name": "市监局",
            "issuer_code": "91110000600037341L",
            "valid_from": {"from": "YXQQ", "date": "%Y年%m月%d日"},
            "valid_to": {"from": "YXQZ", "date": "%Y年%m月%d日"},
            "region_code": "440300",
            "holder_name": {"from": "CZZT"},
            "holder_id": {"from": "CZZTDM", "transforms": ["upper"]},
            "holder_id_type": "111",
        },
    }
    mapping = Mapping.from_dict(spec)
    row = {
        "BS": "1.2.156.3005.2.x",
        "LXDM": "x" * 21,
        "ZZBH": "N1",
        "BB": "001",
        "FZRQ": "2026-03-02 15:00:00",
        "YXQQ": "2026年3月2日",
        "YXQZ": "",
        "CZZT": "张三",
        "CZZTDM": ID.lower(),
    }
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, License)
    assert record.issue_date == date(2026, 3, 2)
    assert record.valid_from == date(2026, 3, 2)
    assert record.valid_to is None
    assert record.holder_id == ID

    record, findings = mapping.map({**row, "YXQQ": "2026年2月30日"}, LOC)
    assert [(f.rule, f.field) for f in findings] == [("mapping.date", "valid_from")]
    assert "YXQQ" in findings[0].message and "%Y年%m月%d日" in findings[0].message


def test_personal_ids_never_appear_in_clear_in_messages() -> None:
    """Put ID numbers in every column, in the wrong places and malformed: no message shows one."""
    spec = {
        **CASE_MAPPING,
        "fields": {
            **CASE_MAPPING["fields"],
            "applicant.id_type": {"from": "ZJLX", "code_table": "id_types"},
            "applicant.id_number": {"from": "SQR_ZJHM", "code_table": "odd"},
        },
        "code_tables": {
            **CASE_MAPPING["code_tables"],
            "id_types": {"SFZ": "111"},
            "odd": {"x": "y"},
        },
    }
    mapping = Mapping.from_dict(spec)
    ids = [ID, ID2, "110105491231002", "E12345678"]
    columns = ["CASE_NO", "ITEM_CODE", "SQR_MC", "SQR_ZJHM", "SLSJ", "CNSX", "ZJLX"]
    for value in ids:
        row = case_row(ZJLX="SFZ")
        for column in columns:
            row[column] = value
        row["events"] = [{"ZT": value, "SJ": value, "JBR": value * 5}]
        record, findings = mapping.map(row, LOC)
        assert record is None
        assert findings
        for finding in findings:
            # citizen ID numbers are recognised anywhere; other ID numbers (a passport) in
            # the personal fields
            if value[0].isdigit() or finding.field == "applicant.id_number":
                assert value not in finding.message, finding
        assert any(f.field == "applicant.id_number" for f in findings)
    # the same through the model: an over-long ID number is reported masked
    plain = Mapping.from_dict(CASE_MAPPING)
    record, findings = plain.map(case_row(SQR_ZJHM=ID * 4), LOC)
    assert [f.field for f in findings] == ["applicant.id_number"]
    assert ID not in findings[0].message


scalars = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.datetimes(),
    st.dates(),
    st.decimals(allow_nan=True),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
column_names = st.sampled_from(
    ["CASE_NO", "ITEM_CODE", "SQR_MC", "SQR_ZJHM", "SLSJ", "CNSX", "events", "other"]
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(column_names, values))
def test_map_never_raises_and_findings_explain_every_missing_record(row: dict[str, Any]) -> None:
    mapping = Mapping.from_dict(CASE_MAPPING)
    base = case_row()
    base.update(row)
    record, findings = mapping.map(base, LOC)
    if record is None:
        assert findings
        assert all(f.rule.startswith(("mapping.", "schema.")) for f in findings)
    else:
        assert isinstance(record, Case)
        assert not findings


def test_map_a_row_that_is_not_a_mapping() -> None:
    mapping = Mapping.from_dict(CASE_MAPPING)
    record, findings = mapping.map(None, LOC)  # type: ignore[arg-type]
    assert record is None
    assert {f.rule for f in findings} == {"mapping.type"}


def test_type_converters_on_their_own() -> None:
    """The converters behind ``type:`` (decimal has no standard field yet, so tested here)."""
    from adapters.mapping.engine import _Failure, _type_converter

    to_int = _type_converter("int", "C", False)
    to_decimal = _type_converter("decimal", "C", False)
    to_bool = _type_converter("bool", "C", False)
    to_str = _type_converter("str", "C", False)
    assert [to_int(v) for v in (" 7 ", "１２", "5.0", 5.0, Decimal("3"), "  ")] == [
        7,
        12,
        5,
        5,
        3,
        None,
    ]
    assert to_decimal("1.50") == Decimal("1.50")
    assert to_decimal(2.5) == Decimal("2.5")
    assert [to_bool(v) for v in ("是", "否", "Y", "n", 1, 0, True, " ")] == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        None,
    ]
    assert [to_str(v) for v in (12, 12.0, Decimal("1.5"), "x")] == ["12", "12", "1.5", "x"]
    for convert, value in [
        (to_int, "5.5"),
        (to_int, True),
        (to_int, float("nan")),
        (to_decimal, "NaN"),
        (to_decimal, "x"),
        (to_bool, "maybe"),
        (to_str, [1]),
    ]:
        try:
            convert(value)
        except _Failure as failure:
            assert failure.rule == "mapping.type"
            assert failure.text.startswith("C: ")
        else:
            raise AssertionError(f"{value!r} converted")


def test_split_makes_a_list_of_values_from_one_column() -> None:
    spec = {
        **CASE_MAPPING,
        "fields": {
            **CASE_MAPPING["fields"],
            "material_ids": {"from": "CLBH", "split": ",", "transforms": ["halfwidth"]},
        },
    }
    mapping = Mapping.from_dict(spec)
    record, findings = mapping.map(case_row(CLBH="M1，M2, ,M3"), LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert record.material_ids == ["M1", "M2", "M3"]
    record, _ = mapping.map(case_row(CLBH=["M9"]), LOC)
    assert record is not None and record.material_ids == ["M9"]
    record, _ = mapping.map(case_row(CLBH=""), LOC)
    assert record is not None and record.material_ids == []
    record, findings = mapping.map(case_row(CLBH=5), LOC)
    assert [(f.rule, f.field) for f in findings] == [("mapping.type", "material_ids")]
