"""Quality history rows for report tests, written through the quality library's models."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tongyuan.libraries.quality import QualityResult, QualityRun

BASE_TIME = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def add_run(
    engine: Engine,
    run_id: str,
    *,
    day: int = 0,
    suite: str = "completeness,consistency,rules,timeliness,integrity",
    scope: str = "all",
    status: str = "failed",
    finished: bool = True,
    data_docs_path: str | None = None,
) -> None:
    started = BASE_TIME + timedelta(days=day)
    with Session(engine) as session, session.begin():
        session.add(
            QualityRun(
                id=run_id,
                started_at=started,
                finished_at=started + timedelta(minutes=3) if finished else None,
                suite=suite,
                scope=scope,
                status=status,
                data_docs_path=data_docs_path,
            )
        )


def add_result(
    engine: Engine,
    run_id: str,
    suite: str,
    expectation: str,
    *,
    evaluated: int,
    failed: int,
    grain: str = "group",
    kind: str = "case",
    title: str | None = None,
    region_code: str | None = None,
    level: str | None = None,
    department: str | None = None,
    failing_keys: Sequence[str] = (),
    regulation: str | None = None,
) -> None:
    with Session(engine) as session, session.begin():
        session.add(
            QualityResult(
                run_id=run_id,
                suite=suite,
                expectation=expectation,
                title_zh=title or expectation,
                grain=grain,
                kind=kind,
                region_code=region_code,
                level=level,
                department=department,
                evaluated=evaluated,
                failed=failed,
                pass_rate=(evaluated - failed) / evaluated if evaluated else 1.0,
                failing_keys=list(failing_keys),
                regulation=regulation,
            )
        )


def add_rule(
    engine: Engine,
    run_id: str,
    suite: str,
    expectation: str,
    groups: Sequence[tuple[str | None, str | None, str | None, int, Sequence[str]]],
    *,
    evaluated_per_group: int = 100,
    title: str | None = None,
    kind: str = "case",
    regulation: str | None = None,
) -> None:
    """One rule as quality stores it: a group row per (region, level, department) with
    its failing keys, and the total row summing them."""
    keys: list[str] = []
    failed = 0
    for region, level, department, group_failed, group_keys in groups:
        add_result(
            engine,
            run_id,
            suite,
            expectation,
            evaluated=evaluated_per_group,
            failed=group_failed,
            title=title,
            kind=kind,
            region_code=region,
            level=level,
            department=department,
            failing_keys=group_keys,
            regulation=regulation,
        )
        failed += group_failed
        keys.extend(group_keys)
    add_result(
        engine,
        run_id,
        suite,
        expectation,
        evaluated=evaluated_per_group * len(groups),
        failed=failed,
        grain="total",
        title=title,
        kind=kind,
        failing_keys=keys[:1000],
        regulation=regulation,
    )
