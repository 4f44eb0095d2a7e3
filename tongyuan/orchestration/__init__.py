"""Orchestration: the embedded Airflow (home, environment, metadata DB) and the DAG runner.

Nothing here imports Airflow at import time: Airflow fixes its configuration when first
imported, so the environment must be decided before that (see ``airflow_home``).
"""

from tongyuan.orchestration.airflow_home import (
    ENV_AIRFLOW_DB_URL,
    AirflowConfigError,
    AirflowHome,
    DagBundle,
    activate,
    airflow_home,
    migrate,
)
from tongyuan.orchestration.runner import (
    DagRunError,
    DagRunFailed,
    DagRunOutcome,
    TaskOutcome,
    run_dag,
    run_dag_here,
)

__all__ = [
    "ENV_AIRFLOW_DB_URL",
    "AirflowConfigError",
    "AirflowHome",
    "DagBundle",
    "DagRunError",
    "DagRunFailed",
    "DagRunOutcome",
    "TaskOutcome",
    "activate",
    "airflow_home",
    "migrate",
    "run_dag",
    "run_dag_here",
]
