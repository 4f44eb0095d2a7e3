"""Loading the repository's DAG files in a test process (shared by the DAG tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tongyuan.config import load_settings
from tongyuan.orchestration import airflow_home
from tongyuan.orchestration.airflow_home import repo_dags_folder


def load_dagbag(monkeypatch: pytest.MonkeyPatch, dag_folder: Path | None = None):  # type: ignore[no-untyped-def]
    """A DagBag of ``dag_folder`` (default: the whole dags/ folder), parsed without a DB.

    Airflow is configured once per process with a throwaway home, without leaving its
    variables behind for the tests that follow.
    """
    if "airflow.settings" not in sys.modules:
        home = airflow_home(load_settings())
        home.logs_dir.mkdir(parents=True, exist_ok=True)
        with monkeypatch.context() as patch:
            for name, value in home.environ().items():
                patch.setenv(name, value)
            import airflow.settings  # noqa: F401
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(dag_folder or repo_dags_folder()))
