"""Exports open safely in Excel/WPS: BOM'd UTF-8 CSV, no formulas, IDs masked."""

from __future__ import annotations

import csv
import io
import re
import zipfile

import pytest
from report_rows import CLEAR_ID, FORMULA_KEY, seed_history

from tongyuan.report import build_report
from tongyuan.report.exports import safe_cell, safe_text, write_xlsx


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+86 123", "'+86 123"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("福田区", "福田区"),
        ("a=b", "a=b"),
        (CLEAR_ID, "1101**********002X"),
    ],
)
def test_safe_text_defuses_formulas_and_masks_ids(value, expected):
    assert safe_text(value) == expected


def test_numbers_stay_numbers():
    assert safe_cell(-3) == -3 and safe_cell(0.5) == 0.5 and safe_cell(None) == ""


def test_csv_has_bom_masked_ids_and_defused_formulas(hub):
    seed_history(hub.engine)
    exports = build_report(hub.settings).exports
    raw = exports.failing_csv.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:4] == ["规则编号", "规则名称", "记录类型", "记录键"]
    keys = [row[3] for row in rows[1:]]
    assert "'" + FORMULA_KEY in keys and "SYS-1|1101**********002X" in keys
    assert len([r for r in rows[1:] if r[0] == "case.overdue"]) == 4
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert CLEAR_ID not in raw.decode("utf-8-sig")
    results = list(csv.reader(io.StringIO(exports.results_csv.read_text("utf-8-sig"))))
    overdue = next(r for r in results if r[2] == "case.overdue")
    assert overdue[4] == "办件" and overdue[7:10] == ["100", "4", "96.0%"]


def test_xlsx_holds_strings_not_formulas(hub):
    seed_history(hub.engine)
    path = build_report(hub.settings).exports.xlsx
    with zipfile.ZipFile(path) as book:
        sheets = [n for n in book.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 2
        xml = "".join(book.read(n).decode("utf-8") for n in book.namelist() if n.endswith(".xml"))
    assert "<f>" not in xml and "<f " not in xml
    assert CLEAR_ID not in xml and "1101**********002X" in xml
    assert "&apos;=HYPERLINK" in xml or "'=HYPERLINK" in xml


def test_xlsx_writer_prefixes_every_dangerous_start(tmp_path):
    path = write_xlsx(tmp_path / "t.xlsx", [("s", ["h"], [["=A1"], ["@x"], [7]])])
    with zipfile.ZipFile(path) as book:
        strings = book.read("xl/sharedStrings.xml").decode("utf-8")
        sheet = book.read("xl/worksheets/sheet1.xml").decode("utf-8")
    texts = re.findall(r"<t[^>]*>([^<]*)</t>", strings)
    assert texts == ["h", "&apos;=A1", "&apos;@x"] or texts == ["h", "'=A1", "'@x"]
    assert "<v>7</v>" in sheet
