"""CSV payloads: UTF-8 and GBK, bad rows reported with their bytes, limits, and end to end."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from adapters.mapping import Mapping
from adapters.payloads import PayloadProblem, UnreadablePayload, csv_encoding, iter_csv_rows
from adapters.payloads.problems import RAW_BYTES, RAW_TEXT
from standards.formats import ParseLimits, UnreadableInput, UnsafeInput
from standards.records import Case

ID = "11010519491231002X"
ID2 = "360426199101010071"
IMPL = "91110000600037341L3000001000000"

HEADER = "BH,SSBM,SQRMC,ZJHM,ZT,SLSJ\n"
ROWS = [
    f"SZ0001,{IMPL},张三,{ID},受理,2026年3月2日 9时30分\n",
    f'SZ0002,{IMPL},"欧阳,娜娜",{ID2},办结,2026年03月05日 16时05分\n',
    f"SZ0003,{IMPL},龘犇,{ID},退回,2026年3月9日 08时00分\n",
]

MAPPING = """\
kind: case
encoding: gbk
code_tables:
  states: {受理: "3", 办结: "11", 退回: "4"}
fields:
  source_system: DEPT-CSV
  dept_case_no: {from: BH}
  impl_code: {from: SSBM}
  applicant.name: {from: SQRMC, transforms: [trim]}
  applicant.id_type: "111"
  applicant.id_number: {from: ZJHM, transforms: [trim, upper]}
  events:
    from_columns:
      - {state: {from: ZT, code_table: states}, at: {from: SLSJ, datetime: "%Y年%m月%d日 %H时%M分"}}
