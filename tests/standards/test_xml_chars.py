"""Text XML 1.0 cannot carry (schema.xml_char): refused on the way in, never fatal on the
way out. A soft line break pasted from Word (U+000B) in one item's 办理条件, delivered as
JSON Lines, used to validate as clean, get stored, and then stop every later delivery.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from standards_samples import CITIZEN_ID, sample_case, sample_item
from typer.testing import CliRunner

from adapters.builtin.files_sink import FilesSink, FilesSinkConfig
from standards.formats import (
    UnwritableRecord,
    iter_raw_records,
    to_record,
    write_records,
)
from standards.validation import RULES
from standards.validation.record_checks import check_record
from standards.validation.xml_chars import check_xml_chars, xml_char_findings
from tongyuan.cli import app

runner = CliRunner()


def _jsonl(path: Path, *records: dict, ascii: bool = False) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=ascii) + "\n" for r in records), encoding="utf-8"
    )
    return path


def _item_data(**over: object) -> dict:
    return {"kind": "item", **sample_item().model_dump(mode="json", exclude_none=True), **over}


def _case_data(n: int = 1, **over: object) -> dict:
    return {"kind": "case", **sample_case(n).model_dump(mode="json", exclude_none=True), **over}


def test_the_rule_is_in_the_catalogue() -> None:
    assert RULES["schema.xml_char"].title.startswith("字段含有 XML 无法表示的字符")


@pytest.mark.parametrize(
    "char", ["\u000b", "\u0000", "\u0001", "\u001f", "\u000c", "\ufffe", "\uffff", "\ud800"]
)
@pytest.mark.parametrize("ascii", [False, True])
def test_the_jsonl_reader_refuses_each_character_naming_the_field(
    tmp_path: Path, char: str, ascii: bool
) -> None:
    item = _item_data()
    item["conditions"] += char + "（以上条件须同时满足）"
    # A surrogate can only come escaped; U+FFFE/U+FFFF also come as raw UTF-8.
    path = _jsonl(tmp_path / "items.jsonl", item, ascii=ascii or char == "\ud800")
    (raw,) = iter_raw_records(path)
    record, findings = to_record(raw)
    assert record is None
    hit = [f for f in findings if f.rule == "schema.xml_char"]
    assert [f.field for f in hit] == ["conditions"]
    assert f"U+{ord(char):04X}" in hit[0].message


def test_tab_newline_and_carriage_return_are_allowed(tmp_path: Path) -> None:
    item = _item_data(conditions='一、具备条件\t甲\r\n二、具备条件乙（“引号”\\"照常"）')
    (raw,) = iter_raw_records(_jsonl(tmp_path / "items.jsonl", item))
    record, findings = to_record(raw)
    assert record is not None and findings == []
    assert check_record(record) == []


def test_nested_fields_are_named_with_their_path(tmp_path: Path) -> None:
    case = _case_data()
    case["events"][1]["note"] = "补正\u0000"
    case["applicant"]["name"] = "张\u0007三"
    (raw,) = iter_raw_records(_jsonl(tmp_path / "cases.jsonl", case))
    record, findings = to_record(raw)
    assert record is None
    assert [f.field for f in findings if f.rule == "schema.xml_char"] == [
        "applicant.name",
        "events.1.note",
    ]


def test_the_rest_of_the_file_goes_on(tmp_path: Path) -> None:
    bad = _case_data(1)
    bad["decision"] = "准予\u000b许可"
    path = _jsonl(tmp_path / "cases.jsonl", bad, _case_data(2))
    results = [to_record(r) for r in iter_raw_records(path)]
    assert results[0][0] is None and results[1][0] is not None and not results[1][1]


def test_validate_exits_1_naming_file_record_field_and_rule(tmp_path: Path) -> None:
    item = _item_data()
    item["conditions"] += "\u000b（以上条件须同时满足）"
    path = _jsonl(tmp_path / "items-0002-update.jsonl", item)
    result = runner.invoke(app, ["validate", str(path), "--json"])
    assert result.exit_code == 1, result.stdout
    (error,) = json.loads(result.stdout)["errors"]
    assert (error["file"], error["record"], error["field"], error["rule"]) == (
        str(path),
        1,
        "conditions",
        "schema.xml_char",
    )
    assert "U+000B" in error["message"]


def test_validate_refuses_a_nul_in_jsonl_without_showing_the_id(tmp_path: Path) -> None:
    case = _case_data()
    case["item_name"] = "食\u0000品经营许可"
    case["applicant"]["id_number"] = CITIZEN_ID + "\u0000"
    path = _jsonl(tmp_path / "cases.jsonl", case)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert "schema.xml_char" in result.stdout and "item_name" in result.stdout
    assert "applicant.id_number" in result.stdout
    assert CITIZEN_ID not in result.stdout


def test_check_record_refuses_records_no_reader_saw() -> None:
    """Adapters' mapped rows, merged item copies and replayed payloads: the model was
    built from a department's data, not from an exchange file."""
    item = sample_item().model_copy(update={"location": "一楼\u000b大厅"})
    findings = check_record(item)
    assert [(f.rule, f.field) for f in findings] == [("schema.xml_char", "location")]
    case = sample_case()
    case.events[2].actor = "窗口\x1f"
    assert [f.field for f in check_record(case) if f.rule == "schema.xml_char"] == [
        "events.2.actor"
    ]
    fee = sample_item()
    fee.fees[0].basis = "\ufffe"
    assert [f.field for f in check_xml_chars(fee)] == ["fees.0.basis"]
    assert check_record(sample_item()) == [] and check_xml_chars(sample_case()) == []


def test_a_field_name_with_such_a_character_is_named() -> None:
    (finding,) = xml_char_findings({"applicant": {"na\u0000me": "张三"}})
    assert finding.field == "applicant" and "field name" in finding.message


def test_the_writer_names_the_record_and_field(tmp_path: Path) -> None:
    bad = sample_item().model_copy(update={"conditions": "甲\u000b乙"})
    with pytest.raises(UnwritableRecord, match=r"record 2 .*field conditions"):
        write_records(tmp_path / "items.xml", [sample_item(1), bad])


def test_the_writer_leaves_out_an_unwritable_record_when_asked(tmp_path: Path) -> None:
    bad = sample_case(2).model_copy(update={"decision": "准予\u0000"})
    refused: list[UnwritableRecord] = []
    path = tmp_path / "cases.xml"
    count = write_records(path, [sample_case(1), bad, sample_case(3)], on_unwritable=refused.append)
    assert count == 2
    assert [(r.position, [f.field for f in r.findings]) for r in refused] == [(2, ["decision"])]
    read = [to_record(r)[0] for r in iter_raw_records(path)]
    assert [c.dept_case_no for c in read] == [
        sample_case(1).dept_case_no,
        sample_case(3).dept_case_no,
    ]


def test_the_files_sink_delivers_the_others_and_reports_the_refused(tmp_path: Path) -> None:
    sink = FilesSink(FilesSinkConfig(path=str(tmp_path / "inbox")), base_dir=tmp_path)
    bad = sample_item(2).model_copy(update={"conditions": "甲\u000b乙"})
    result = sink.write("items", [sample_item(1), bad])
    assert result.written == 1 and result.location
    assert result.refused == [bad.key()]
    assert "conditions" in result.errors[0] and "U+000B" in result.errors[0]
    assert len(list(iter_raw_records(result.location))) == 1
    only_bad = sink.write("items", [bad])
    assert only_bad.written == 0 and only_bad.location == "" and only_bad.refused
