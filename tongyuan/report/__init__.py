"""The auditor report: a static site, exports and a PDF from the stored quality history.

``build_report`` reads ``quality_runs``/``quality_results`` (never Great Expectations
objects, so GX is not imported) and, for the drill-down of the case timeliness rules,
the listed cases as the case library holds them now (:mod:`.case_details`), and writes
``reports/index.html`` with drill-down pages, ``reports/summary.pdf``, and CSV/XLSX files
under ``exports/``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from tongyuan.config import Settings
from tongyuan.report.case_details import attach_case_details
from tongyuan.report.data import (
    REPORT_TIMEZONE,
    ReportDataError,
    department_names,
    load_history,
)
from tongyuan.report.exports import ExportFiles, write_exports
from tongyuan.report.pdf import write_pdf
from tongyuan.report.render import write_assets, write_pages
from tongyuan.report.summary import ReportModel, build_model, departments_of

if TYPE_CHECKING:
    from tongyuan.topology import Topology

__all__ = ["ReportDataError", "ReportResult", "build_report"]

log = logging.getLogger(__name__)

PDF_NAME = "summary.pdf"


@dataclass(slots=True)
class ReportResult:
    index: Path
    pages: list[Path]
    pdf: Path
    exports: ExportFiles
    runs: int
    expectations: int
    failing_expectations: int
    files: list[Path] = field(default_factory=list)


def _exports_rel(reports_dir: Path, exports_dir: Path) -> str:
    rel = Path(os.path.relpath(exports_dir.resolve(), reports_dir.resolve())).as_posix()
    return rel.rstrip("/") + "/"


def topology_names(topology: Topology | None) -> dict[str, str]:
    """Department names the topology declares, by USCC (item systems and case-only)."""
    if topology is None:
        return {}
    departments = [*topology.departments, *topology.case_only_departments]
    return {d.code: d.name for d in departments if d.code and d.name}


def build_report(
    settings: Settings,
    *,
    engine: Engine | None = None,
    now: datetime | None = None,
    topology: Topology | None = None,
) -> ReportResult:
    """Render the whole report from the database; safe to run again at any time.

    ``topology``, when given, names the departments (see :func:`department_names`).
    """
    from tongyuan.db import make_engine

    own = engine is None
    engine = engine or make_engine(settings.database_url, sqlite_begin="DEFERRED")
    try:
        history = load_history(engine)
        names = department_names(engine, departments_of(history), known=topology_names(topology))
        model: ReportModel = build_model(history, department_names=names)
        attach_case_details(model, engine)
    finally:
        if own:
            engine.dispose()
    generated_at = (now or datetime.now(REPORT_TIMEZONE)).astimezone(REPORT_TIMEZONE)
    stamp = generated_at.strftime("%Y-%m-%d %H:%M（北京时间）")
    reports_dir, exports_dir = settings.reports_dir, settings.exports_dir
    reports_dir.mkdir(parents=True, exist_ok=True)
    assets = write_assets(reports_dir)
    exports = write_exports(model, exports_dir)
    pdf = write_pdf(model, reports_dir / PDF_NAME)
    pages = write_pages(
        model,
        reports_dir,
        exports_rel=_exports_rel(reports_dir, exports_dir),
        generated_at=stamp,
    )
    failing = sum(1 for e in model.expectations if e.tally.failed)
    log.info(
        "report written: %d runs, %d expectations (%d with failures), %d pages",
        len(history.runs),
        len(model.expectations),
        failing,
        len(pages),
    )
    return ReportResult(
        index=pages[0],
        pages=pages,
        pdf=pdf,
        exports=exports,
        runs=len(history.runs),
        expectations=len(model.expectations),
        failing_expectations=failing,
        files=[*pages, *assets, pdf, *exports.all()],
    )
