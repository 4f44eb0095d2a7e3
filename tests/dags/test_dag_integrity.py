"""The DAG folder imports cleanly and item_sync has the shape the design promises.

Loaded with ``DagBag`` in this process (no metadata database needed). Airflow fixes its
configuration at first import, so the bag is loaded with a throwaway AIRFLOW_HOME unless
another test already imported Airflow — DagBag reads the folder it is given either way.
"""

from __future__ import annotations

import ast
from datetime import timedelta

import pytest
from dagbags import load_dagbag

from tongyuan.orchestration.airflow_home import repo_dags_folder
from tongyuan.orchestration.tasks import ENV_TOPOLOGY, ITEM_LIBRARY_URI
from tongyuan.topology import example_path

DAG_FILE = repo_dags_folder() / "item_sync.py"
LEVELS = ("county", "city", "province")


def _bag(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    return load_dagbag(monkeypatch)


@pytest.fixture
def bag(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(ENV_TOPOLOGY, raising=False)
    monkeypatch.delenv("AIRFLOW_VAR_TONGYUAN_TOPOLOGY", raising=False)
    monkeypatch.delenv("TONGYUAN_SYNC_RETRIES", raising=False)
    monkeypatch.delenv("TONGYUAN_SYNC_RETRY_DELAY", raising=False)
    return _bag(monkeypatch)


def test_no_import_errors_and_only_item_sync(bag) -> None:
    assert bag.import_errors == {}
    assert {"item_sync", "case_ingest"} <= set(bag.dag_ids)


def test_item_sync_tasks_levels_bottom_up_then_down(bag) -> None:
    dag = bag.dags["item_sync"]
    expected = {f"{step}_{level}" for step in ("due", "systems", "sync") for level in LEVELS}
    expected |= {"deliver_county", "deliver_city", "push_province", "push_city"}
    expected |= {"library_updated", "all_synced"} | {f"pulled_{level}" for level in LEVELS}
    assert set(dag.task_ids) == expected

    def upstream(task_id: str) -> set[str]:
        return set(dag.get_task(task_id).upstream_task_ids)

    # Every level pulls (bottom up), then every level delivers up, then down from the top.
    assert upstream("sync_county") == {"systems_county"}
    assert upstream("sync_city") == {"systems_city", "sync_county"}
    assert upstream("sync_province") == {"systems_province", "sync_city"}
    # Only the nodes whose pulls all succeeded deliver and push (pulled_<level>).
    syncs = {f"sync_{level}" for level in LEVELS}
    for level in LEVELS:
        assert upstream(f"pulled_{level}") == {f"due_{level}"} | syncs
        assert dag.get_task(f"pulled_{level}").trigger_rule == "all_done"
    assert upstream("deliver_county") == {"pulled_county", "sync_province"}
    assert upstream("deliver_city") == {"pulled_city", "deliver_county"}
    assert upstream("push_province") == {"pulled_province", "deliver_city"}
    assert upstream("push_city") == {"pulled_city", "push_province"}
    steps = {t for t in expected if t.split("_")[0] in ("sync", "deliver", "push")}
    assert upstream("library_updated") == steps
    # One system down stops only its own step: the later stages and the asset run whatever
    # the steps before them ended in; all_synced (all_success) fails the run for it.
    assert upstream("all_synced") == steps
    assert dag.get_task("library_updated").trigger_rule == "all_done"
    assert dag.get_task("all_synced").trigger_rule == "all_success"


def test_node_steps_are_mapped_over_the_run_plan_and_retried_with_backoff(bag) -> None:
    dag = bag.dags["item_sync"]
    for task in dag.tasks:
        step = task.task_id.split("_")[0]
        mapped = step in ("sync", "deliver", "push")
        assert task.is_mapped == mapped, task.task_id
        if mapped:
            # Neither an empty level nor one system that is down stops the run.
            assert task.trigger_rule == "all_done"
            assert task.retries == 3
            assert task.retry_exponential_backoff == 2.0
            assert task.retry_delay == timedelta(minutes=1)
            assert task.max_retry_delay == timedelta(minutes=15)

    # What each stage maps over comes from that level's plan at run time.
    def mapped_over(task_id: str) -> dict[str, str]:
        expand = dag.get_task(task_id)._get_specified_expand_input()
        return {name: arg.operator.task_id for name, arg in expand.value.items()}

    assert mapped_over("sync_city") == {"code": "systems_city"}
    assert mapped_over("deliver_county") == {"code": "pulled_county"}
    assert mapped_over("push_city") == {"code": "pulled_city"}


def test_schedule_is_the_union_of_edge_crons_in_beijing_time(bag) -> None:
    dag = bag.dags["item_sync"]
    timetables = dag.timetable.timetables  # MultipleCronTriggerTimetable
    assert {t.expression for t in timetables} == {"0 1 * * *", "30 1 * * *", "0 2 * * *"}
    assert {str(t.timezone) for t in timetables} == {"Asia/Shanghai"}
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.params["topology"] == str(example_path("shenzhen"))


def test_the_item_library_asset_is_the_last_tasks_outlet(bag) -> None:
    dag = bag.dags["item_sync"]
    (outlet,) = dag.get_task("library_updated").outlets
    assert outlet.uri == ITEM_LIBRARY_URI == "tongyuan://libraries/items"
    others = [t.task_id for t in dag.tasks if t.outlets and t.task_id != "library_updated"]
    assert others == []


def test_the_shape_follows_the_configured_topology(monkeypatch, tmp_path) -> None:
    two_levels = tmp_path / "two.yaml"
    text = example_path("lanzhou").read_text(encoding="utf-8")
    text = text[: text.index('  - code: "620102"')].replace('"0 2 * * *"', '"*/20 * * * *"')
    two_levels.write_text(text, encoding="utf-8")
    monkeypatch.setenv(ENV_TOPOLOGY, str(two_levels))
    dag = _bag(monkeypatch).dags["item_sync"]
    assert set(dag.task_ids) == {
        "due_city", "systems_city", "sync_city", "deliver_city",
        "due_province", "systems_province", "sync_province", "push_province",
        "library_updated", "all_synced", "pulled_city", "pulled_province",
    }  # fmt: skip
    assert {t.expression for t in dag.timetable.timetables} == {"0 3 * * *", "*/20 * * * *"}
    assert dag.params["topology"] == str(two_levels)


def test_task_bodies_are_one_call_into_tongyuan() -> None:
    """House rule: the DAG file schedules; tongyuan decides (library_updated also emits)."""
    tree = ast.parse(DAG_FILE.read_text(encoding="utf-8"))
    bodies = {
        fn.name: fn.body
        for fn in tree.body
        if isinstance(fn, ast.FunctionDef)
        and any(ast.unparse(d).startswith("task") for d in fn.decorator_list)
    }
    assert {"due", "systems", "sync_node", "deliver_up", "push_down"} <= set(bodies)
    for name, body in bodies.items():
        if name == "library_updated":
            continue
        assert len(body) == 1 and isinstance(body[0], ast.Return), name
        call = body[0].value
        assert isinstance(call, ast.Call), name
        assert ast.unparse(call.func).startswith("tasks."), name
