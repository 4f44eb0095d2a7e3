"""What the item sync found reaches the quality suites: open consistency findings fail the
consistency theme, and a department item system's rows are filed under a region."""

from __future__ import annotations

import dataclasses
import zipfile
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from standards.privacy import mask_text
from tongyuan.config import Settings
from tongyuan.db import make_engine
from tongyuan.libraries.base import utcnow
from tongyuan.libraries.batches import open_batch
from tongyuan.libraries.claims import ItemReview
from tongyuan.libraries.consistency import ConsistencyFinding, NodeItem
from tongyuan.libraries.quality import QualityResult
from tongyuan.quality import run_quality
from tongyuan.quality.finding_keys import FINDING_VALUE_CHARS, shown_key
from tongyuan.report import build_report

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


CITIZEN_ID = "11010519491231002X"  # GB 11643 example; its region is not in the fixture
HIDDEN = CITIZEN_ID[4:10]  # characters masking stars: none may be shown
# Every place an ID can start near the cut: wholly before it, across it, just after it.
OFFSETS = range(FINDING_VALUE_CHARS - len(CITIZEN_ID) - 2, FINDING_VALUE_CHARS + 2)


def _plant_ids_around_the_cut(hub: Settings) -> None:
    engine = make_engine(hub.database_url)
    now = utcnow()
    try:
        with Session(engine) as session, session.begin():
            batch = open_batch(session, "sync.items", "node:test")
            for offset in OFFSETS:
                value = "联" * offset + CITIZEN_ID + "，请核对"
                session.add(
                    ConsistencyFinding(
                        scope="base", basic_code=BASIC, impl_code=NANSHAN_IMPL,
                        element=f"legal_basis_{offset}", owner_node="440000",
                        owner_value=value, other_node="440305", other_value="依据",
                        status="open", first_batch_id=batch.id, batch_id=batch.id,
                        first_seen=now, last_seen=now,
                    )
                )  # fmt: skip
    finally:
        engine.dispose()


def test_an_id_near_the_cut_of_a_finding_value_is_masked_before_it_is_cut(hub: Settings) -> None:
    _plant_ids_around_the_cut(hub)
    summary = run_quality(hub, suites=["consistency"], as_of=AS_OF, files_and_ledger=False)
    [group] = _groups(hub, summary.run_id, "item.base_elements.inconsistent", "finding")
    keys = group[5]
    assert len(keys) == len(OFFSETS)
    for offset in OFFSETS:
        whole = "联" * offset + mask_text(CITIZEN_ID) + "，请核对"
        shown = whole[:FINDING_VALUE_CHARS] + "…"
        expected = f"{NANSHAN_IMPL} legal_basis_{offset}：440000={shown} ≠ 440305=依据"
        assert expected in keys, offset
    assert not any(HIDDEN in key for key in keys), keys
    # What the auditor opens: the drill-down page, the CSV and the workbook.
    result = build_report(hub)
    for path in [*result.pages, *result.exports.all()]:
        data = path.read_bytes()
        if path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as book:
                data = b"".join(book.read(name) for name in book.namelist())
        assert HIDDEN.encode() not in data, path


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("A：x=\ue000短\ue001", "A：x=短"),
        (f"A：x=\ue000{'联' * 30}{CITIZEN_ID}\ue001", f"A：x={'联' * 30}1101******…"),
        (f"A：x=\ue000{'联' * 23}{CITIZEN_ID}\ue001", f"A：x={'联' * 23}1101**********002…"),
        (f"plain {CITIZEN_ID}", "plain 1101**********002X"),
    ],
)
def test_shown_key_masks_the_whole_value_then_cuts_it(key: str, shown: str) -> None:
    assert shown_key(key) == shown
