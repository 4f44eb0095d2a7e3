"""case_ingest: the DAG imports with the promised shape, and a real dag.test() run fills
the libraries from a department's drop and announces the case and material assets."""

from __future__ import annotations

import ast
import hashlib
import os
from pathlib import Path

import pytest
from dagbags import load_dagbag
from item_library import publish_items
from sqlalchemy import create_engine, func, select, text
from std_factories import PERSON, make_case, make_item, make_material

from standards.formats import write_records
from standards.privacy import contains_citizen_id
from tongyuan.config import load_settings
from tongyuan.db import make_engine, make_session_factory, upgrade
from tongyuan.libraries.batches import Batch
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.materials import MaterialRow
from tongyuan.libraries.quarantine import QuarantineEntry
from tongyuan.orchestration import run_dag
from tongyuan.orchestration.airflow_home import repo_dags_folder
from tongyuan.orchestration.tasks import (
    CASE_LIBRARY_URI,
    DEFAULT_CASE_SCHEDULE,
    ENV_TOPOLOGY,
    ITEM_LIBRARY_URI,
    MATERIAL_LIBRARY_URI,
    case_departments_due,
)
from tongyuan.topology import example_path, load_topology

SHENZHEN = example_path("shenzhen")
DEPT = "114403000040578006"  # 深圳市市场监督管理局 in the Shenzhen example
DAG_FILE = repo_dags_folder() / "case_ingest.py"
RETRIES = {"TONGYUAN_SYNC_RETRIES": "1", "TONGYUAN_SYNC_RETRY_DELAY": "2"}
PDF = b"%PDF-1.4\n%%EOF\n"


def _bag(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv(ENV_TOPOLOGY, raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_TONGYUAN_TOPOLOGY", raising=False)
    return load_dagbag(monkeypatch)


def test_the_dag_imports_mapped_over_departments_with_both_asset_outlets(monkeypatch) -> None:
    bag = _bag(monkeypatch)
    assert bag.import_errors == {}
    dag = bag.dags["case_ingest"]
    assert set(dag.task_ids) == {
        "departments", "ingest", "case_library_updated", "material_library_updated",
        "all_ingested",
    }  # fmt: skip
    # One department failing must not keep the others' writes from being announced.
    for task_id in ("case_library_updated", "material_library_updated"):
        assert dag.get_task(task_id).trigger_rule == "all_done"
    assert dag.get_task("all_ingested").trigger_rule == "all_success"
    assert dag.get_task("ingest").is_mapped and dag.get_task("ingest").retries == 3
    assert set(dag.get_task("ingest").upstream_task_ids) == {"departments"}
    (cases,) = dag.get_task("case_library_updated").outlets
    (materials,) = dag.get_task("material_library_updated").outlets
    assert (cases.uri, materials.uri) == (CASE_LIBRARY_URI, MATERIAL_LIBRARY_URI)
    # Scheduled by the departments' crons (Beijing time) and by the item library asset.
    timetable = dag.timetable
    assert {t.expression for t in timetable.timetable.timetables} == {"*/30 * * * *"}
    assert timetable.asset_condition.uri == ITEM_LIBRARY_URI
    assert dag.max_active_runs == 1


def test_task_bodies_are_one_call_into_tongyuan() -> None:
    tree = ast.parse(DAG_FILE.read_text(encoding="utf-8"))
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef) and fn.name in ("departments", "ingest"):
            assert len(fn.body) == 1 and isinstance(fn.body[0], ast.Return), fn.name


def test_which_departments_a_run_takes() -> None:
    from datetime import UTC, datetime

    topology = str(SHENZHEN)
    assert case_departments_due(topology, run_type="manual", logical_date=None) == [DEPT]
    assert case_departments_due(topology, run_type="asset_triggered", logical_date=None) == [DEPT]
    on_the_half_hour = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)  # 09:30 in Beijing
    off = datetime(2026, 3, 2, 1, 31, tzinfo=UTC)
    assert case_departments_due(topology, run_type="scheduled", logical_date=on_the_half_hour)
    assert case_departments_due(topology, run_type="scheduled", logical_date=off) == []
    assert DEFAULT_CASE_SCHEDULE == "*/30 * * * *"
    with pytest.raises(ValueError, match="without a case system"):
        case_departments_due(topology, run_type="manual", logical_date=None, departments=["x"])


