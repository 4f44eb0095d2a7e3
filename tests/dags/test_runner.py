"""The Airflow home and the dag.test() runner, on test-only DAGs in their own bundle.

``dag.test()`` does not raise when a task fails; these tests show that ``run_dag`` does,
naming the failed task and its exception, and that the metadata database is migrated
once and then found current.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tongyuan.config import load_settings
from tongyuan.orchestration import (
    AirflowConfigError,
    DagBundle,
    DagRunFailed,
    airflow_home,
    run_dag,
)
from tongyuan.orchestration.airflow_home import shell_exports

PROBE = DagBundle("probe", Path(__file__).resolve().parent / "bundle")


@pytest.fixture(scope="module")
def probe_settings(tmp_path_factory: pytest.TempPathFactory):
    settings = load_settings({"TONGYUAN_HOME": str(tmp_path_factory.mktemp("probe-home"))})
    settings.ensure_dirs()
    return settings


def test_environment_points_airflow_at_the_hub_home(settings) -> None:
    home = airflow_home(settings, environ={}, extra_bundles=[PROBE])
    env = home.environ()
    assert env["AIRFLOW_HOME"] == str(settings.home / "airflow")
    assert (
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        == f"sqlite:///{settings.home}/airflow/airflow.db"
    )
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "4"
    bundles = json.loads(env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    assert [b["name"] for b in bundles] == ["dags-folder", "probe"]
    assert Path(bundles[0]["kwargs"]["path"]) == Path(env["AIRFLOW__CORE__DAGS_FOLDER"])
    assert (Path(env["AIRFLOW__CORE__DAGS_FOLDER"]) / "item_sync.py").is_file()
    assert env["TONGYUAN_HOME"] == str(settings.home)
    assert "TONGYUAN_PII_KEY" not in env and "TONGYUAN_PII_KEY" not in shell_exports(home)


def test_postgres_metadata_url_and_bad_settings_are_explained(settings) -> None:
    home = airflow_home(
        settings,
        environ={
            "TONGYUAN_AIRFLOW_DB_URL": "postgresql://af@127.0.0.1:5432/airflow",
            "TONGYUAN_AIRFLOW_PARALLELISM": "2",
        },
    )
    assert home.db_url == "postgresql+psycopg://af@127.0.0.1:5432/airflow"
    assert home.environ()["AIRFLOW__CORE__PARALLELISM"] == "2"
    with pytest.raises(AirflowConfigError, match=r"TONGYUAN_AIRFLOW_DB_URL.*'oracle'"):
        airflow_home(settings, environ={"TONGYUAN_AIRFLOW_DB_URL": "oracle://x"})
    with pytest.raises(AirflowConfigError, match="TONGYUAN_AIRFLOW_PARALLELISM must be a whole"):
        airflow_home(settings, environ={"TONGYUAN_AIRFLOW_PARALLELISM": "many"})
    with pytest.raises(AirflowConfigError, match="does not exist"):
        airflow_home(settings, environ={"TONGYUAN_DAGS_FOLDER": str(settings.home / "nope")})
    with pytest.raises(AirflowConfigError, match="used twice"):
        airflow_home(settings, environ={}, extra_bundles=[PROBE, PROBE])


@pytest.mark.slow
def test_a_failed_task_raises_naming_it_and_the_others_still_report(
    probe_settings, monkeypatch
) -> None:
    """One run covers both sides: mapped instances 0 and 2 succeed, 1 fails."""
    monkeypatch.setenv("PROBE_FAIL_AT", "2")
    with pytest.raises(DagRunFailed) as caught:
        run_dag(probe_settings, "runner_probe", extra_bundles=(PROBE,))
    outcome = caught.value.outcome
    assert outcome.state == "failed" and not outcome.succeeded
    assert [t.label for t in outcome.failed_tasks] == ["square[1] failed after 1 tries"]
    message = str(caught.value)
    assert "square[1] failed" in message and "ValueError: probe asked to fail at 2" in message
    assert f"full log: {outcome.log_file}" in message and Path(outcome.log_file).is_file()

    # A failed district does not stop its siblings; their XComs are reported.
    assert [t.map_index for t in outcome.task("square")] == [0, 1, 2]
    assert [t.state for t in outcome.task("square")] == ["success", "failed", "success"]
    assert outcome.results("square") == [
        {"batch_id": "probe-1", "counts": {"squared": 1}},
        None,
        {"batch_id": "probe-3", "counts": {"squared": 9}},
    ]
    assert outcome.results("numbers") == [[1, 2, 3]]
    stamp = json.loads((probe_settings.airflow_home / "metadata-revision.json").read_text())
    assert stamp["revision"]


def test_shell_exports_point_a_real_airflow_at_the_same_home(settings) -> None:
    """`python -m tongyuan.orchestration env` is how `airflow standalone` finds the hub."""
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "TONGYUAN_HOME": str(settings.home)}
    done = subprocess.run(
        [sys.executable, "-m", "tongyuan.orchestration", "env"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    lines = dict(
        line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines() if line
    )
    assert lines["AIRFLOW_HOME"] == str(settings.home / "airflow")
    assert lines["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert lines["TONGYUAN_HOME"] == str(settings.home)
    # Importing the package never loads Airflow (which would fix its configuration).
    probe = "import sys, tongyuan.orchestration.runner; print('airflow' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                            text=True, check=True)  # fmt: skip
    assert loaded.stdout.strip() == "False"
