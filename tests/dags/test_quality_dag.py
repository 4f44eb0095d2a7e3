"""The quality DAG: its shape and schedule from the DAG folder, and a real dag.test() run.

The structure is read with ``DagBag`` (no metadata database). The run goes through the
orchestration runner (a child process, Airflow metadata on SQLite) over a small library
loaded through the Loader: the suites' results must be in the quality history, the run
must announce the quality asset, the report must be written, and only the run id and
counts may cross XCom.
"""

from __future__ import annotations

import ast
import base64
from datetime import timedelta

import pytest
from dagbags import load_dagbag
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongyuan.config import load_settings
from tongyuan.db import make_engine, upgrade
from tongyuan.generate.dataset import generate_dataset
from tongyuan.ingest.timeliness import hub_today
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.quality import QualityResult, QualityRun
from tongyuan.loading import Loader
from tongyuan.orchestration import run_dag
from tongyuan.orchestration.airflow_home import repo_dags_folder
from tongyuan.orchestration.tasks import (
    CASE_LIBRARY_URI,
    ITEM_LIBRARY_URI,
    MATERIAL_LIBRARY_URI,
    QUALITY_RUNS_URI,
)

DAG_FILE = repo_dags_folder() / "quality.py"


@pytest.fixture
def dag(monkeypatch: pytest.MonkeyPatch):
    bag = load_dagbag(monkeypatch, DAG_FILE)
    assert bag.import_errors == {}
    return bag.dags["quality"]


def test_refreshes_deadlines_then_runs_the_suites_then_the_report(dag) -> None:
    assert set(dag.task_ids) == {
        "refresh_timeliness", "run_suites", "write_report", "refresh_failed",
    }  # fmt: skip
    assert dag.get_task("run_suites").upstream_task_ids == {"refresh_timeliness"}
    # A failed refresh does not stop the suites, which do not need the calendar; the
    # run still ends failed through refresh_failed, which runs only then.
    assert dag.get_task("run_suites").trigger_rule == "all_done"
    assert dag.get_task("write_report").trigger_rule == "all_success"
    assert dag.get_task("refresh_failed").upstream_task_ids == {"refresh_timeliness"}
    assert dag.get_task("refresh_failed").trigger_rule == "one_failed"
    assert dag.get_task("write_report").upstream_task_ids == {"run_suites"}
    (outlet,) = dag.get_task("run_suites").outlets
    assert outlet.uri == QUALITY_RUNS_URI
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.params["scope"] == "all" and dag.params["suites"] == []


def test_triggered_by_every_library_asset_and_daily(dag) -> None:
    timetable = dag.timetable
    assert timetable.timetable.expression == "0 6 * * *"
    assert str(timetable.timetable.timezone) == "Asia/Shanghai"
    uris = {asset.uri for asset in timetable.asset_condition.objects}
    assert uris == {ITEM_LIBRARY_URI, CASE_LIBRARY_URI, MATERIAL_LIBRARY_URI}
    assert type(timetable.asset_condition).__name__ == "AssetAny"  # any library, not all


def test_task_bodies_are_one_call_into_tongyuan() -> None:
    tree = ast.parse(DAG_FILE.read_text(encoding="utf-8"))
    bodies = {
        fn.name: fn.body
        for fn in tree.body
        if isinstance(fn, ast.FunctionDef)
        and any(ast.unparse(d).startswith("task") for d in fn.decorator_list)
    }
    assert set(bodies) == {"refresh_timeliness", "run_suites", "write_report", "refresh_failed"}
    for name, body in bodies.items():
        assert len(body) == 1 and isinstance(body[0], ast.Return), name
        assert ast.unparse(body[0].value.func).startswith("tasks."), name


def _loaded_hub(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """The hub of this test's TONGYUAN_HOME, with a small generated library loaded."""
    monkeypatch.setenv("TONGYUAN_PII_KEY", base64.b64encode(bytes(range(32))).decode())
    settings = load_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url)
    data = tmp_path / "data"
    generate_dataset(data, seed=3, items=30, cases=60)
    loader = Loader(settings)
    try:
        loader.load([data], relative_to=data)
    finally:
        loader.close()
    return settings


@pytest.mark.slow
def test_a_real_run_stores_the_history_and_writes_the_report(tmp_path, monkeypatch) -> None:
    settings = _loaded_hub(tmp_path, monkeypatch)

    # Yesterday's rows: the run must judge every case again as of its own day.
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(
                CaseTimeliness.__table__.update().values(as_of=hub_today() - timedelta(days=1))
            )
    finally:
        engine.dispose()

    outcome = run_dag(settings, "quality", conf={"suites": ["completeness", "rules"]})

    assert outcome.succeeded, outcome.errors
    (watcher,) = [t for t in outcome.tasks if t.task_id == "refresh_failed"]
    assert watcher.state == "skipped"  # runs only when the refresh failed
    (run_task,) = [t for t in outcome.tasks if t.task_id == "run_suites"]
    assert set(run_task.result) == {"run_id", "status", "counts"}
    (refresh,) = [t for t in outcome.tasks if t.task_id == "refresh_timeliness"]
    assert set(refresh.result) == {"counts"}  # counts only: no case crosses XCom
    assert [e["uri"] for e in outcome.asset_events] == [QUALITY_RUNS_URI]
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            run = session.get(QualityRun, run_task.result["run_id"])
            assert run is not None and run.suite == "completeness,rules"
            suites = set(
                session.scalars(select(QualityResult.suite).where(QualityResult.run_id == run.id))
            )
            assert suites == {"completeness", "rules"}
            stored = session.scalar(select(func.count()).select_from(CaseRow))
            assert stored and refresh.result["counts"]["checked"] == stored
            as_of = set(session.scalars(select(CaseTimeliness.as_of)))
            assert as_of == {hub_today()}  # every case judged as of the run's day
    finally:
        engine.dispose()
    assert (settings.reports_dir / "gx" / "index.html").is_file()
    assert (settings.reports_dir / "index.html").is_file()


@pytest.mark.slow
def test_a_failed_refresh_still_runs_the_suites_and_the_report_and_fails_the_run(
    tmp_path, monkeypatch
) -> None:
    """The suites do not need the calendar: a refresh that cannot run (here a calendar
    file that cannot be read) must not cost the day's quality run and report, and the
    run must still end failed, naming the refresh."""
    settings = _loaded_hub(tmp_path, monkeypatch)
    monkeypatch.setenv("TONGYUAN_CALENDAR_FILE", str(tmp_path / "no-such-calendar.yaml"))

    outcome = run_dag(settings, "quality", conf={"suites": ["completeness"]}, check=False)

    states = {t.task_id: t.state for t in outcome.tasks}
    assert states == {
        "refresh_timeliness": "failed",
        "run_suites": "success",
        "write_report": "success",
        "refresh_failed": "failed",
    }
    assert outcome.state == "failed"
    assert "no-such-calendar.yaml" in " ".join(outcome.errors)
    assert [e["uri"] for e in outcome.asset_events] == [QUALITY_RUNS_URI]
    assert (settings.reports_dir / "index.html").is_file()
