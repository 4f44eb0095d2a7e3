"""Storing quality runs: the run row first (so a crash leaves a visible ``error`` run), then
its results in one transaction; and reading recent runs back for trends.

Failing keys are record keys (serials, 实施编码, license identifiers…), never personal
IDs; every key still goes through :func:`standards.privacy.mask_text` before it is
stored, so a source system that put an ID number into a key cannot leak it into a report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from standards.privacy import mask_text
from tongyuan.libraries.base import new_id, utcnow
from tongyuan.libraries.quality import FAILING_KEYS_CAP, QualityResult, QualityRun


@dataclass(slots=True)
class ResultRow:
    """One expectation's outcome over the scope (``grain="total"``) or one group."""

    suite: str
    rule: str
    title: str
    kind: str
    regulation: str | None
    grain: str
    evaluated: int
    failed: int
    region_code: str | None = None
    level: str | None = None
    department: str | None = None
    failing_keys: list[str] = field(default_factory=list)

    @property
    def pass_rate(self) -> float:
        return pass_rate(self.evaluated, self.failed)


def pass_rate(evaluated: int, failed: int) -> float:
    """Share of evaluated records that passed; 1.0 when nothing was there to fail."""
    if evaluated <= 0:
        return 1.0
    return max(0.0, (evaluated - failed) / evaluated)


def masked_keys(keys: Iterable[object]) -> list[str]:
    """Keys as stored: text, personal IDs masked, at most the cap."""
    out: list[str] = []
    for key in keys:
        if len(out) >= FAILING_KEYS_CAP:
            break
        out.append(mask_text(str(key)))
    return out


def start_run(
    engine: Engine, *, suites: Sequence[str], scope: str, as_of: date | None = None
) -> QualityRun:
    """Record a run as ``running`` and commit, so it is visible even if the run dies.

    ``as_of`` (the day timeliness is judged as of) is kept so that the report counts the
    working days a case was late as of the same day the run judged it.
    """
    run = QualityRun(
        id=new_id(),
        started_at=utcnow(),
        suite=",".join(suites),
        scope=scope,
        status="running",
        as_of=as_of,
    )
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add(run)
    return run


def finish_run(
    engine: Engine,
    run_id: str,
    rows: Sequence[ResultRow],
    *,
    status: str,
    data_docs_path: str | None,
    error: str | None = None,
) -> QualityRun:
    """Store the results and close the run, in one transaction."""
    totals = [r for r in rows if r.grain == "total"]
    evaluated = sum(r.evaluated for r in totals)
    failed = sum(r.failed for r in totals)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        run = session.get(QualityRun, run_id)
        if run is None:
            raise LookupError(f"quality run {run_id} is not in quality_runs")
        session.add_all(
            QualityResult(
                run_id=run_id,
                suite=r.suite,
                expectation=r.rule,
                title_zh=r.title,
                grain=r.grain,
                kind=r.kind,
                region_code=r.region_code,
                level=r.level,
                department=r.department,
                evaluated=r.evaluated,
                failed=r.failed,
                pass_rate=r.pass_rate,
                failing_keys=masked_keys(r.failing_keys),
                regulation=r.regulation,
            )
            for r in rows
        )
        run.finished_at = utcnow()
        run.status = status
        run.evaluated = evaluated
        run.failed = failed
        run.pass_rate = pass_rate(evaluated, failed)
        run.data_docs_path = data_docs_path
        run.error = mask_text(error) if error else None
    return run


def recent_runs(session: Session, *, limit: int = 30) -> list[QualityRun]:
    """The latest runs, newest first (what a trend chart plots)."""
    return list(
        session.scalars(select(QualityRun).order_by(QualityRun.started_at.desc()).limit(limit))
    )


def run_results(
    session: Session, run_id: str, *, grain: str | None = "total"
) -> list[QualityResult]:
    """A run's results (totals by default), in suite and rule order."""
    query = select(QualityResult).where(QualityResult.run_id == run_id)
    if grain is not None:
        query = query.where(QualityResult.grain == grain)
    return list(
        session.scalars(
            query.order_by(
                QualityResult.suite, QualityResult.expectation, QualityResult.kind, QualityResult.id
            )
        )
    )


def latest_at(session: Session) -> datetime | None:
    """When the newest finished run finished, if any."""
    return session.scalars(
        select(QualityRun.finished_at)
        .where(QualityRun.finished_at.is_not(None))
        .order_by(QualityRun.finished_at.desc())
        .limit(1)
    ).first()