"""


def write(tmp_path: Path, text: str, encoding: str, name: str = "cases.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_gbk_csv_with_chinese_names_maps_into_cases(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "".join(ROWS), "gbk")
    (tmp_path / "mapping.yaml").write_text(MAPPING, encoding="utf-8")
    mapping = Mapping.load(tmp_path / "mapping.yaml")
    records = []
    for row, location in iter_csv_rows(path, encoding=mapping.encoding, source="drop/cases.csv"):
        assert isinstance(row, dict), row
        record, findings = mapping.map(row, location)
        assert findings == [], findings
        records.append((record, location))
    cases = [r for r, _ in records]
    assert all(isinstance(c, Case) for c in cases)
    assert [c.applicant.name for c in cases] == ["张三", "欧阳,娜娜", "龘犇"]  # type: ignore[union-attr]
    assert [c.events[0].state.value for c in cases] == ["3", "11", "4"]  # type: ignore[union-attr]
    assert [(loc.file, loc.record, loc.line) for _, loc in records] == [
        ("drop/cases.csv", 1, 2),
        ("drop/cases.csv", 2, 3),
        ("drop/cases.csv", 3, 4),
    ]


def test_gb18030_reads_characters_outside_gbk(tmp_path: Path) -> None:
    path = write(tmp_path, "NAME\n𠀀鿿\n", "gb18030")
    rows = list(iter_csv_rows(path, encoding="gb18030"))
    assert rows[0][0] == {"NAME": "𠀀鿿"}


def test_gbk_file_read_as_utf8_reports_each_bad_row(tmp_path: Path) -> None:
    ascii_row = f"SZ0004,{IMPL},ZHANG SAN,{ID},OK,2026-03-02\n"
    path = write(tmp_path, HEADER + ROWS[0] + ascii_row + ROWS[1] + ROWS[2], "gbk")
    rows = list(iter_csv_rows(path, encoding="utf-8"))
    assert len(rows) == 4
    kinds = [type(row).__name__ for row, _ in rows]
    assert kinds == ["PayloadProblem", "dict", "PayloadProblem", "PayloadProblem"]
    assert [loc.line for _, loc in rows] == [2, 3, 4, 5]
    first = rows[0][0]
    assert isinstance(first, PayloadProblem)
    assert first.rule == "mapping.encoding"
    assert "line 2" in first.message and "SQRMC" in first.message and "ZT" in first.message
    assert "GBK" in first.message  # the hint: the bytes read as GBK
    assert ID not in first.message
    # the exact bytes are kept for quarantine and replay
    assert base64.b64decode(first.raw[RAW_BYTES]) == ROWS[0].encode("gbk")
    assert "\\x" in first.raw[RAW_TEXT]


def test_problem_becomes_an_envelope_without_record(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + ROWS[0], "gbk")
    ((problem, location),) = list(iter_csv_rows(path, encoding="utf-8", source="cases.csv"))
    assert isinstance(problem, PayloadProblem)
    envelope = problem.envelope("cases", location)
    assert envelope.record is None and not envelope.ok
    assert envelope.location == location
    assert [f.rule for f in envelope.findings] == ["mapping.encoding"]
    assert envelope.raw[RAW_BYTES] == problem.raw[RAW_BYTES]


def test_wrong_field_counts_and_broken_quotes_are_malformed_rows(tmp_path: Path) -> None:
    text = 'A,B,C\n1,2,3\n1,2\n1,2,3,4\n1,"2"x,3\n\n1,"two\nlines",3\n7,8,9\n'
    path = write(tmp_path, text, "utf-8")
    rows = list(iter_csv_rows(path))
    summary = [
        (row.rule if isinstance(row, PayloadProblem) else row, loc.record, loc.line)
        for row, loc in rows
    ]
    assert summary == [
        ({"A": "1", "B": "2", "C": "3"}, 1, 2),
        ("payload.malformed", 2, 3),
        ("payload.malformed", 3, 4),
        ("payload.malformed", 4, 5),
        ({"A": "1", "B": "two\nlines", "C": "3"}, 5, 7),
        ({"A": "7", "B": "8", "C": "9"}, 6, 9),
    ]
    assert "2 fields, the header has 3" in rows[1][0].message  # type: ignore[union-attr]


def test_bom_delimiter_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "名称\t编号\r\n张三\t1\r\n".encode())
    # Excel's UTF-8 BOM wins over a declared GBK
    rows = list(iter_csv_rows(path, encoding="gbk", delimiter="\t"))
    assert rows[0][0] == {"名称": "张三", "编号": "1"}


def test_values_are_kept_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, "A,B\n  x  ,\n", "utf-8")
    assert next(iter_csv_rows(path))[0] == {"A": "  x  ", "B": ""}


@pytest.mark.parametrize(
    ("content", "rule", "text"),
    [
        (b"", "payload.malformed", None),
        ("名称,编号\n1,2\n".encode("gbk"), "mapping.encoding", "header row is not valid utf-8"),
        (b"A,B,A\n1,2,3\n", "payload.malformed", "A appear more than once"),
        (b"A,,C\n1,2,3\n", "payload.malformed", "2 have no name"),
        (b'"A,B\n', "payload.malformed", "header row is not valid CSV"),
        (b"\xff\xfeA\x00", "mapping.encoding", "UTF-16"),
    ],
)
def test_unusable_files_raise(tmp_path: Path, content: bytes, rule: str, text: str | None) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    if not content:
        assert list(iter_csv_rows(path)) == []  # an empty drop holds no rows
        return
    with pytest.raises(UnreadablePayload) as caught:
        list(iter_csv_rows(path))
    assert caught.value.rule == rule
    assert isinstance(caught.value, UnreadableInput)
    assert text is not None and text in caught.value.message


def test_limits(tmp_path: Path) -> None:
    path = write(tmp_path, "A\n" + "x\n" * 10, "utf-8")
    with pytest.raises(UnsafeInput, match="more than 5 rows"):
        list(iter_csv_rows(path, limits=ParseLimits(max_records=5)))
    with pytest.raises(UnsafeInput, match="over the limit"):
        list(iter_csv_rows(path, limits=ParseLimits(max_file_bytes=10)))
    long_quote = write(tmp_path, 'A,B\n1,"' + "x\n" * 100, "utf-8", "q.csv")
    with pytest.raises(UnsafeInput, match="unclosed quote"):
        list(iter_csv_rows(long_quote, limits=ParseLimits(max_record_bytes=64)))
    long_line = write(tmp_path, "A\n" + "x" * 200 + "\n", "utf-8", "l.csv")
    with pytest.raises(UnsafeInput, match="line longer"):
        list(iter_csv_rows(long_line, limits=ParseLimits(max_record_bytes=64)))


def test_encoding_names() -> None:
    assert csv_encoding("UTF8") == "utf-8"
    assert csv_encoding("GB2312") == "gbk"
    assert csv_encoding("gb18030") == "gb18030"
    with pytest.raises(ValueError, match="not supported"):
        csv_encoding("latin-1")
    with pytest.raises(ValueError, match="one character"):
        list(iter_csv_rows(Path("x"), delimiter="||"))
