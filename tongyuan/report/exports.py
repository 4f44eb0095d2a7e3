"""Evidence exports for auditors: CSV and XLSX of results and failing records.

Auditors open these in Excel or WPS, where a cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return is run as a formula (CSV injection, OWASP). Every text
cell is therefore prefixed with ``'`` when it starts with one of those, CSV is written
UTF-8 with a BOM (without it Excel reads the Chinese as mojibake), and XLSX cells are
written as strings, never as formulas. Numbers stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import xlsxwriter

from tongyuan.report.case_details import ALL_DETAIL_COLUMNS
from tongyuan.report.data import NO_RUNS_TIME
from tongyuan.report.summary import ReportModel, kind_label
from tongyuan.report.text import shown_text
from tongyuan.report.themes import format_rate, suite_label, theme

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Cell = str | int | float | None

RESULT_HEADER = (
    "主题",
    "质量规则套件",
    "规则编号",
    "规则名称",
    "记录类型",
    "依据",
    "运行时间",
    "检查数",
    "不通过数",
    "通过率",
)
# The detail columns (办件详情 of the case timeliness rules) follow, empty for other rules.
FAILING_HEADER = (
    "规则编号",
    "规则名称",
    "记录类型",
    "记录键",
    "行政区划",
    "行使层级",
    "部门",
    *ALL_DETAIL_COLUMNS,
)


@dataclass(frozen=True, slots=True)
class ExportFiles:
    results_csv: Path
    failing_csv: Path
    xlsx: Path

    def all(self) -> list[Path]:
        return [self.results_csv, self.failing_csv, self.xlsx]


def safe_text(value: str) -> str:
    """Masked, controls visible (:func:`shown_text`), and defused for spreadsheets:
    formula-looking text gets a leading quote."""
    text = shown_text(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def safe_cell(value: Cell) -> Cell:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return value
    return safe_text(str(value))


def result_rows(model: ReportModel) -> list[tuple[Cell, ...]]:
    return [
        (
            theme(e.theme).label,
            suite_label(e.suite),
            e.expectation,
            e.title,
            kind_label(e.kind),
            e.regulation,
            e.run.label,
            e.tally.evaluated,
            e.tally.failed,
            format_rate(e.tally.rate),
        )
        for e in model.expectations
    ]


def failing_rows(model: ReportModel) -> list[tuple[Cell, ...]]:
    return [
        (
            e.expectation,
            e.title,
            kind_label(e.kind),
            r.key,
            r.region,
            r.level,
            r.department,
            *[r.detail(column) for column in ALL_DETAIL_COLUMNS],
        )
        for e in model.expectations
        for r in e.records
    ]


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([safe_cell(cell) for cell in header])
        for row in rows:
            writer.writerow([safe_cell(cell) for cell in row])
    return path


def write_xlsx(
    path: Path,
    sheets: Sequence[tuple[str, Sequence[str], Sequence[Sequence[Cell]]]],
    *,
    created: datetime = NO_RUNS_TIME,
) -> Path:
    """One worksheet per (name, header, rows); text via write_string, numbers as numbers.

    ``created`` dates the workbook (docProps/core.xml created and modified): by default
    the render time, which made every render of the same results a different file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = xlsxwriter.Workbook(
        str(path), {"strings_to_formulas": False, "strings_to_urls": False}
    )
    # xlsxwriter writes the time as given, with a Z: it must be in UTC.
    workbook.set_properties({"created": created.astimezone(UTC)})
    try:
        bold = workbook.add_format({"bold": True})
        for name, header, rows in sheets:
            sheet = workbook.add_worksheet(name)
            for col, title in enumerate(header):
                sheet.write_string(0, col, str(safe_cell(title)), bold)
                sheet.set_column(col, col, max(10, min(48, len(title) * 3)))
            for r, row in enumerate(rows, start=1):
                for col, value in enumerate(row):
                    cell = safe_cell(value)
                    if isinstance(cell, int | float):
                        sheet.write_number(r, col, cell)
                    else:
                        sheet.write_string(r, col, str(cell))
            sheet.freeze_panes(1, 0)
    finally:
        workbook.close()
    return path


def write_exports(model: ReportModel, exports_dir: Path) -> ExportFiles:
    """Write the three export files (same names each run: the latest evidence).

    The same stored results give the same bytes: the workbook is dated by the newest
    quality run, not by the time of writing.
    """
    results = result_rows(model)
    failing = failing_rows(model)
    return ExportFiles(
        results_csv=write_csv(exports_dir / "quality-results.csv", RESULT_HEADER, results),
        failing_csv=write_csv(exports_dir / "failing-records.csv", FAILING_HEADER, failing),
        xlsx=write_xlsx(
            exports_dir / "quality-report.xlsx",
            [("质量结果", RESULT_HEADER, results), ("不通过记录", FAILING_HEADER, failing)],
            created=model.history.as_of,
        ),
    )
