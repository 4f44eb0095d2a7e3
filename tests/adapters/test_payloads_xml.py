"""A department's own XML: records by tag, nested dicts, GBK, the standard's refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.mapping import Mapping
from adapters.payloads import iter_xml_rows
from standards.formats import ParseLimits, UnreadableInput, UnsafeInput
from standards.records import Case

IMPL = "91110000600037341L3000001000000"

EXPORT = f"""<?xml version="1.0" encoding="GBK"?>
<导出 xmlns="urn:dept:cases" 批次="7">
  <头><条数>2</条数></头>
  <数据>
    <办件 编号="SZ0001">
      <事项编码>{IMPL}</事项编码>
      <申请人 证件类型="111"><名称>张三</名称><证件号码>11010519491231002X</证件号码></申请人>
      <环节><状态>01</状态><时间>2026年3月2日 9时05分</时间></环节>
      <环节><状态>09</状态><时间>2026年3月5日 16时00分</时间></环节>
      <备注/>
    </办件>
    <办件 编号="SZ0002">
      <事项编码>{IMPL}</事项编码>
      <申请人 证件类型="111"><名称>李四</名称><证件号码>360426199101010071</证件号码></申请人>
      <环节><状态>01</状态><时间>2026年3月3日 10时00分</时间></环节>
    </办件>
  </数据>
</导出>
"""

MAPPING = {
    "kind": "case",
    "code_tables": {"states": {"01": "1", "09": "11"}},
    "fields": {
        "source_system": "DEPT-XML",
        "dept_case_no": {"from": "@编号"},
        "impl_code": {"from": "事项编码"},
        "applicant.name": {"from": "申请人.名称"},
        "applicant.id_type": {"from": "申请人.@证件类型"},
        "applicant.id_number": {"from": "申请人.证件号码"},
        "events": {
            "rows": "环节",
            "fields": {
                "state": {"from": "状态", "code_table": "states"},
                "at": {"from": "时间", "datetime": "%Y年%m月%d日 %H时%M分"},
            },
        },
    },
}


def write(tmp_path: Path, text: str | bytes, encoding: str = "utf-8") -> Path:
    path = tmp_path / "export.xml"
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def test_gbk_export_maps_into_cases(tmp_path: Path) -> None:
    path = write(tmp_path, EXPORT, "gbk")
    mapping = Mapping.from_dict(MAPPING)
    cases = []
    locations = []
    for row, location in iter_xml_rows(path, record_tag="办件", source="sftp:/out/export.xml"):
        record, findings = mapping.map(row, location)
        assert findings == [], findings
        cases.append(record)
        locations.append(location)
    assert all(isinstance(c, Case) for c in cases)
    assert [c.dept_case_no for c in cases] == ["SZ0001", "SZ0002"]  # type: ignore[union-attr]
    assert [len(c.events) for c in cases] == [2, 1]  # type: ignore[union-attr]
    assert [(loc.file, loc.record, loc.line) for loc in locations] == [
        ("sftp:/out/export.xml", 1, 5),
        ("sftp:/out/export.xml", 2, 12),
    ]


def test_rows_are_nested_dicts_with_attributes_and_repeated_children(tmp_path: Path) -> None:
    path = write(tmp_path, EXPORT, "gbk")
    rows = [row for row, _ in iter_xml_rows(path, record_tag="办件")]
    assert rows[0] == {
        "@编号": "SZ0001",
        "事项编码": IMPL,
        "申请人": {"@证件类型": "111", "名称": "张三", "证件号码": "11010519491231002X"},
        "环节": [
            {"状态": "01", "时间": "2026年3月2日 9时05分"},
            {"状态": "09", "时间": "2026年3月5日 16时00分"},
        ],
        "备注": "",
    }
    assert rows[1]["环节"] == {"状态": "01", "时间": "2026年3月3日 10时00分"}


def test_records_anywhere_namespaces_text_and_nesting() -> None:
    data = b"""<a xmlns:x="urn:x">
  <rec id="1">plain text</rec>
  <deep><deeper><rec><n unit="day">5</n><rec><n>inner</n></rec></rec></deeper></deep>
  <x:rec><n>namespaced</n></x:rec>
