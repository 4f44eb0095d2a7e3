"""JSON payloads: JSON Lines with bad lines reported, and HTTP pages with rows at a path."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from adapters.mapping import Mapping
from adapters.payloads import PayloadProblem, iter_json_rows, read_json_document, records_at
from adapters.payloads.problems import RAW_BYTES
from standards.formats import ParseLimits, UnreadableInput, UnsafeInput
from standards.records import Case

ID = "11010519491231002X"
IMPL = "91110000600037341L3000001000000"


def test_json_lines_with_bad_lines_reported_by_line(tmp_path: Path) -> None:
    lines = [
        b'{"no": "A1"}\n',
        b"{bad\n",
        b"\n",
        b"[1, 2]\n",
        b'{"no": "A2", "no": "A3"}\n',
        b'{"id": "' + ID.encode() + b'", "x": NaN}\n',
        b'\xff{"no": "A4"}\n',
        b'{"no": "A5"}',
    ]
    path = tmp_path / "cases.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(lines))
    rows = list(iter_json_rows(path, source="drop/cases.jsonl"))
    summary = [
        (row.rule if isinstance(row, PayloadProblem) else row, loc.record, loc.line)
        for row, loc in rows
    ]
    assert summary == [
        ({"no": "A1"}, 1, 1),
        ("payload.malformed", 2, 2),
        ("payload.malformed", 3, 4),
        ("payload.malformed", 4, 5),
        ("payload.malformed", 5, 6),
        ("mapping.encoding", 6, 7),
        ({"no": "A5"}, 7, 8),
    ]
    problems = [row for row, _ in rows if isinstance(row, PayloadProblem)]
    assert "an array, not a JSON object" in problems[1].message
    assert "'no' appears twice" in problems[2].message
    assert "NaN" in problems[3].message
    assert all(ID not in p.message for p in problems)
    assert all(p.message.startswith("drop/cases.jsonl, line ") for p in problems)
    assert base64.b64decode(problems[4].raw[RAW_BYTES]) == lines[6]


def test_json_lines_from_bytes() -> None:
    rows = list(iter_json_rows(b'{"a": 1}\n{"a": 2}\n', source="https://api.example/cases"))
    assert [(row, loc.file, loc.line) for row, loc in rows] == [
        ({"a": 1}, "https://api.example/cases", 1),
        ({"a": 2}, "https://api.example/cases", 2),
    ]


def test_json_page_rows_at_a_path_map_into_cases() -> None:
    page = {
        "code": 0,
        "data": {
            "total": 3,
            "items": [
                {
                    "caseNo": "A1",
                    "itemCode": IMPL,
                    "applicant": {"name": "张三", "idType": "111", "idNo": ID},
                    "steps": [{"state": "1", "at": "2026-03-02T09:00:00+08:00"}],
                },
                "not a row",
                {"caseNo": "A2"},
            ],
        },
        "next": "/cases?page=2",
    }
    mapping = Mapping.from_dict(
        {
            "kind": "case",
            "fields": {
                "source_system": "API",
                "dept_case_no": {"from": "caseNo"},
                "impl_code": {"from": "itemCode"},
                "applicant.name": {"from": "applicant.name"},
                "applicant.id_type": {"from": "applicant.idType"},
                "applicant.id_number": {"from": "applicant.idNo"},
                "events": {
                    "rows": "steps",
                    "fields": {"state": {"from": "state"}, "at": {"from": "at"}},
                },
            },
        }
    )
    body = json.dumps(page, ensure_ascii=False).encode("utf-8")
    rows = list(iter_json_rows(body, records_path="data.items", source="https://api/cases?page=1"))
    assert [loc.record for _, loc in rows] == [1, 2, 3]
    first, _ = mapping.map(rows[0][0], rows[0][1])  # type: ignore[arg-type]
    assert isinstance(first, Case)
    problem = rows[1][0]
    assert isinstance(problem, PayloadProblem)
    assert "data.items[1] is a string, not an object" in problem.message
    record, findings = mapping.map(rows[2][0], rows[2][1])  # type: ignore[arg-type]
    assert record is None
    assert {f.rule for f in findings} == {"mapping.missing"}
    # the rest of the page (the next link) is there for the HTTP adapter
    assert read_json_document(body)["next"] == "/cases?page=2"


def test_top_level_array_and_empty_pages(tmp_path: Path) -> None:
    assert [r for r, _ in iter_json_rows(b'[{"a": 1}, {"a": 2}]', records_path="")] == [
        {"a": 1},
        {"a": 2},
    ]
    assert list(iter_json_rows(b'{"data": {"items": null}}', records_path="data.items")) == []
    path = tmp_path / "page.json"
    path.write_text('{"rows": []}', encoding="utf-8")
    assert list(iter_json_rows(path, records_path="rows")) == []


@pytest.mark.parametrize(
    ("body", "path", "text", "line"),
    [
        (b'{"data": {"items": [}}', "data.items", "not valid JSON", 1),
        (b'{\n"a": 1,\n"a": 2}', "a", "appears twice", None),
        (b'{"data": {}}', "data.items", "no 'items' in data", None),
        (b'{"data": []}', "data.items", "no 'items' in data", None),
        (b'{"data": {"items": {"a": 1}}}', "data.items", "is an object, expected an array", None),
        (b'\n\n{"a": "\xff"}', "a", "not valid UTF-8", 3),
    ],
)
def test_unreadable_pages(body: bytes, path: str, text: str, line: int | None) -> None:
    with pytest.raises(UnreadableInput) as caught:
        list(iter_json_rows(body, records_path=path))
    assert caught.value.rule == "json.malformed"
    assert text in caught.value.message
    if line is not None:
        assert caught.value.line == line


def test_records_at_names_what_is_missing() -> None:
    with pytest.raises(UnreadableInput, match="no 'x' in the top level"):
        records_at({"a": 1}, "x", "page")


def test_limits() -> None:
    deep = b'{"a": ' + b"[" * 40 + b"]" * 40 + b"}\n"
    with pytest.raises(UnsafeInput, match="nested deeper"):
        list(iter_json_rows(deep))
    with pytest.raises(UnsafeInput, match="nested deeper"):
        list(iter_json_rows(b'{"rows": [' + deep.strip() + b"]}", records_path="rows"))
    long_text = b'{"a": "' + b"x" * 5000 + b'"}\n'
    with pytest.raises(UnsafeInput, match="text value"):
        list(iter_json_rows(long_text, limits=ParseLimits(max_text_bytes=1000)))
    many = b'{"a": 1}\n' * 10
    with pytest.raises(UnsafeInput, match="more than 5 records"):
        list(iter_json_rows(many, limits=ParseLimits(max_records=5)))
    with pytest.raises(UnsafeInput, match="more than 5 records"):
        list(
            iter_json_rows(
                b"[" + b"{}," * 9 + b"{}]", records_path="", limits=ParseLimits(max_records=5)
            )
        )
    with pytest.raises(UnsafeInput, match="over the limit"):
        list(iter_json_rows(many, limits=ParseLimits(max_file_bytes=20)))
    with pytest.raises(UnsafeInput, match="line longer"):
        list(iter_json_rows(long_text, limits=ParseLimits(max_record_bytes=100)))
