"""Loading mapping files: every problem reported at once, with its path; YAML kept as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from adapters.mapping import Mapping
from adapters.sdk import ConfigError
from standards.records import Case, SourceLocation

LOC = SourceLocation("t", 1)

GOOD = """\
kind: case
timezone: "+08:00"
encoding: GBK
code_tables:
  dept_states: {01: "1", 02: "3", 09: "11", 10: "13"}
  yes_no: {no: "0", yes: "1"}
fields:
  source_system: {const: SZ-MARKET}
  dept_case_no: {from: CASE_NO, transforms: [trim, halfwidth]}
  impl_code: {from: ITEM_CODE, transforms: [trim, halfwidth, upper]}
  item_name: 0123
  applicant.name: {from: SQR_MC}
  applicant.id_type: {const: "111"}
  applicant.id_number: {from: SQR_ZJHM, transforms: [trim, halfwidth, upper]}
  accepted_at: {from: SLSJ, datetime: ["%Y-%m-%d %H:%M:%S", "%Y年%m月%d日 %H时%M分"]}
  promised_limit_days: {from: CNSX, type: int, default: null}
  decision: {from: JG, code_table: yes_no}
  events:
    rows: events
    fields: {state: {from: ZT, code_table: dept_states}, at: {from: SJ, datetime: iso}}
"""

BAD = """\
kind: case
timezone: "Mars/Olympus"
code_tables:
  dept_states: {01: "1", 02: "3", 09: "99"}
fields:
  source_system: {const: SZ-MARKET}
  dept_case_no: {from: CASE_NO, transforms: [trim, halfwdith]}
  impl_code: {from: ITEM_CODE, form: X}
  applicant.nmae: {from: SQR_MC}
  applicant.id_type: {from: ZJLX, code_table: id_types}
  applicant.id_number: {from: SQR_ZJHM}
  accepted_at: {from: SLSJ, datetime: ["%Y-%m-%d %Q"]}
  decided_at: {from: BJSJ, datetime: "%H:%M"}
  promised_deadline: {from: CNRQ, datetime: "%Y-%m-%d"}
  handling_code: {from: A, const: B}
  applicant_phone: {from: DH}
  promised_limit_days: {from: CNSX, type: bool}
  events:
    rows: events
    fields: {state: {from: ZT, code_table: dept_states}, time: {from: SJ}}
  region_code: {from: XZQH}
  region_code: {from: XZQH2}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        Mapping.load(path)
    assert caught.value.source == str(path)
    return dict(caught.value.problems)


def test_a_good_file_loads_and_keeps_codes_as_text(tmp_path: Path) -> None:
    mapping = Mapping.load(write(tmp_path, GOOD))
    assert mapping.kind == "case"
    assert mapping.encoding == "gbk"
    assert mapping.spec.code_tables["dept_states"] == {"01": "1", "02": "3", "09": "11", "10": "13"}
    assert mapping.spec.code_tables["yes_no"] == {"no": "0", "yes": "1"}  # not booleans
    row = {
        "CASE_NO": "A1",
        "ITEM_CODE": "x" * 31,
        "SQR_MC": "张三",
        "SQR_ZJHM": "11010519491231002X",
        "SLSJ": "2026-03-02 09:30:00",
        "CNSX": "",
        "JG": "yes",
        "events": [{"ZT": "09", "SJ": "2026-03-02T09:30:00"}],
    }
    record, findings = mapping.map(row, LOC)
    assert findings == []
    assert isinstance(record, Case)
    assert record.item_name == "0123"  # a plain scalar stays text: no octal, no number
    assert record.decision == "1"
    assert record.events[0].state.value == "11"


def test_a_file_with_many_errors_reports_all_of_them_with_paths(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, BAD))
    expected = {
        "line 22": "'region_code' is given twice",
        "timezone": "Mars/Olympus",
        "fields.dept_case_no.transforms.1": "unknown transform 'halfwdith'",
        "fields.impl_code.form": "Extra inputs",
        "fields.applicant.nmae": "did you mean 'name'",
        "fields.applicant.id_type.code_table": "unknown code table 'id_types'",
        "fields.applicant": "required field of Applicant not mapped: applicant.name",
        "fields.accepted_at.datetime.0": "%Q is not supported",
        "fields.decided_at.datetime.0": "needs a year",
        "fields.promised_deadline.datetime": "not a date-time field",
        "fields.handling_code": "'from' and 'const' exclude each other",
        "fields.applicant_phone": "'applicant_phone' is not a field of Case",
        "fields.promised_limit_days.type": "type bool does not fit promised_limit_days",
        "fields.events.fields.time": "'time' is not a field of CaseEvent",
        "fields.events.fields": "required field of CaseEvent not mapped: events.at",
        "code_tables.dept_states.09": "'99' is not a valid CaseState",
    }
    for path, text in expected.items():
        assert path in problems, (path, problems)
        assert text in problems[path], (path, problems[path])
    assert len(problems) == len(expected)


def test_the_error_message_lists_each_problem_on_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    with pytest.raises(ConfigError) as caught:
        Mapping.load(path)
    text = str(caught.value)
    assert str(path) in text
    assert "\n  fields.applicant.nmae: " in text


def test_nested_targets_of_items_are_checked_against_fee_and_material_models() -> None:
    spec: dict[str, Any] = {
        "kind": "item",
        "fields": {
            "basic_code": {"from": "A"},
            "impl_code": {"from": "B"},
            "fees": {"rows": "SF", "fields": {"name": {"from": "MC"}, "standerd": {"from": "BZ"}}},
            "materials": {
                "rows": "CL",
                "fields": {"name": {"from": "MC"}, "copies": {"from": "FS", "type": "bool"}},
            },
        },
    }
    with pytest.raises(ConfigError) as caught:
        Mapping.from_dict(spec, source="item-mapping")
    problems = dict(caught.value.problems)
    assert "did you mean 'standard'" in problems["fields.fees.fields.standerd"]
    assert "fees.standard" in problems["fields.fees.fields"]
    assert "copies" in problems["fields.materials.fields.copies.type"]
    assert "required fields of Item not mapped" in problems["fields"]
    assert caught.value.source == "item-mapping"


