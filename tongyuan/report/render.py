"""HTML pages of the report, rendered with Jinja2 (autoescape on, every value masked).

Two layers keep personal IDs out of the pages: the environment's ``finalize`` masks
every value a template prints, and each finished page is masked once more as a whole,
so a template written carelessly later still cannot publish a clear 身份证号. Both go
through :func:`tongyuan.report.text.shown_text`, which also shows direction controls
visibly; the stylesheet isolates every value (``unicode-bidi: isolate``) so that what
one value holds cannot reorder its neighbours.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from tongyuan.report.case_details import DAYS_LATE, NUMERIC_COLUMNS
from tongyuan.report.charts import line_chart
from tongyuan.report.summary import NamedCode, ReportModel, kind_label
from tongyuan.report.text import shown_text
from tongyuan.report.themes import (
    ZERO_TOLERANCE_THEMES,
    format_rate,
    ordered_themes,
    suite_label,
    theme,
)

FAILURES_DIR = "failures"
# A browser stays responsive with a few thousand rows; the exports hold them all.
PAGE_ROWS = 5000
ASSETS_DIR = "assets"
_ASSETS = {
    "report.css": "report.css.tmpl",
    "report.js": "report.js.tmpl",
    "favicon.svg": "favicon.svg.tmpl",
}
_DIMENSIONS = (
    ("region_code", "按行政区划", "行政区划"),
    ("level", "按行使层级", "行使层级"),
    ("department", "按部门", "部门"),
)


_STATUS_LABELS = {
    "running": "运行中（不计分）",
    "passed": "全部通过",
    "failed": "存在不通过",
    "error": "运行出错（不计分）",
}


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    label: str
    svg: Markup


def _finalize(value: Any) -> Any:
    """Every printed value as :func:`shown_text` shows it (masked, controls visible)."""
    if isinstance(value, Markup):
        # Already-safe markup stays safe: masking only swaps digits for "*", and the
        # visible form of a control character (〈U+202E〉) holds no markup.
        return Markup(shown_text(str(value)))  # noqa: S704
    if isinstance(value, str):
        return shown_text(value)
    return value


def _isolated(value: Any) -> Markup:
    """A value in its own ``<bdi>``: its letters cannot reorder the text around it; of a
    :class:`NamedCode` the name alone, so that the code stays beside it."""
    if isinstance(value, NamedCode):
        return Markup("<bdi>{}</bdi>（{}）").format(shown_text(value.name), shown_text(value.code))
    return Markup("<bdi>{}</bdi>").format(shown_text(str(value)))


def _grade(rate: float | None, theme_key: str | None = None) -> str:
    """CSS class of a rate cell: the thresholds only colour, they judge nothing.

    In the zero-tolerance themes (integrity, signatures) anything below 100 % is
    coloured bad: one tampered ledger record must not look green at 99.99 %.
    """
    if rate is None:
        return "na"
    if theme_key in ZERO_TOLERANCE_THEMES and rate < 1.0:
        return "bad"
    if rate >= 0.99:
        return "good"
    return "warn" if rate >= 0.95 else "bad"


def _sortvalue(rate: float | None) -> str:
    return "-1" if rate is None else f"{rate:.6f}"


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("tongyuan.report", "templates"),
        autoescape=True,
        finalize=_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["rate"] = format_rate
    env.filters["grade"] = _grade
    env.filters["sortvalue"] = _sortvalue
    env.filters["isolated"] = _isolated
    env.filters["status"] = lambda status: _STATUS_LABELS.get(status, status or "—")
    env.globals["theme_label"] = lambda key: theme(key).label
    env.globals["kind_label"] = kind_label
    env.globals["suite_label"] = suite_label
    return env


def charts(model: ReportModel) -> list[Chart]:
    """One trend chart per theme, themes in scorecard order."""
    result = []
    for t in model.themes:
        points = [(run.label, tally.rate) for run, tally in model.trends.get(t.key, [])]
        svg = line_chart(points, title=f"{t.label}通过率趋势", key=t.key)
        # line_chart escapes every text and attribute value it interpolates.
        result.append(Chart(t.key, t.label, Markup(svg)))  # noqa: S704
    return result


def find_data_docs(reports_dir: Path, model: ReportModel) -> str | None:
    """Relative link to the GX Data Docs the quality run wrote, if they exist.

    The run may record a path; otherwise the shallowest ``index.html`` under
    ``reports/gx`` is taken. A path outside the reports folder is not linked: the site
    must work when copied elsewhere as one folder.
    """
    candidates: list[Path] = []
    latest = model.history.latest_run
    if latest is not None and latest.docs_path:
        recorded = Path(latest.docs_path)
        if not recorded.is_absolute():
            recorded = reports_dir / recorded
        candidates.append(recorded / "index.html" if recorded.is_dir() else recorded)
    gx_dir = reports_dir / "gx"
    if gx_dir.is_dir():
        candidates.extend(sorted(gx_dir.rglob("index.html"), key=lambda p: (len(p.parts), str(p))))
    root = reports_dir.resolve()
    for path in candidates:
        resolved = path.resolve()
        if resolved.is_file() and resolved.is_relative_to(root):
            return resolved.relative_to(root).as_posix()
    return None


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(shown_text(text), encoding="utf-8")
    tmp.replace(path)
    return path


def write_assets(reports_dir: Path) -> list[Path]:
    folder = resources.files("tongyuan.report").joinpath("templates")
    written = []
    for name, source in _ASSETS.items():
        written.append(
            _write(reports_dir / ASSETS_DIR / name, folder.joinpath(source).read_text("utf-8"))
        )
    return written


def write_pages(
    model: ReportModel,
    reports_dir: Path,
    *,
    exports_rel: str,
    generated_at: str,
) -> list[Path]:
    """Write index.html and one drill-down page per failing expectation; returns the pages.

    The drill-down folder is rebuilt from scratch so an expectation that now passes
    leaves no stale page behind.
    """
    env = environment()
    common = {"generated_at": generated_at, "themes": model.themes}
    failures_dir = reports_dir / FAILURES_DIR
    if failures_dir.exists():
        shutil.rmtree(failures_dir)
    index = env.get_template("index.html.tmpl").render(
        **common,
        root="",
        latest=model.history.latest_run,
        runs=model.history.all_runs,
        scored_runs=len(model.history.runs),
        scoped=model.scoped,
        scoped_themes=ordered_themes(key for s in model.scoped for key in s.rates),
        backdated=model.backdated,
        has_results=model.has_results,
        overall=model.overall,
        by_dimension=model.by_dimension,
        dimensions=_DIMENSIONS,
        charts=charts(model),
        expectations=model.expectations,
        exports_rel=exports_rel,
        data_docs=find_data_docs(reports_dir, model),
    )
    pages = [_write(reports_dir / "index.html", index)]
    page = env.get_template("failures.html.tmpl")
    for e in [*model.expectations, *model.backdated]:
        if not e.tally.failed:
            continue
        records = e.records[:PAGE_ROWS]
        regions = sorted({r.region for r in records})
        html = page.render(
            **common,
            root="../",
            e=e,
            records=records,
            regions=regions,
            page_truncated=len(e.records) > PAGE_ROWS,
            days_late=DAYS_LATE,
            numeric_columns=NUMERIC_COLUMNS,
            exports_rel="../" + exports_rel,
        )
        pages.append(_write(failures_dir / f"{e.slug}.html", html))
    return pages
