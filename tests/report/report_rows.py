"""Quality history rows for report tests, written through the quality library's models,
and the known history most report tests start from."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from tongyuan.libraries.quality import QualityResult, QualityRun

BASE_TIME = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)


def add_run(
    engine: Engine,
    run_id: str,
    *,
    day: float = 0,
    suite: str = "completeness,consistency,rules,timeliness,integrity",
    scope: str = "all",
    status: str = "failed",
    finished: bool = True,
    data_docs_path: str | None = None,
    as_of: date | None = None,
) -> None:
    """One quality run; ``as_of`` is the day it judged (NULL: stored before 0014)."""
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
                as_of=as_of,
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


CLEAR_ID = "11010519491231002X"  # a valid 公民身份号码 (GB 11643 example)
FORMULA_KEY = '=HYPERLINK("http://evil.example","x")'

# Known history: three runs; the completeness failures grow 1, 2, 3 per district; the
# latest run also carries a clear ID and a formula among the failing keys, which the
# report must mask and defuse.
RUNS = ("run-a", "run-b", "run-c")
DISTRICTS = ("440304", "440305")
AUTHORITY = "91440300MB2C9X1234"


def seed_history(engine: Engine) -> None:
    for day, run_id in enumerate(RUNS):
        add_run(engine, run_id, day=day)
        add_rule(
            engine,
            run_id,
            "completeness",
            "item.required_elements",
            [
                (d, "4", AUTHORITY, day + 1, [f"ITEM-{d}-{i}" for i in range(day + 1)])
                for d in DISTRICTS
            ],
            title="事项要素填写完整",
            kind="item",
            regulation="国办发〔2018〕45号",
        )
        overdue_keys = [f"CASE-{i}" for i in range(2 * day)]
        if run_id == RUNS[-1]:
            overdue_keys[:2] = [f"SYS-1|{CLEAR_ID}", FORMULA_KEY]
        add_rule(
            engine,
            run_id,
            "timeliness",
            "case.overdue",
            [("440304", "3", None, 2 * day, overdue_keys), ("440305", "3", None, 0, [])],
            title="办件超期办结",
            evaluated_per_group=50,
        )
        add_rule(
            engine,
            run_id,
            "integrity",
            "license.signature_valid",
            [(None, None, "914403001234567890", 1, ["1.2.156.3005.2.11100000000000001"])],
            title="电子证照签名有效",
            kind="license",
            evaluated_per_group=30,
        )
        add_rule(
            engine,
            run_id,
            "consistency",
            "item.base_elements_equal",
            [("440300", "3", AUTHORITY, 0, [])],
            title="四级四同：基本要素一致",
            kind="item",
        )


class Links(HTMLParser):
    """Collects src/href values and the text of elements, for checks on written pages."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "xlink:href", "action", "data") and value is not None:
                self.urls.append(value)


def page_urls(path: Path) -> list[str]:
    parser = Links()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser.urls
