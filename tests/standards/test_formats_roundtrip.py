"""Round trips through the exchange formats, and the XSDs that describe them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from standards_samples import sample_case, sample_item

from standards.formats import (
    iter_raw_records,
    to_record,
    validate_file_against_xsd,
    write_records,
    xsd_path,
)
from standards.formats.xsd_gen import render_xsd
from standards.records import StandardRecord

KINDS = ["item", "case", "material", "license"]


def _read_back(path: Path) -> list[StandardRecord | None]:
    results = []
    for raw in iter_raw_records(path):
        record, findings = to_record(raw)
        assert findings == []
        results.append(record)
    return results


@pytest.mark.parametrize("suffix", [".xml", ".jsonl"])
@pytest.mark.parametrize("kind", KINDS)
def test_round_trip_gives_equal_records(
    tmp_path: Path, sample_records: dict[str, list[StandardRecord]], kind: str, suffix: str
) -> None:
    records = sample_records[kind]
    path = tmp_path / f"{kind}s{suffix}"
    assert write_records(path, records) == len(records)
    text = path.read_text(encoding="utf-8")
    assert any(word in text for word in ("深圳", "李四", "张三丰"))  # Chinese kept as is
    back = _read_back(path)
    assert back == records
    assert [r.content_hash() for r in back] == [r.content_hash() for r in records]


@pytest.mark.parametrize("kind", KINDS)
def test_written_xml_validates_against_its_xsd(
    tmp_path: Path, sample_records: dict[str, list[StandardRecord]], kind: str
) -> None:
    path = tmp_path / f"{kind}s.xml"
    write_records(path, sample_records[kind])
    assert validate_file_against_xsd(path) == []


def test_xml_layout_follows_the_standard(tmp_path: Path) -> None:
    path = tmp_path / "cases.xml"
    write_records(path, [sample_case(1)])
    root = etree.parse(str(path)).getroot()
    assert root.tag == "cases" and root.get("version") == "1"
    case = root[0]
    assert case.findtext("applicant/id_type") == "111"
    assert [e.findtext("state") for e in case.find("events")] == ["1", "3", "11"]
    assert case.findtext("events/event/at") == "2024-05-06T09:01:00+08:00"
    assert case.findtext("promised_deadline") == "2024-05-13"
    assert case.find("handling_code") is None  # None is omitted
    assert [m.text for m in case.find("material_ids")] == ["M000001"]
    item_path = tmp_path / "items.xml"
    write_records(item_path, [sample_item(1)])
    item = etree.parse(str(item_path)).getroot()[0]
    assert item.findtext("item_type") == "01"
    assert item.findtext("fees/fee/name") == "工本费"
    assert item.findtext("materials/material[2]/required") == "false"
    assert "&amp; &lt;附则&gt;" in item_path.read_text(encoding="utf-8")


def test_record_locations_point_at_the_record_element(tmp_path: Path) -> None:
    path = tmp_path / "cases.xml"
    write_records(path, [sample_case(n) for n in range(1, 4)])
    lines = path.read_text(encoding="utf-8").splitlines()
    case_lines = [n for n, line in enumerate(lines, 1) if line.strip() == "<case>"]
    raws = list(iter_raw_records(path))
    assert [r.location.record for r in raws] == [1, 2, 3]
    assert [r.location.line for r in raws] == case_lines
    assert all(r.location.file == str(path) for r in raws)


def test_jsonl_lines_are_model_dumps_with_kind(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    case = sample_case(7)
    write_records(path, [case])
    (line,) = path.read_text(encoding="utf-8").splitlines()
    obj = json.loads(line)
    assert obj.pop("kind") == "case"
    assert obj == case.model_dump(mode="json", exclude_none=True)
    assert "张三丰" in line  # not \u-escaped


def test_ndjson_extension_is_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "cases.ndjson"
    write_records(path, [sample_case(1)])
    assert _read_back(path) == [sample_case(1)]


def test_write_refuses_mixed_kinds_and_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "mixed.xml"
    with pytest.raises(ValueError, match="record 2 is a item"):
        write_records(path, [sample_case(1), sample_item(1)])
    assert list(tmp_path.iterdir()) == []


def test_empty_xml_file_needs_a_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no kind"):
        write_records(tmp_path / "none.xml", [])
    path = tmp_path / "cases.xml"
    assert write_records(path, [], kind="case") == 0
    assert list(iter_raw_records(path)) == []
    assert validate_file_against_xsd(path) == []


def test_kind_filter_refuses_another_kind(tmp_path: Path) -> None:
    from standards.formats import UnreadableInput

    path = tmp_path / "cases.xml"
    write_records(path, [sample_case(1)])
    with pytest.raises(UnreadableInput, match="expected <items>"):
        list(iter_raw_records(path, kind="item"))


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_xsd_is_what_the_models_render(kind: str) -> None:
    """A model change without regenerating the XSD (python -m standards.formats.xsd_gen) fails."""
    assert xsd_path(kind).read_bytes() == render_xsd(kind)


def test_xsd_is_annotated_in_chinese_and_constrains_codes() -> None:
    cases = xsd_path("case").read_text(encoding="utf-8")
    assert "证件号码" in cases and "办件状态" in cases
    assert '<xs:enumeration value="11">' in cases
    items = xsd_path("item").read_text(encoding="utf-8")
    assert "[0-9]{12}" in items and "行政许可" in items
    assert 'name="Integer_minInclusive0_maxInclusive3650"' in items


def test_xsd_validation_reports_bad_codes_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "cases.xml"
    write_records(path, [sample_case(1)])
    text = path.read_text(encoding="utf-8").replace("<state>3</state>", "<state>99</state>")
    path.write_text(text, encoding="utf-8")
    line = next(n for n, s in enumerate(text.splitlines(), 1) if "<state>99" in s)
    errors = validate_file_against_xsd(path)
    assert len(errors) == 1
    assert errors[0].startswith(f"line {line}:") and "99" in errors[0]
