"""Planning an item_sync run, as plain Python: which nodes each run syncs, stage names,
the schedule union, totals, and which topology file is used."""

from __future__ import annotations

import enum
import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from tongyuan.orchestration import tasks
from tongyuan.topology import example_path, load_topology

BEIJING = timezone(timedelta(hours=8))
COUNTIES = {"440304", "440305", "440306", "440307"}


@pytest.fixture
def shenzhen():
    return load_topology(example_path("shenzhen"))


def test_stages_are_the_levels_bottom_up_named_after_their_nodes(shenzhen) -> None:
    stages = tasks.stages(shenzhen)
    assert [s.name for s in stages] == ["county", "city", "province"]
    assert set(stages[0].codes) == COUNTIES
    assert stages[1].codes == ("440300",) and stages[2].codes == ("440000",)
    assert [(s.delivers, s.pushes) for s in stages] == [(True, False), (True, True), (False, True)]


def test_the_dag_schedule_is_the_union_of_the_edge_crons(shenzhen) -> None:
    assert tasks.schedules(shenzhen) == ["0 2 * * *", "30 1 * * *", "0 1 * * *"]


@pytest.mark.parametrize(
    ("beijing_time", "expected"),
    [
        ((1, 0), COUNTIES),  # 福田/南山/宝安/龙岗 → 深圳市
        ((1, 30), {"440300"}),  # 深圳市 → 广东省
        ((2, 0), {"440000"}),  # the province syncs
        ((3, 0), set()),
    ],
)
def test_a_scheduled_run_syncs_exactly_the_edges_due_then(shenzhen, beijing_time, expected):
    hour, minute = beijing_time
    at = datetime(2026, 3, 2, hour, minute, tzinfo=BEIJING).astimezone(UTC)  # as Airflow has it
    assert tasks.due_codes(shenzhen, at=at) == expected


def test_manual_runs_sync_everything_or_the_nodes_named(shenzhen) -> None:
    assert tasks.due_codes(shenzhen, at=None) == set(shenzhen.nodes)
    assert tasks.due_codes(shenzhen, at=None, nodes=["440305"]) == {"440305"}
    with pytest.raises(tasks.PlanError, match=r"not in topology 'shenzhen': 110000"):
        tasks.due_codes(shenzhen, at=None, nodes=["110000"])


def test_due_task_reads_the_run_type(shenzhen) -> None:
    path = str(shenzhen.path or example_path("shenzhen"))
    one_am = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 01:00 in Beijing
    assert set(tasks.due(path, 0, run_type="scheduled", logical_date=one_am)) == COUNTIES
    assert tasks.due(path, 1, run_type="scheduled", logical_date=one_am) == []
    # A manual run at the same instant ignores the clock.
    assert tasks.due(path, 1, run_type="manual", logical_date=one_am) == ["440300"]
    assert tasks.due(path, 0, run_type="manual", logical_date=None, nodes=["440306"]) == ["440306"]
    with pytest.raises(tasks.PlanError, match="has 3 levels"):
        tasks.due(path, 3, run_type="manual", logical_date=None)


def test_run_types_are_read_from_the_task_sdk_enum_too(shenzhen) -> None:
    class DagRunType(enum.Enum):  # the Task SDK's: str() gives "DagRunType.SCHEDULED"
        SCHEDULED = "scheduled"
        MANUAL = "manual"

    assert str(DagRunType.SCHEDULED) == "DagRunType.SCHEDULED"
    assert tasks.run_type_name(DagRunType.SCHEDULED) == "scheduled"
    assert tasks.run_type_name("DagRunType.BACKFILL") == "backfill"
    path = str(example_path("shenzhen"))
    three_am = datetime(2026, 3, 1, 19, 0, tzinfo=UTC)  # 03:00 in Beijing: nothing due
    assert tasks.due(path, 0, run_type=DagRunType.SCHEDULED, logical_date=three_am) == []
    assert len(tasks.due(path, 0, run_type=DagRunType.MANUAL, logical_date=three_am)) == 4


def test_a_stage_syncs_its_department_systems_before_its_nodes(shenzhen) -> None:
    path = str(example_path("shenzhen"))
    department = shenzhen.departments[0]
    assert department.node == "440300"
    assert tasks.systems(path, ["440300"]) == [department.code, "440300"]
    assert tasks.systems(path, ["440305"]) == ["440305"]
    assert tasks.systems(path, []) == []


