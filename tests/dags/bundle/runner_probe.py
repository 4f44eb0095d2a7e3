"""Test-only DAGs for the runner: one that succeeds with mapped tasks, one that fails.

They live in their own bundle because ``dag.test()`` only runs DAGs found in a
configured bundle. ``PROBE_FAIL_AT`` makes the mapped task fail for one value, so a test
can watch a failure surface through ``run_dag``.
"""

from __future__ import annotations

import os

from airflow.sdk import dag, task


@dag(dag_id="runner_probe", schedule=None, catchup=False, default_args={"retries": 0})
def runner_probe() -> None:
    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @task
    def square(n: int) -> dict[str, object]:
        if str(n) == os.environ.get("PROBE_FAIL_AT"):
            raise ValueError(f"probe asked to fail at {n}")
        return {"batch_id": f"probe-{n}", "counts": {"squared": n * n}}

    square.expand(n=numbers())


runner_probe()
