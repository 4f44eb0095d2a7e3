"""Each suite finds exactly the defects planted in the libraries, on SQLite and PostgreSQL.

One world per backend (module scope: loading and two GX runs take a few seconds): a
clean generated dataset loaded through the Loader, a baseline run, the documented
defects of ``world.py`` planted, a second run. What the second run finds beyond the
baseline must be the planted counts, rule by rule and kind by kind, and name the
planted records.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from world import World, hub_today, load_clean, plant_all, verify_all_licenses, world_settings

from standards.privacy import contains_citizen_id
from tongyuan.db import make_engine
from tongyuan.libraries.quality import QualityResult, QualityRun
from tongyuan.quality import QualityRunSummary, run_quality
from tongyuan.quality.history import masked_keys, recent_runs, run_results

pytestmark = pytest.mark.slow

# The generator simulates late decisions and 预审, and licenses that lapse or are revoked.
NATURAL = {
    ("case.overdue", "case"),
    ("case.prereview.late", "case"),
    ("license.revoked", "license"),
    ("license.expired", "license"),
}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[World, QualityRunSummary, QualityRunSummary]]:
    base = tmp_path_factory.mktemp(f"world-{request.param}")
    drop = None
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        shutil.copyfile(template, base / "tongyuan.db")
        url = f"sqlite:///{base / 'tongyuan.db'}"
    else:
        server = request.getfixturevalue("pg_server")
        name = server.create_database(template=request.getfixturevalue("_pg_template"))
        url = server.url(name)
        drop = (server, name)
    settings = world_settings(base / "home", url)
    load_clean(settings, base / "data")
    engine = make_engine(url)
    verify_all_licenses(engine)
    engine.dispose()
    planted = World(settings, as_of=hub_today())
    before = run_quality(settings, as_of=planted.as_of)
    planted.baseline = before.failed_by_rule()
    plant_all(planted)
    after = run_quality(settings, as_of=planted.as_of)
    try:
        yield planted, before, after
    finally:
        if drop is not None:
            drop[0].drop_database(drop[1])


def test_the_clean_library_breaks_no_rule_but_the_simulated_ones(world) -> None:
    _, before, _ = world
    found = {key: n for key, n in before.failed_by_rule().items() if n and key not in NATURAL}
    assert found == {}
    assert before.evaluated > 0


def test_each_suite_finds_exactly_the_planted_defects(world) -> None:
    planted, before, after = world
    found = {
        key: n - before.failed_by_rule().get(key, 0) for key, n in after.failed_by_rule().items()
    }
    assert {k: v for k, v in found.items() if v} == dict(planted.planted)
    # Every kind of defect was planted at least once, in every suite.
    assert {rule for rule, _ in planted.planted} >= {
        "item.required_elements",
        "case.required_fields",
        "item.base_elements.inconsistent",
        "item.impl_code.authority_mismatch",
        "item.time_limit",
        "case.item.unpublished",
        "case_serial.format",
        "case.serial.mismatch",
        "uscc.check",
        "citizen_id.region",
        "region.unknown",
        "case.events.transition",
        "case.events.order",
        "case.overdue",
        "claim.overdue",
        "review.overdue",
        "license.signature",
        "license.expired",
        "license.revoked",
        "material.file.sha256",
        "material.file.missing",
        "ledger.chain",
    }
    assert after.status == "failed"


def test_failing_keys_name_the_planted_records(world) -> None:
    planted, _, after = world
    engine = make_engine(planted.settings.database_url)
    try:
        with Session(engine) as session:
            totals = {(r.expectation, r.kind): r for r in run_results(session, after.run_id)}
    finally:
        engine.dispose()
    for key, keys in planted.planted_keys.items():
        if key[0] == "ledger.chain":
            continue  # ledger subjects are rows and entries, checked by count
        # Keys are stored masked: a license identifier whose issuer code is 18 digits
        # looks like an ID number and is masked like one.
        assert set(masked_keys(keys)) <= set(totals[key].failing_keys), key


def test_group_rows_add_up_to_the_totals(world) -> None:
    planted, _, after = world
    engine = make_engine(planted.settings.database_url)
    try:
        with Session(engine) as session:
            rows = run_results(session, after.run_id, grain=None)
    finally:
        engine.dispose()
    totals = {(r.suite, r.expectation, r.kind): r for r in rows if r.grain == "total"}
    sums: dict[tuple[str, str, str], list[int]] = {}
    for r in rows:
        if r.grain == "group":
            acc = sums.setdefault((r.suite, r.expectation, r.kind), [0, 0])
            acc[0] += r.evaluated
            acc[1] += r.failed
            # Material files and the ledger belong to no region: one 未标明 group each.
            assert r.region_code is not None or r.kind in (
                "license",
                "case",
                "item",
                "material",
                "ledger",
            )
    for key, (evaluated, failed) in sums.items():
        assert (evaluated, failed) == (totals[key].evaluated, totals[key].failed), key
    # Cases are broken down by region, level (from 实施编码) and department (authority USCC).
    case_groups = [r for r in rows if r.grain == "group" and r.expectation == "case.overdue"]
    assert len(case_groups) > 1
    assert all(
        r.level in {"1", "2", "3", "4", "5", "6"} and len(r.department or "") == 18
        for r in case_groups
    )


def test_every_run_is_in_the_history_with_its_data_docs(world) -> None:
    planted, before, after = world
    engine = make_engine(planted.settings.database_url)
    try:
        with Session(engine) as session:
            runs = {r.id: r for r in recent_runs(session)}
            assert {before.run_id, after.run_id} <= set(runs)
            run = runs[after.run_id]
            assert run.status == "failed" and run.finished_at is not None
            assert run.suite == "completeness,consistency,rules,timeliness,integrity"
            assert run.scope == "all"
            assert run.failed == after.failed and run.evaluated == after.evaluated
            keys = session.scalars(select(QualityResult.failing_keys)).all()
            assert session.scalar(select(QualityRun.id).where(QualityRun.status == "error")) is None
    finally:
        engine.dispose()
    docs = Path(after.data_docs_path or "")
    assert docs == planted.settings.reports_dir / "gx" / "index.html" and docs.is_file()
    validations = docs.parent / "validations"
    assert (validations / "completeness" / "items").is_dir()
    assert (validations / "rules" / "cases").is_dir()
    assert "rules.cases" in docs.read_text(encoding="utf-8")
    # Failing keys never carry a personal ID in clear.
    assert not any(contains_citizen_id(str(k)) for k in keys)