def test_summary_adds_counts_per_step_kind_and_spots_library_writes() -> None:
    summary = tasks.summarise(
        {
            "sync_county": [
                {"batch_id": "b1", "counts": {"read": 5, "added": 2, "unchanged": 3}},
                {"batch_id": "b2", "counts": {"read": 4, "added": 0, "unchanged": 4}},
            ],
            "deliver_county": [{"batch_id": "b3", "counts": {"delivered": 7}}],
            "push_city": [],  # a skipped stage
            "sync_city": [None],
        }
    )
    assert summary == {
        "batches": 3,
        "counts": {
            "sync": {"read": 9, "added": 2, "unchanged": 7},
            "deliver": {"delivered": 7},
            "push": {},
        },
    }
    assert tasks.library_changed(summary)
    unchanged = tasks.summarise({"sync_county": [{"batch_id": "b", "counts": {"read": 3}}]})
    assert not tasks.library_changed(unchanged)


def test_topology_choice_run_then_variable_then_environment_then_shipped(tmp_path) -> None:
    env = {tasks.ENV_TOPOLOGY: str(tmp_path / "env.yaml")}
    assert tasks.topology_path("run.yaml", variable="var.yaml", environ=env).name == "run.yaml"
    assert tasks.topology_path(None, variable="var.yaml", environ=env).name == "var.yaml"
    assert tasks.topology_path(None, variable="  ", environ=env) == tmp_path / "env.yaml"
    assert tasks.topology_path(None, environ={}) == example_path("shenzhen")


def test_a_failed_step_raises_for_airflow_to_retry_with_ids_masked() -> None:
    class Failed:
        status, batch_id, counts = "failed", None, {}
        error = "source refused row of 440305199001011234"

    with pytest.raises(tasks.StepFailed) as caught:
        tasks._step("sync 440305", Failed())
    assert "440305199001011234" not in str(caught.value) and "sync 440305 failed" in str(
        caught.value
    )

    class Done:
        status, batch_id, counts = "committed", "b-1", {"read": 3}

    assert tasks._step("sync", Done()) == {"batch_id": "b-1", "counts": {"read": 3}}


def test_a_delivery_with_a_failed_edge_fails_its_task() -> None:
    """A delivery has no status; it names its failed edges in ``error`` after delivering to
    the others, and the task must still fail (retry, show red)."""

    class Delivered:
        batch_id, counts = "b-2", {"delivered": 3, "failed": 1}
        error = "440300: PermissionError: outbox not writable"

    with pytest.raises(tasks.StepFailed, match="deliver 440305 failed: 440300"):
        tasks._step("deliver 440305", Delivered())


def test_only_nodes_whose_pulls_all_succeeded_deliver(shenzhen) -> None:
    """The city's department system failed to pull (no result), and so did 440306: neither
    the city nor 440306 delivers or pushes; the others do, as from the CLI."""
    path = str(example_path("shenzhen"))
    (dept,) = [d.code for d in shenzhen.departments_of("440300")]
    results = {
        "sync_county": [{"code": c, "counts": {}} for c in sorted(COUNTIES - {"440306"})],
        "sync_city": [None, {"code": "440300", "counts": {}}],
        "sync_province": [{"code": "440000", "counts": {}}],
    }
    assert tasks.pulled(path, sorted(COUNTIES), results) == sorted(COUNTIES - {"440306"})
    assert tasks.pulled(path, ["440300"], results) == []
    results["sync_city"][0] = {"code": dept, "counts": {}}
    assert tasks.pulled(path, ["440300"], results) == ["440300"]
    assert tasks.pulled(path, ["440000"], results) == ["440000"]


def test_topologies_are_loaded_once_per_file_version(tmp_path: Path) -> None:
    copy = tmp_path / "lz.yaml"
    copy.write_text(example_path("lanzhou").read_text(encoding="utf-8"), encoding="utf-8")
    first = tasks.load(copy)
    assert tasks.load(copy) is first
    copy.write_text(copy.read_text(encoding="utf-8").replace("0 3 * * *", "0 4 * * *"))
    stat = copy.stat()  # a coarse file-system clock must not hide the edit
    os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert tasks.load(copy).root.schedule == "0 4 * * *"


def test_retry_policy_backs_off_and_interactive_runs_can_shorten_it() -> None:
    policy = tasks.retry_policy({})
    assert policy == {
        "retries": 3,
        "retry_delay": timedelta(minutes=1),
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": timedelta(minutes=15),
    }
    quick = tasks.retry_policy({tasks.ENV_RETRIES: "1", tasks.ENV_RETRY_DELAY: "2"})
    assert quick["retries"] == 1 and quick["retry_delay"] == timedelta(seconds=2)
    with pytest.raises(tasks.PlanError, match="TONGYUAN_SYNC_RETRIES must be a whole number"):
        tasks.retry_policy({tasks.ENV_RETRIES: "-1"})
