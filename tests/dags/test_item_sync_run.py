"""A real item_sync run through Airflow: dag.test() against a migrated metadata database.

The Shenzhen example's level systems (four districts, the city, the province and the
city's market-regulation department) are filled with generated items carrying planted
disagreements; the DAG runs in a child process on an Airflow home under the test's hub
home. Afterwards the item library, the consistency findings, the claims and the batches
must say what the planted data implies, and Airflow's own database must hold nothing
but batch ids and counts. Once with Airflow's metadata on SQLite (the embedded default),
once on PostgreSQL (what a real deployment uses).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, select, text

from standards.identifiers import InvalidIdentifier, validate_citizen_id
from tongyuan.cli.demo_items import DEMO_RETRIES, prepare_level_systems, publish_updates
from tongyuan.config import load_settings
from tongyuan.db import make_engine, make_session_factory, upgrade
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.claims import Claim
from tongyuan.libraries.consistency import open_findings
from tongyuan.libraries.items import ItemVersion
from tongyuan.orchestration import run_dag
from tongyuan.orchestration.tasks import ITEM_LIBRARY_URI, per_system
from tongyuan.topology import example_path, load_topology

pytestmark = pytest.mark.slow

SHENZHEN = example_path("shenzhen")
STEPS = ("sync_", "deliver_", "push_")
EIGHTEEN = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")


def _world():
    settings = load_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url)
    topology = load_topology(SHENZHEN, home=settings.home)
    return settings, topology, prepare_level_systems(topology)


def _run(settings):
    return run_dag(settings, "item_sync", conf={"topology": str(SHENZHEN)}, environ=DEMO_RETRIES)


def _library(settings):
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            current = {
                v.impl_code: v
                for v in session.scalars(select(ItemVersion).where(ItemVersion.valid_to.is_(None)))
            }
            batches = {b.id: b.status for b in session.scalars(select(Batch))}
            claims = {(c.node, c.basic_code): c.status for c in session.scalars(select(Claim))}
            findings = [
                (f.basic_code, f.element, f.owner_node, f.other_node, f.owner_value, f.other_value)
                for f in open_findings(session)
            ]
    finally:
        engine.dispose()
    return current, batches, claims, findings


def _check_first_run(settings, topology, systems, outcome) -> None:
    assert outcome.succeeded, outcome.errors
    # Every level synced, delivered up and pushed down; every system exactly once.
    steps = per_system(outcome, topology)
    dept = topology.departments[0].code
    assert set(steps) == {*topology.nodes, dept}
    assert all("sync" in s for s in steps.values())
    assert {c for c, s in steps.items() if "deliver" in s} == set(topology.nodes) - {"440000"}
    assert {c for c, s in steps.items() if "push" in s} == {"440000", "440300"}

    current, batches, claims, findings = _library(settings)
    held = {p.impl_code for p in systems.planted_of("held")}
    exported = {i.impl_code for items in systems.exports.values() for i in items}
    assert held and held <= exported
    published = (exported - held) | _department_items(topology)
    live = {code for code, v in current.items() if not v.is_tombstone}
    assert live == published

    # Only batch ids and counts crossed XCom, and each batch id is a committed batch.
    for task in outcome.tasks:
        if task.task_id.startswith(STEPS) and task.state == "success":
            # A sync also names the system it pulled (which nodes may then deliver).
            keys = {"batch_id", "counts"} | (
                {"code"} if task.task_id.startswith("sync_") else set()
            )
            assert set(task.result) == keys, task.label
            assert all(isinstance(n, int) for n in task.result["counts"].values())
            assert batches[task.result["batch_id"]] == "committed"

    # The planted disagreements surfaced where they were planted.
    (wrong,) = systems.planted_of("base_element")
    assert any(
        f[0] == wrong.basic_code and f[1] == "statutory_limit_days" and wrong.node in f[2:4]
        for f in findings
    ), findings
    (missing,) = systems.planted_of("claim_missing")
    assert claims[(missing.node, missing.basic_code)] == "pushed"
    (incomplete,) = systems.planted_of("claim_incomplete")
    assert claims[(incomplete.node, incomplete.basic_code)] == "claimed"

    # The item library asset was announced, with counts and nothing else.
    (event,) = outcome.asset_events
    assert event["uri"] == ITEM_LIBRARY_URI and event["task_id"] == "library_updated"
    assert event["extra"]["counts"]["sync"]["added"] == len(published)


def _department_items(topology) -> set[str]:
    from tongyuan.topology.department_items import items_table

    (dept,) = topology.departments
    url = dept.source.resolve_secret(dept.source.config["url"]).get_secret_value()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(conn.execute(select(items_table.c["SSBM"])).scalars())
    finally:
        engine.dispose()


def test_item_sync_runs_in_airflow_on_the_embedded_sqlite_metadata(tmp_path) -> None:
    settings, topology, systems = _world()
    first = _run(settings)
    _check_first_run(settings, topology, systems, first)

    # The systems' next exports: 深圳市市场监督管理局 cancels an item it passed down.
    publish_updates(topology, systems)
    second = _run(settings)
    assert second.succeeded, second.errors
    (cancel,) = systems.planted_of("city_cancel")
    current, *_ = _library(settings)
    assert current[cancel.impl_code].is_tombstone
    steps = per_system(second, topology)
    assert steps[topology.departments[0].code]["sync"]["counts"]["cancelled"] == 1
    assert steps["440300"]["deliver"]["counts"]["cancelled"] == 1  # up to the province
    assert steps["440300"]["push"]["counts"]["cancelled"] >= 1  # down to the districts
    assert [e["extra"]["counts"]["sync"]["cancelled"] for e in second.asset_events] == [1]

    # The metadata database was migrated once, then found current.
    log = (settings.logs_dir / "tongyuan.log").read_text(encoding="utf-8")
    assert log.count("migrating the Airflow metadata database") == 1
    airflow_db = create_engine(f"sqlite:///{settings.airflow_home / 'airflow.db'}")
    _assert_no_personal_data(airflow_db, runs=2)


def test_item_sync_runs_with_airflow_metadata_on_postgresql(
    tmp_path, monkeypatch, pg_server, _pg_template
) -> None:
    airflow_db = pg_server.create_database(prefix="airflow")
    hub_db = pg_server.create_database(template=_pg_template)
    monkeypatch.setenv("TONGYUAN_AIRFLOW_DB_URL", pg_server.url(airflow_db))
    monkeypatch.setenv("TONGYUAN_DATABASE_URL", pg_server.url(hub_db))
    try:
        settings, topology, systems = _world()
        assert settings.database_url.startswith("postgresql")
        outcome = _run(settings)
        _check_first_run(settings, topology, systems, outcome)
        assert not (settings.airflow_home / "airflow.db").exists()
        engine = create_engine(pg_server.url(airflow_db))
        try:
            _assert_no_personal_data(engine, runs=1)
        finally:
            engine.dispose()
    finally:
        pg_server.drop_database(airflow_db)
        pg_server.drop_database(hub_db)


def _assert_no_personal_data(engine, *, runs: int) -> None:
    """The runs are in this metadata DB, and its XComs and rendered fields hold no IDs."""
    with engine.connect() as conn:
        states = conn.execute(text("SELECT state FROM dag_run WHERE dag_id = 'item_sync'"))
        assert [s for (s,) in states] == ["success"] * runs
        for table in ("xcom", "rendered_task_instance_fields", "asset_event"):
            dump = " ".join(str(row) for row in conn.execute(text(f"SELECT * FROM {table}")))
            assert dump, table
            assert not [c for c in EIGHTEEN.findall(dump) if _is_citizen_id(c)], table


def _is_citizen_id(candidate: str) -> bool:
    """An 18-digit run that is a valid 身份证号 (an all-digit 机关 USCC is not)."""
    try:
        validate_citizen_id(candidate)
    except InvalidIdentifier:
        return False
    return True
