"""A printable PDF summary: the scorecards and the result of every rule.

Chinese is set in reportlab's built-in CID font STSong-Light (Adobe-GB1): the PDF
references the font by name and the reader supplies the glyphs, so nothing is
downloaded or embedded, and the file stays small.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from tongyuan.report.data import REPORT_TIMEZONE
from tongyuan.report.summary import ReportModel, kind_label
from tongyuan.report.text import shown_text
from tongyuan.report.themes import format_rate, ordered_themes, suite_label

FONT = "STSong-Light"


def _font() -> str:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    return FONT


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    # Paragraph parses a small markup language: escape it, and show what the other
    # outputs show (masked, controls visible).
    safe = shown_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(safe, style)


def _table(rows: list[list[str]], style: ParagraphStyle, widths: list[float]) -> Table:
    table = Table(
        [[_p(cell, style) for cell in row] for row in rows], colWidths=widths, repeatRows=1
    )
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _pdf_date(when: datetime) -> str:
    """A PDF date string (ISO 32000-1 7.9.4) in Beijing time: ``D:20261120090300+08'00'``."""
    local = when.astimezone(REPORT_TIMEZONE)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"D:{local:%Y%m%d%H%M%S}{sign}{hours:02d}'{rest:02d}'"


def _dated(when: datetime) -> Callable[[Canvas, object], None]:
    """A page callback dating the document (CreationDate and ModDate) ``when``."""
    stamp = _pdf_date(when)

    def date_document(canvas: Canvas, _doc: object) -> None:
        canvas.setDateFormatter(lambda *_parts: stamp)

    return date_document


def write_pdf(model: ReportModel, path: Path) -> Path:
    """Write the summary to ``path``; the same figures as the HTML overview.

    The same stored results give the same bytes: the document is dated by the newest
    quality run (:attr:`QualityHistory.as_of`), shown as 数据截至, and reportlab's
    invariant mode keeps the render time out of the file identifier (/ID); the run's id
    in the subject makes that identifier differ between runs.
    """
    font = _font()
    as_of = model.history.as_of
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    h1 = ParagraphStyle("h1", parent=body, fontSize=16, leading=22, spaceAfter=6)
    h2 = ParagraphStyle("h2", parent=body, fontSize=12, leading=16, spaceBefore=8, spaceAfter=4)
    as_of_label = as_of.astimezone(REPORT_TIMEZONE).strftime("%Y-%m-%d %H:%M")
    story: list = [
        _p("政务服务数据质量报告（摘要）", h1),
        _p(f"数据截至：{as_of_label}（北京时间，最近一次质量检查运行的时间）", body),
    ]
    latest = model.history.latest_run
    if latest is None or not model.has_results:
        story.append(_p("尚无质量检查结果。请先运行 tongyuan quality run。", body))
    else:
        story.append(_p(f"最近一次全范围检查：{latest.label}（范围：全部）", body))
        story.append(_p("总体评分", h2))
        rows = [["主题", "检查数", "不通过数", "通过率"]]
        for t in model.themes:
            tally = model.overall[t.key]
            rows.append([t.label, str(tally.evaluated), str(tally.failed), format_rate(tally.rate)])
        story.append(_table(rows, body, [60 * mm, 35 * mm, 35 * mm, 35 * mm]))
        for dim, title in (
            ("region_code", "按行政区划"),
            ("level", "按行使层级"),
            ("department", "按部门"),
        ):
            score_rows = model.by_dimension[dim]
            if not score_rows:
                continue
            story.append(_p(title, h2))
            rows = [[title[1:], *[t.label for t in model.themes]]]
            for row in score_rows:
                rows.append(
                    [
                        row.label,
                        *[
                            format_rate(row.rates[t.key].rate) if t.key in row.rates else "—"
                            for t in model.themes
                        ],
                    ]
                )
            # Region and department names are long; rates are short.
            width = 120 * mm / len(model.themes)
            story.append(_table(rows, body, [54 * mm] + [width] * len(model.themes)))
        story.append(_p("规则检查结果", h2))
        rows = [["规则", "名称", "检查数", "不通过数", "通过率"]]
        for e in model.expectations:
            rows.append(
                [
                    e.expectation,
                    f"{e.title}（{kind_label(e.kind)}）",
                    str(e.tally.evaluated),
                    str(e.tally.failed),
                    format_rate(e.tally.rate),
                ]
            )
        story.append(_table(rows, body, [45 * mm, 65 * mm, 20 * mm, 20 * mm, 20 * mm]))
    if model.scoped:
        # Region-limited runs: each labelled with its scope, never in the figures above.
        themes = ordered_themes(key for s in model.scoped for key in s.rates)
        story.append(_p("限定范围的检查（不计入总体评分和趋势）", h2))
        rows = [["范围", "规则套件", "检查时间", *[t.label for t in themes]]]
        for s in model.scoped:
            rates = [format_rate(s.rates[t.key].rate) if t.key in s.rates else "—" for t in themes]
            rows.append([s.scope_label, suite_label(s.suite), s.run.label, *rates])
        width = 84 * mm / max(len(themes), 1)
        story.append(_table(rows, body, [40 * mm, 22 * mm, 28 * mm] + [width] * len(themes)))
    story.append(Spacer(1, 6 * mm))
    story.append(_p("身份证号等个人身份号码在本报告中均已脱敏显示。", body))
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = SimpleDocTemplate(
        str(path),
        pagesize=A4,
        title="政务服务数据质量报告",
        author="Tongyuan 同源",
        subject=_subject(model),
        invariant=1,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
    )
    dated = _dated(as_of)
    doc.build(story, onFirstPage=dated, onLaterPages=dated)
    return path


def _subject(model: ReportModel) -> str:
    runs = model.history.all_runs
    return f"质量检查运行 {runs[-1].id}" if runs else "尚无质量检查运行"
