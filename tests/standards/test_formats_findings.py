"""Bad records become findings with field paths; the rest of the file still loads."""

from __future__ import annotations

from pathlib import Path

from standards_samples import CITIZEN_ID, sample_case, sample_item, sample_license

from standards.formats import RawRecord, iter_raw_records, to_record, write_records
from standards.records import SourceLocation
from standards.validation import Finding


def _load(path: Path) -> list[tuple[RawRecord, object, list[Finding]]]:
    return [(raw, *to_record(raw)) for raw in iter_raw_records(path)]


def _write_cases_with(tmp_path: Path, replace: dict[str, str], n: int = 3) -> Path:
    """Three cases; the text replacements apply to the second one only."""
    path = tmp_path / "cases.xml"
    write_records(path, [sample_case(i) for i in range(1, n + 1)])
    text = path.read_text(encoding="utf-8")
    parts = text.split("<case>")
    second = parts[2]
    for old, new in replace.items():
        assert old in second, old
        second = second.replace(old, new, 1)
    parts[2] = second
    path.write_text("<case>".join(parts), encoding="utf-8")
    return path


def _by_field(findings: list[Finding]) -> dict[str | None, Finding]:
    return {f.field: f for f in findings}


def test_bad_fields_give_findings_with_paths_and_the_file_goes_on(tmp_path: Path) -> None:
    path = _write_cases_with(
        tmp_path,
        {
            "<state>3</state>": "<state>99</state>",
            f"<id_number>{CITIZEN_ID}</id_number>": "",
            "<promised_deadline>2024-05-13": "<promised_deadline>2024-02-30",
            "<decision>": "<colour>红</colour><decision>",
        },
    )
    results = _load(path)
    assert [raw.location.record for raw, _, _ in results] == [1, 2, 3]
    assert results[0][1] == sample_case(1) and results[2][1] == sample_case(3)
    raw, record, findings = results[1]
    assert record is None
    found = _by_field(findings)
    assert found["events.1.state"].rule == "schema.enum"
    assert "'99'" in found["events.1.state"].message
    assert found["applicant.id_number"].rule == "schema.required"
    assert "applicant.id_number" in found["applicant.id_number"].message
    assert found["promised_deadline"].rule == "schema.type"
    assert "2024-02-30" in found["promised_deadline"].message
    assert found["colour"].rule == "schema.unknown_field"
    assert len(findings) == 4
    assert raw.location.line is not None and raw.location.line > 1


def test_personal_ids_are_never_echoed(tmp_path: Path) -> None:
    long_id = CITIZEN_ID * 4  # over max_length 64: the value would be echoed
    path = _write_cases_with(
        tmp_path,
        {
            f"<id_number>{CITIZEN_ID}</id_number>": f"<id_number>{long_id}</id_number>",
            "<promised_limit_days>5": f"<promised_limit_days>{CITIZEN_ID}",
        },
    )
    _, record, findings = _load(path)[1]
    assert record is None
    found = _by_field(findings)
    assert set(found) == {"applicant.id_number", "promised_limit_days"}
    for finding in findings:
        assert CITIZEN_ID not in finding.message
        assert CITIZEN_ID[:6] not in finding.message.replace("1101", "")
    assert "1101" in found["applicant.id_number"].message  # masked, not dropped


def test_license_holder_id_is_masked(tmp_path: Path) -> None:
    raw = RawRecord(
        "license",
        SourceLocation("x.jsonl", 1, 1),
        {**sample_license(1).model_dump(mode="json"), "holder_id": ["a"]},
    )
    record, findings = to_record(raw)
    assert record is None and [f.field for f in findings] == ["holder_id"]
    raw.data["holder_id"] = CITIZEN_ID * 4
    _, findings = to_record(raw)
    assert CITIZEN_ID not in findings[0].message and "002X" in findings[0].message