def test_a_broken_department_package_leaves_the_dag_and_its_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One department's adapter that does not import must not stop the DAG file from
    parsing (it loads the topology) nor the list its ingest maps over."""
    outbox = tmp_path / "outbox"
    topology = tmp_path / "t.yaml"
    topology.write_text(
        f"""name: t
nodes:
  - code: "440300"
    source: {{adapter: files, config: {{path: "{outbox}", streams: {{items: {{kind: item}}}}}}}}
departments:
  - name: 坏包部门
    code: "{DEPT}"
    node: "440300"
    cases: {{adapter: "no_such_department_module:Cases"}}
    case_schedule: "15 * * * *"
""",
        encoding="utf-8",
    )
    monkeypatch.delenv("AIRFLOW_VAR_TONGYUAN_TOPOLOGY", raising=False)
    monkeypatch.setenv(ENV_TOPOLOGY, str(topology))
    bag = load_dagbag(monkeypatch, DAG_FILE)
    assert bag.import_errors == {}
    timetable = bag.dags["case_ingest"].timetable
    assert {t.expression for t in timetable.timetable.timetables} == {"15 * * * *"}
    due = case_departments_due(str(topology), run_type="manual", logical_date=None)
    assert due == [DEPT]


def _publish_item(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Load the item the factories' cases are handled under."""
    publish_items(settings, tmp_path / "items", [make_item()])


@pytest.mark.slow
def test_a_real_run_fills_the_libraries_and_announces_them(tmp_path: Path) -> None:
    settings = load_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url)
    load_topology(SHENZHEN, home=settings.home)  # the example loads on this home
    _publish_item(settings, tmp_path)
    drop = settings.home / "drops" / DEPT
    (drop / "files").mkdir(parents=True)
    (drop / "files" / "a.pdf").write_bytes(PDF)
    write_records(drop / "materials_001.xml", [make_material(tmp_path, content=PDF)])
    cases = [make_case(serial=None, dept_case_no=f"D-{i}", material_ids=["M1"]) for i in range(4)]
    cases.append(make_case(serial=None, dept_case_no="D-BAD", decided_at=None))
    write_records(drop / "cases_001.xml", cases)

    outcome = run_dag(settings, "case_ingest", conf={"topology": str(SHENZHEN)}, environ=RETRIES)
    assert outcome.succeeded, outcome.errors
    (ingested,) = outcome.task("ingest")
    assert set(ingested.result) == {"batch_ids", "counts"}
    assert ingested.result["counts"]["cases"] == 4
    assert ingested.result["counts"]["materials"] == 1
    assert ingested.result["counts"]["quarantined"] == 1
    events = {e["uri"]: e for e in outcome.asset_events}
    assert set(events) == {CASE_LIBRARY_URI, MATERIAL_LIBRARY_URI}
    assert events[CASE_LIBRARY_URI]["extra"]["counts"]["cases"] == 4

    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as s:
            assert s.scalar(select(func.count()).select_from(CaseRow)) == 4
            assert s.scalar(select(func.count()).select_from(CaseTimeliness)) == 4
            (material,) = s.scalars(select(MaterialRow))
            assert material.sha256 == hashlib.sha256(PDF).hexdigest()
            assert s.scalar(select(func.count()).select_from(QuarantineEntry)) == 1
            kinds = {b.kind for b in s.scalars(select(Batch).where(
                Batch.id.in_(ingested.result["batch_ids"])))}  # fmt: skip
            assert kinds == {"ingest.material", "ingest.case"}
    finally:
        engine.dispose()
    assert (drop / "done" / "cases_001.xml").exists()

    # A second run finds nothing new: no library changed, no asset announced.
    again = run_dag(settings, "case_ingest", conf={"topology": str(SHENZHEN)}, environ=RETRIES)
    assert again.succeeded and again.asset_events == []

    airflow_db = create_engine(f"sqlite:///{settings.airflow_home / 'airflow.db'}")
    with airflow_db.connect() as conn:
        for table in ("xcom", "rendered_task_instance_fields", "asset_event"):
            dump = " ".join(str(r) for r in conn.execute(text(f"SELECT * FROM {table}")))
            assert PERSON not in dump and not contains_citizen_id(dump), table
    airflow_db.dispose()


