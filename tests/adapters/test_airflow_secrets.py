"""``airflow:CONN_ID`` references resolved from the CLI: a connection kept in the Airflow
metadata database is found (as inside a task), and importing Airflow for it leaves the
hub's logging alone, so ``--json`` prints only JSON."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from adapters.sdk import airflow_secrets
from adapters.sdk.airflow_secrets import logging_kept
from tongyuan.config import ENV_HOME, load_settings
from tongyuan.orchestration import airflow_home
from tongyuan.topology import example_path

DEPT = "114403000040578006"  # the Shenzhen example's department with a SQL item system
PASSWORD = "s3cret-Pw9"


def _without_airflow(environ: dict[str, str]) -> dict[str, str]:
    """The environment of a shell where only the hub is configured (TONGYUAN_*)."""
    return {k: v for k, v in environ.items() if not k.startswith("AIRFLOW")}


@pytest.mark.slow
def test_sync_items_reads_a_connection_from_the_metadata_database_and_prints_only_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The operator's repair of a failed step: `airflow connections add`, then `tongyuan
    sync items --node CODE --json` in a shell that names no Airflow. The connection is
    found in the hub's Airflow (here it points at a closed port, so the pull fails on
    connecting, not on "connection not found"), and stdout holds the JSON alone though
    the failure is logged with its traceback."""
    settings = load_settings()
    settings.ensure_dirs()
    hub_env = _without_airflow(dict(os.environ))
    airflow_env = {**hub_env, **airflow_home(settings).environ()}
    url = f"postgresql://dept:{PASSWORD}@127.0.0.1:1/items"
    for argv in (
        [sys.executable, "-m", "tongyuan.orchestration", "migrate"],
        [sys.executable, "-m", "airflow", "connections", "add", "dept_scjgj", "--conn-uri", url],
    ):
        subprocess.run(argv, env=airflow_env, check=True, capture_output=True)

    topology = tmp_path / "topology.yaml"
    shipped = example_path("shenzhen")
    text = shipped.read_text(encoding="utf-8")
    assert "url: env:TONGYUAN_DEPT_440300_SCJGJ_URL" in text
    topology.write_text(
        text.replace("url: env:TONGYUAN_DEPT_440300_SCJGJ_URL", "url: airflow:dept_scjgj"),
        encoding="utf-8",
    )
    shutil.copy(shipped.parent / "dept-items-mapping.yaml", tmp_path)
    subprocess.run(
        [sys.executable, "-m", "tongyuan.cli.app", "db", "upgrade"],
        env=hub_env, check=True, capture_output=True,
    )  # fmt: skip

    done = subprocess.run(
        [sys.executable, "-m", "tongyuan.cli.app", "sync", "items", "--node", DEPT,
         "-t", str(topology), "--json"],
        env=hub_env, capture_output=True, text=True,
    )  # fmt: skip

    report = json.loads(done.stdout)  # nothing but the JSON
    assert done.returncode == 1, done.stderr
    (step,) = report["steps"]
    assert step["status"] == "failed"
    assert "not found" not in step["error"], step["error"]
    assert "OperationalError" in step["error"], step["error"]
    assert PASSWORD not in done.stdout + done.stderr
    log = (Path(hub_env[ENV_HOME]) / "logs" / "tongyuan.log").read_text(encoding="utf-8")
    assert f"pull node:{DEPT}/items failed" in log
    assert PASSWORD not in log


@pytest.mark.slow
def test_a_connection_missing_everywhere_names_where_it_was_looked_for(
    tmp_path: Path,
) -> None:
    settings = load_settings()
    settings.ensure_dirs()
    hub_env = _without_airflow(dict(os.environ))
    airflow_env = {**hub_env, **airflow_home(settings).environ()}
    subprocess.run(
        [sys.executable, "-m", "tongyuan.orchestration", "migrate"],
        env=airflow_env, check=True, capture_output=True,
    )  # fmt: skip
    script = (
        "from tongyuan.cli.common import settings_and_logging\n"
        "from adapters.sdk.config import resolve_secret\n"
        "settings_and_logging()\n"
        "try:\n"
        "    resolve_secret('airflow:dept_nowhere')\n"
        "except Exception as exc:\n"
        "    print(type(exc).__name__ + ': ' + str(exc))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=hub_env, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith("AdapterError: Airflow connection 'dept_nowhere' not found")
    assert "AIRFLOW_CONN_DEPT_NOWHERE" in done.stdout
    assert str(settings.airflow_home / "airflow.db") in done.stdout


def test_logging_kept_undoes_what_an_import_does_to_logging() -> None:
    root, hub = logging.getLogger(), logging.getLogger("tongyuan.kept")
    before = (root.level, list(root.handlers), hub.propagate, hub.disabled)
    showwarning = warnings.showwarning
    with logging_kept():
        root.addHandler(logging.StreamHandler(sys.stdout))  # what Airflow's import does
        root.setLevel(logging.DEBUG)
        logging.captureWarnings(True)
        hub.disabled, hub.propagate = True, False
        logging.getLogger("tongyuan.kept.new").addHandler(logging.NullHandler())
    assert (root.level, list(root.handlers), hub.propagate, hub.disabled) == before
    assert warnings.showwarning is showwarning
    assert logging.getLogger("tongyuan.kept.new").handlers  # made inside: kept as made


HUB_AIRFLOW = {
    "AIRFLOW_HOME": "/hub/airflow",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "sqlite:////hub/airflow/airflow.db",
}


@pytest.mark.parametrize(
    "shell",
    [
        {"AIRFLOW_HOME": "/srv/airflow"},
        {"AIRFLOW_CONFIG": "/etc/airflow/airflow.cfg"},
        {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": "postgresql://airflow@db/airflow"},
        {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": "cat /run/secrets/airflow-db"},
        {"AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET": "airflow/metadata-db"},
        {},  # names none: the hub's own Airflow is used
    ],
)
def test_the_hub_s_airflow_is_used_only_when_the_shell_names_none(
    monkeypatch: pytest.MonkeyPatch, shell: dict[str, str]
) -> None:
    """A shell naming its Airflow by its configuration file or a _CMD/_SECRET metadata
    database was taken for one naming none: the hub's plain SQL_ALCHEMY_CONN then beat
    them, and connections were looked up in the hub's SQLite database."""
    for name in [*os.environ, *HUB_AIRFLOW]:
        if name.startswith("AIRFLOW"):
            monkeypatch.delenv(name, raising=False)
    for name, value in shell.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delitem(sys.modules, "airflow", raising=False)  # not imported yet
    monkeypatch.setattr(airflow_secrets, "_default_environment", lambda: HUB_AIRFLOW)
    airflow_secrets._prepare_environment()
    applied = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW")}
    assert applied == (shell or HUB_AIRFLOW)