def test_single_list_entries_stay_lists_and_repeats_are_type_errors(tmp_path: Path) -> None:
    path = _write_cases_with(
        tmp_path,
        {"<decision>准予许可</decision>": "<decision>甲</decision><decision>乙</decision>"},
    )
    raws = list(iter_raw_records(path))
    assert raws[0].data["material_ids"] == ["M000001"]
    assert raws[1].data["decision"] == ["甲", "乙"]
    _, findings = to_record(raws[1])
    assert [(f.field, f.rule) for f in findings] == [("decision", "schema.type")]


def test_wrong_list_entry_element_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "items.xml"
    write_records(path, [sample_item(1), sample_item(2)])
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("<fee>", "<charge>", 1).replace("</fee>", "</charge>", 1))
    first, second = _load(path)
    assert first[1] is None
    assert [(f.field, f.rule) for f in first[2]] == [("fees.0", "schema.unknown_field")]
    assert "<charge>" in first[2][0].message and "<fee>" in first[2][0].message
    assert second[1] == sample_item(2)


def test_element_between_records_is_reported_not_dropped(tmp_path: Path) -> None:
    path = tmp_path / "cases.xml"
    write_records(path, [sample_case(1), sample_case(2)])
    text = path.read_text(encoding="utf-8")
    text = text.replace("</case>\n<case>", "</case>\n<caze><x>1</x></caze>\n<case>", 1)
    text = text.replace("</cases>", "<note>迟到</note>\n</cases>")
    path.write_text(text, encoding="utf-8")
    results = _load(path)
    assert [raw.location.record for raw, _, _ in results] == [1, 2, 3, 4]
    assert results[0][1] == sample_case(1) and results[2][1] == sample_case(2)
    for _, record, findings in (results[1], results[3]):
        assert record is None and [f.rule for f in findings] == ["xml.schema"]
    assert "<caze>" in results[1][2][0].message
    assert results[1][0].location.line == text.splitlines().index("<caze><x>1</x></caze>") + 1


def test_text_directly_inside_a_record_is_reported(tmp_path: Path) -> None:
    """Leading text only: text after child elements is left to XSD validation (hot path)."""
    path = _write_cases_with(
        tmp_path, {"<source_system>": "stray words<source_system>", "<name>": "又一段<name>"}
    )
    _, record, findings = _load(path)[1]
    assert record is None
    assert [(f.rule, f.field) for f in findings] == [
        ("schema.unknown_field", None),
        ("schema.unknown_field", "applicant"),
    ]


def test_malformed_json_lines_are_yielded_as_bad_records(tmp_path: Path) -> None:
    path = tmp_path / "cases.jsonl"
    write_records(path, [sample_case(1), sample_case(2)])
    good = path.read_text(encoding="utf-8").splitlines()
    lines = [
        good[0],
        '{"kind": "case", "source_system": ',  # line 2: cut short
        "",  # blank lines are skipped, but still counted
        "[1, 2]",  # line 4: not an object
        '{"kind": "case", "a": 1, "a": 2}',  # line 5: duplicate key
        '{"kind": "license", "x": 1}',  # line 6: another kind than asked for
        good[1],
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    results = [(raw, *to_record(raw)) for raw in iter_raw_records(path, kind="case")]
    assert [raw.location.line for raw, _, _ in results] == [1, 2, 4, 5, 6, 7]
    assert results[0][1] == sample_case(1) and results[-1][1] == sample_case(2)
    for raw, record, findings in results[1:-1]:
        assert record is None
        assert [f.rule for f in findings] == ["json.malformed"]
        assert f"line {raw.location.line}" in findings[0].message
    assert "duplicate key 'a'" in results[3][2][0].message
    assert "'license'" in results[4][2][0].message


def test_unknown_kind_in_json_lines_is_a_finding(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"kind": "permit", "a": 1}\n', encoding="utf-8")
    (raw,) = iter_raw_records(path)
    record, findings = to_record(raw)
    assert record is None and [(f.rule, f.field) for f in findings] == [("schema.enum", "kind")]