BROKEN_ADAPTER = """
from adapters.sdk import AdapterConfig, Source, StreamRead, StreamSpec


class _Read(StreamRead):
    def __iter__(self):
        raise ConnectionError("部门办件库暂时不可用")
        yield

    def state(self):
        return {}


class DownSource(Source):
    name = "down"
    Config = AdapterConfig

    def streams(self):
        return [StreamSpec("cases", "case", ("dept_case_no",))]

    def check(self):
        pass

    def read(self, stream, state=None):
        return _Read()
"""
DOWN_DEPT = "91110108551385082Q"


@pytest.mark.slow
def test_one_department_down_still_announces_what_the_others_wrote(tmp_path: Path) -> None:
    """The department whose system is down fails its own ingest and the run; the other
    department's cases are committed, and the case library asset is announced for them."""
    settings = load_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url)
    (tmp_path / "down_dept.py").write_text(BROKEN_ADAPTER, encoding="utf-8")
    topology = tmp_path / "two-departments.yaml"
    topology.write_text(
        SHENZHEN.read_text(encoding="utf-8")
        + f"""
  - name: 停机的部门
    code: "{DOWN_DEPT}"
    node: "440305"
    cases:
      adapter: down_dept:DownSource
      stream: cases
      config: {{}}
""",
        encoding="utf-8",
    )
    # The example's mapping files are named relative to it.
    for mapping in SHENZHEN.parent.glob("*mapping*.yaml"):
        (tmp_path / mapping.name).write_bytes(mapping.read_bytes())
    _publish_item(settings, tmp_path)
    drop = settings.home / "drops" / DEPT
    drop.mkdir(parents=True)
    write_records(drop / "cases_001.xml", [make_case(serial=None, dept_case_no="UP-1")])

    outcome = run_dag(
        settings,
        "case_ingest",
        conf={"topology": str(topology)},
        environ={**RETRIES, "TONGYUAN_SYNC_RETRIES": "0", "PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert not outcome.succeeded
    states = {(t.task_id, t.map_index): t.state for t in outcome.tasks}
    assert sorted(s for (task, _), s in states.items() if task == "ingest") == [
        "failed",
        "success",
    ]
    assert states[("all_ingested", -1)] == "upstream_failed"
    assert states[("case_library_updated", -1)] == "success"
    events = {e["uri"]: e for e in outcome.asset_events}
    assert set(events) == {CASE_LIBRARY_URI}
    assert events[CASE_LIBRARY_URI]["extra"]["counts"]["cases"] == 1
    assert any("部门办件库暂时不可用" in line for line in outcome.errors), outcome.errors


@pytest.mark.slow
def test_the_topology_variable_in_the_metadata_database_is_used_outside_the_processor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`airflow variables set tongyuan_topology …` stores the Variable in the metadata
    database; a run parsed outside the DAG processor (the hub's dag.test() runner, `airflow
    dags test`) must use it, not fall back to the shipped example."""
    import subprocess
    import sys

    from std_factories import AUTHORITY as OTHER_DEPT

    from tongyuan.orchestration import airflow_home

    monkeypatch.delenv(ENV_TOPOLOGY, raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_TONGYUAN_TOPOLOGY", raising=False)
    settings = load_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url)
    topology = tmp_path / "other.yaml"
    topology.write_text(
        f"""\
name: variable-test
nodes:
  - code: "440305"
    source:
      adapter: files
      config:
        path: "{{home}}/systems/440305/outbox"
        streams: {{items: {{kind: item}}}}
        settle_seconds: 0
departments:
  - name: 深圳市南山区市场监督管理局
    code: "{OTHER_DEPT}"
    node: "440305"
    cases:
      adapter: files
      config:
        path: "{{home}}/drops/{OTHER_DEPT}"
        streams: {{cases: {{kind: case}}}}
        settle_seconds: 0
""",
        encoding="utf-8",
    )
    (settings.home / "drops" / OTHER_DEPT).mkdir(parents=True)
    env = {**os.environ, **airflow_home(settings).environ()}
    for argv in (
        [sys.executable, "-m", "tongyuan.orchestration", "migrate"],
        [sys.executable, "-m", "airflow", "variables", "set", "tongyuan_topology", str(topology)],
    ):
        subprocess.run(argv, env=env, check=True, capture_output=True)

    outcome = run_dag(settings, "case_ingest", environ=RETRIES)
    assert outcome.succeeded, outcome.errors
    (chosen,) = outcome.results("departments")
    assert chosen == [OTHER_DEPT] != [DEPT]