@pytest.mark.parametrize(
    ("fields", "path", "text"),
    [
        ({"applicant": {"from": "X"}}, "fields.applicant", "map them with applicant.name"),
        ({"events": {"from": "X"}}, "fields.events", "rows or from_columns"),
        ({"impl_code": {"rows": "X", "fields": {}}}, "fields.impl_code", "not a list"),
        ({"dept_case_no.x": {"from": "X"}}, "fields.dept_case_no.x", "not a group of fields"),
        ({"events.state": {"from": "X"}}, "fields.events.state", "is a list"),
        (
            {"material_ids": {"rows": "M", "fields": {"a": "b"}}},
            "fields.material_ids.fields",
            "use 'value'",
        ),
        ({"events": {"rows": "E", "value": {"from": "X"}}}, "fields.events.value", "use 'fields'"),
        ({"events": {"rows": "E"}}, "fields.events", "give 'fields'"),
        ({"impl_code": {"default": "X"}}, "fields.impl_code", "give 'from'"),
        ({"impl_code": ["a"]}, "fields.impl_code", "got a list"),
        (
            {"impl_code": {"from": "X", "date": "%Y-%m-%d"}},
            "fields.impl_code.date",
            "not a date field",
        ),
        (
            {"impl_code": {"from": "X", "code_table": "t", "datetime": "%Y"}},
            "fields.impl_code",
            "cannot be combined",
        ),
        ({"accepted_at": {"const": "yesterday"}}, "fields.accepted_at.const", "matches none"),
        (
            {"accepted_at": {"from": "X", "datetime": "%Y-%m-%d", "default": "yesterday"}},
            "fields.accepted_at.default",
            "'yesterday' matches none of the formats",
        ),
        (
            {"promised_limit_days": {"from": "X", "type": "int", "default": "abc"}},
            "fields.promised_limit_days.default",
            "'abc' is not an integer",
        ),
    ],
)
def test_misplaced_targets_and_options(fields: dict[str, Any], path: str, text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Mapping.from_dict({"kind": "case", "fields": fields})
    problems = dict(caught.value.problems)
    assert path in problems, problems
    assert text in problems[path]


def test_applicant_mapped_whole_and_by_parts_is_reported() -> None:
    with pytest.raises(ConfigError) as caught:
        Mapping.from_dict(
            {
                "kind": "case",
                "fields": {"applicant": {"from": "X"}, "applicant.name": {"from": "Y"}},
            }
        )
    assert (
        "mapped as a whole and by its parts" in dict(caught.value.problems)["fields.applicant.name"]
    )


def test_top_level_problems_are_reported_with_field_problems() -> None:
    with pytest.raises(ConfigError) as caught:
        Mapping.from_dict(
            {
                "kind": "case",
                "encoding": "latin-1",
                "colour": "blue",
                "fields": {"dept_case_no": {"from": "A", "transforms": ["shout"]}},
            }
        )
    problems = dict(caught.value.problems)
    assert "not supported" in problems["encoding"]
    assert "Extra inputs" in problems["colour"]
    assert "unknown transform 'shout'" in problems["fields.dept_case_no.transforms.0"]


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"kind": "cat", "fields": {"a": "b"}}, "kind"),
        ({"kind": "case", "fields": {}}, "fields"),
        ({"kind": "case"}, "fields"),
    ],
)
def test_kind_and_fields_are_required(data: dict[str, Any], path: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Mapping.from_dict(data)
    assert path in dict(caught.value.problems)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the mapping file"):
        Mapping.load(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        Mapping.load(write(tmp_path, "kind: case\nfields: {a: [\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        Mapping.load(write(tmp_path, "- kind\n"))
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        Mapping.load(write(tmp_path, ""))


def test_python_dicts_may_use_numbers_for_codes() -> None:
    mapping = Mapping.from_dict(
        {
            "kind": "case",
            "code_tables": {"st": {1: 1, 2: 3}},
            "fields": {
                "source_system": "S",
                "dept_case_no": {"from": "A"},
                "impl_code": {"from": "B"},
                "applicant.name": {"from": "C"},
                "applicant.id_type": "111",
                "applicant.id_number": {"from": "D"},
                "events": {
                    "rows": "E",
                    "fields": {"state": {"from": "S", "code_table": "st"}, "at": {"from": "T"}},
                },
            },
        }
    )
    assert mapping.spec.code_tables["st"] == {"1": "1", "2": "3"}


def test_split_only_for_lists() -> None:
    with pytest.raises(ConfigError) as caught:
        Mapping.from_dict(
            {
                "kind": "case",
                "fields": {
                    "impl_code": {"from": "X", "split": ","},
                    "material_ids": {"from": "Y", "split": ",", "type": "str"},
                },
            }
        )
    problems = dict(caught.value.problems)
    assert "not a list" in problems["fields.impl_code.split"]
    assert "cannot be combined" in problems["fields.material_ids"]


def test_an_alias_bomb_in_a_mapping_file_is_refused_before_it_expands(tmp_path: Path) -> None:
    """Mapping files go through the configuration loader: aliases (nine levels of them
    stand for 9⁹ strings) are refused at once, with the file and line."""
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("record: case\n" + "\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        Mapping.load(path)
    assert "alias *a0 refused" in str(info.value) and "line 3" in str(info.value)