</a>"""
    rows = [row for row, _ in iter_xml_rows(data, record_tag="rec")]
    assert rows == [
        {"@id": "1", "#text": "plain text"},
        {"n": {"@unit": "day", "#text": "5"}, "rec": {"n": "inner"}},
        {"n": "namespaced"},
    ]
    only_x = [row for row, _ in iter_xml_rows(data, record_tag="{urn:x}rec")]
    assert only_x == [{"n": "namespaced"}]


def test_many_records_stream(tmp_path: Path) -> None:
    body = "".join(f"<r><i>{i}</i></r>\n" for i in range(20_000))
    path = write(tmp_path, f"<root>\n{body}</root>")
    count = 0
    for row, location in iter_xml_rows(path, record_tag="r"):
        count += 1
        assert row == {"i": str(location.record - 1)}
        assert location.line == location.record + 1
    assert count == 20_000


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaa">]><r><rec>&a;</rec></r>',
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r><rec>&x;</rec></r>',
        b'<!DOCTYPE r SYSTEM "http://example.invalid/r.dtd"><r><rec/></r>',
        b"<!DOCTYPE r [<!ENTITY a 'x'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]><r>&b;</r>",
    ],
)
def test_dtds_are_refused(data: bytes) -> None:
    with pytest.raises(UnsafeInput, match="DOCTYPE"):
        list(iter_xml_rows(data, record_tag="rec"))


def test_entities_and_xinclude_are_refused() -> None:
    with pytest.raises(UnsafeInput, match="entity"):
        list(iter_xml_rows(b"<r><rec>&passwd;</rec></r>", record_tag="rec"))
    xinclude = (
        b'<r xmlns:xi="http://www.w3.org/2001/XInclude">'
        b'<rec><xi:include href="/etc/passwd" parse="text"/></rec></r>'
    )
    with pytest.raises(UnsafeInput, match="XInclude"):
        list(iter_xml_rows(xinclude, record_tag="rec"))


def test_limits() -> None:
    deep = b"<r><rec>" + b"<a>" * 30 + b"x" + b"</a>" * 30 + b"</rec></r>"
    with pytest.raises(UnsafeInput, match="deeper than"):
        list(iter_xml_rows(deep, record_tag="rec"))
    long_text = b"<r><rec><a>" + b"x" * 5000 + b"</a></rec></r>"
    with pytest.raises(UnsafeInput, match="over the limit"):
        list(iter_xml_rows(long_text, record_tag="rec", limits=ParseLimits(max_text_bytes=1000)))
    many = b"<r>" + b"<rec/>" * 10 + b"</r>"
    with pytest.raises(UnsafeInput, match="more than 5 records"):
        list(iter_xml_rows(many, record_tag="rec", limits=ParseLimits(max_records=5)))
    with pytest.raises(UnsafeInput, match="over the limit"):
        list(iter_xml_rows(many, record_tag="rec", limits=ParseLimits(max_file_bytes=20)))
    no_record = b"<r><other>" + b"<x>y</x>" * 100_000 + b"</other><rec/></r>"
    with pytest.raises(UnsafeInput, match="no <rec> record ended"):
        list(
            iter_xml_rows(no_record, record_tag="rec", limits=ParseLimits(max_record_bytes=1 << 16))
        )


def test_malformed_xml_after_good_records() -> None:
    data = b"<r>\n<rec><a>1</a></rec>\n<rec><a>2</b></rec>\n</r>"
    rows = []
    with pytest.raises(UnreadableInput) as caught:
        for row, _ in iter_xml_rows(data, record_tag="rec"):
            rows.append(row)
    assert rows == [{"a": "1"}]
    assert caught.value.rule == "xml.malformed"
    assert caught.value.line == 3


@pytest.mark.parametrize(
    ("data", "rule", "text"),
    [
        (b"", "xml.malformed", "empty"),
        ("<r/>".encode("utf-16"), "xml.encoding", "UTF-16"),
        (b'<?xml version="1.0" encoding="ISO-8859-1"?><r/>', "xml.encoding", "ISO-8859-1"),
        (b"just text", "xml.malformed", "malformed"),
    ],
)
def test_unreadable(data: bytes, rule: str, text: str) -> None:
    with pytest.raises(UnreadableInput) as caught:
        list(iter_xml_rows(data, record_tag="rec"))
    assert caught.value.rule == rule
    assert text in caught.value.message


def test_bad_record_tag() -> None:
    with pytest.raises(ValueError, match="not an element name"):
        list(iter_xml_rows(b"<r/>", record_tag="a b"))
