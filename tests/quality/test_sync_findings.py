"""What the item sync found reaches the quality suites: open consistency findings fail the
consistency theme, and a department item system's rows are filed under a region."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from tongyuan.config import Settings
from tongyuan.db import make_engine
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.batches import open_batch
from tongyuan.libraries.claims import ItemReview
from tongyuan.libraries.consistency import ConsistencyFinding, NodeItem
from tongyuan.libraries.quality import QualityResult
from tongyuan.quality import run_quality

DEPT = "114403000040578006"  # a department item system attached to 深圳市 (440300)
BASIC = "000100137001"
NANSHAN_IMPL = "114403050010000005" + "4" + BASIC
DEPT_IMPL = DEPT + "3" + BASIC
LONG_LOCATION = "深圳市南山区政务服务中心" * 5
AS_OF = date(2026, 6, 30)


@pytest.fixture
def hub(settings: Settings, db_url: str) -> Settings:
    return dataclasses.replace(settings, database_url=db_url)


def _plant(hub: Settings) -> None:
    """Two open findings (a district's base element, a department's copy of a district
    item), one resolved one, and a department copy under review past its due day."""
    engine = make_engine(hub.database_url)
    now = utcnow()
    try:
        with Session(engine) as session, session.begin():
            batch = open_batch(session, "sync.items", "node:test")

            def finding(scope: str, impl: str, element: str, owner: tuple, other: tuple, status):
                session.add(
                    ConsistencyFinding(
                        scope=scope, basic_code=BASIC, impl_code=impl, element=element,
                        owner_node=owner[0], owner_value=owner[1], other_node=other[0],
                        other_value=other[1], status=status, first_batch_id=batch.id,
                        batch_id=batch.id, first_seen=now, last_seen=now,
                    )
                )  # fmt: skip

            finding("base", NANSHAN_IMPL, "statutory_limit_days", ("440000", 20),
                    ("440305", 30), "open")  # fmt: skip
            finding("implementation", NANSHAN_IMPL, "location", ("440305", "南山区政务服务中心"),
                    (DEPT, LONG_LOCATION), "open")  # fmt: skip
            finding("base", NANSHAN_IMPL, "name", ("440000", "甲"), ("440306", "乙"), "resolved")
            for node, impl, region in ((DEPT, NANSHAN_IMPL, "440305"), (DEPT, DEPT_IMPL, "440300")):
                session.add(
                    NodeItem(
                        node=node, impl_code=impl, basic_code=BASIC, content_hash="x" * 64,
                        status="published", data={"impl_code": impl, "region_code": region},
                        batch_id=batch.id, seen_at=now,
                    )
                )  # fmt: skip
            session.add(
                ItemReview(
                    node=DEPT, impl_code=DEPT_IMPL, basic_code=BASIC, status="registered",
                    status_since=now, submitted_at=now, review_due=AS_OF - timedelta(days=3),
                    updated_at=now,
                )
            )  # fmt: skip
    finally:
        engine.dispose()


def _groups(hub: Settings, run_id: str, rule: str, kind: str) -> list[tuple]:
    engine = make_engine(hub.database_url)
    try:
        with Session(engine) as session:
            rows = session.scalars(
                select(QualityResult).where(
                    QualityResult.run_id == run_id,
                    QualityResult.expectation == rule,
                    QualityResult.kind == kind,
                    QualityResult.grain == "group",
                )
            )
            return sorted(
                (r.region_code, r.level, r.department, r.evaluated, r.failed, tuple(r.failing_keys))
                for r in rows
            )
    finally:
        engine.dispose()


def test_open_sync_findings_are_failures_of_the_consistency_theme(hub: Settings) -> None:
    _plant(hub)
    summary = run_quality(hub, suites=["consistency"], as_of=AS_OF, files_and_ledger=False)
    failed = summary.failed_by_rule()
    assert failed[("item.base_elements.inconsistent", "finding")] == 1
    assert failed[("item.copy.inconsistent", "finding")] == 1
    assert summary.status == "failed"
    [base] = _groups(hub, summary.run_id, "item.base_elements.inconsistent", "finding")
    assert base == (
        "440305", "4", "114403050010000005", 1, 1,
        (f"{NANSHAN_IMPL} statutory_limit_days：440000=20 ≠ 440305=30",),
    )  # fmt: skip
    # A department's copy is filed under the region its copy belongs to, not its USCC;
    # long values are cut.
    [copy] = _groups(hub, summary.run_id, "item.copy.inconsistent", "finding")
    assert copy[:5] == ("440305", "4", "114403050010000005", 1, 1)
    assert copy[5] == (
        f"{NANSHAN_IMPL} location：440305=南山区政务服务中心 ≠ {DEPT}={LONG_LOCATION[:40]}…",
    )

    # A run scoped to another district sees neither.
    scoped = run_quality(
        hub, suites=["consistency"], scope="440306", as_of=AS_OF, files_and_ledger=False
    )
    assert scoped.failed == 0


def test_a_department_systems_reviews_are_filed_under_its_region(hub: Settings) -> None:
    _plant(hub)
    summary = run_quality(hub, suites=["timeliness"], as_of=AS_OF, files_and_ledger=False)
    assert summary.failed_by_rule()[("review.overdue", "review")] == 1
    [group] = _groups(hub, summary.run_id, "review.overdue", "review")
    assert group[:5] == ("440300", "3", DEPT, 1, 1)
    assert group[5] == (f"{DEPT}/{DEPT_IMPL}",)
    city = run_quality(
        hub, suites=["timeliness"], scope="440300", as_of=AS_OF, files_and_ledger=False
    )
    assert city.failed_by_rule()[("review.overdue", "review")] == 1
