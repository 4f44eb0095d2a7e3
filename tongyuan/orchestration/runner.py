"""Run a DAG through Airflow itself with ``dag.test()``, and say plainly how it went.

``dag.test()`` executes a real DagRun — scheduling loop, mapping, retries, XCom, asset
events — without a scheduler or workers, which is what the demo and the tests want. Two
things about it shape this module: it does not raise when a task fails (the returned
DagRun's state is the verdict), and Airflow binds its configuration at first import. So
:func:`run_dag` runs it in a child process built from the hub's :class:`AirflowHome`
(fresh configuration, Airflow's chatter in a log file, nothing left behind in the
caller), and :func:`run_dag_here` runs it in the current process for callers that
activated the home themselves.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from standards.privacy import mask_text
from tongyuan.config import Settings
from tongyuan.orchestration.airflow_home import (
    AirflowConfigError,
    AirflowHome,
    DagBundle,
    activate,
    airflow_home,
    migrate,
)

SUCCESS = "success"
# Lines worth quoting from a failed run's log: the exceptions the tasks raised.
_ERROR_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception|Failed|Unknown)\b.*)$")


class DagRunError(RuntimeError):
    """The DAG could not be run at all (not found, import errors, the runner crashed)."""


class DagRunFailed(RuntimeError):
    """The DAG ran and its DagRun did not succeed; ``outcome`` says which tasks failed."""

    def __init__(self, outcome: DagRunOutcome) -> None:
        self.outcome = outcome
        failed = ", ".join(t.label for t in outcome.failed_tasks) or "no task failed"
        lines = [f"DAG {outcome.dag_id} run {outcome.run_id} ended {outcome.state}: {failed}"]
        lines += [f"  {err}" for err in outcome.errors]
        if outcome.log_file:
            lines.append(f"  full log: {outcome.log_file}")
        super().__init__("\n".join(lines))


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """One task instance of the run; ``result`` is its XCom return value (ids and counts)."""

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    result: Any = None

    @property
    def label(self) -> str:
        where = f"[{self.map_index}]" if self.map_index >= 0 else ""
        return f"{self.task_id}{where} {self.state} after {self.try_number} tries"


@dataclass(frozen=True, slots=True)
class DagRunOutcome:
    """What one DagRun did, detached from Airflow's ORM so it can cross a process boundary."""

    dag_id: str
    run_id: str
    state: str
    tasks: list[TaskOutcome]
    # Asset events the run emitted: {"uri", "task_id", "extra"} (counts only, by design).
    asset_events: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    log_file: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.state == SUCCESS

    @property
    def failed_tasks(self) -> list[TaskOutcome]:
        return [t for t in self.tasks if t.state in ("failed", "upstream_failed")]

    def task(self, task_id: str) -> list[TaskOutcome]:
        """Every instance of one task, mapped ones in map-index order."""
        return sorted((t for t in self.tasks if t.task_id == task_id), key=lambda t: t.map_index)

    def results(self, task_id: str) -> list[Any]:
        return [t.result for t in self.task(task_id)]

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=str)

    @classmethod
    def from_json(cls, text: str) -> DagRunOutcome:
        raw = json.loads(text)
        raw["tasks"] = [TaskOutcome(**t) for t in raw["tasks"]]
        return cls(**raw)


def run_dag(
    settings: Settings,
    dag_id: str,
    *,
    conf: Mapping[str, Any] | None = None,
    home: AirflowHome | None = None,
    extra_bundles: tuple[DagBundle, ...] = (),
    check: bool = True,
    timeout: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> DagRunOutcome:
    """Run ``dag_id`` once with ``dag.test()`` in a child process; migrate first if needed.

    Airflow's own output goes to ``logs/airflow/<dag_id>/<time>.log`` under the data
    directory; ``environ`` adds variables for the child (e.g. a shorter retry policy).
    With ``check`` (the default) a run that did not succeed raises :class:`DagRunFailed`,
    whose message names the failed tasks and their exceptions.
    """
    if home is None:
        home = airflow_home(settings, extra_bundles=extra_bundles)
    elif extra_bundles:
        home = home.with_bundles(*extra_bundles)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    log_file = settings.logs_dir / "airflow" / dag_id / f"{stamp}.log"
    log_file.parent.mkdir(parents=True, exist_ok=True)
    result_file = log_file.with_suffix(".json")
    argv = [sys.executable, "-m", "tongyuan.orchestration", "run", dag_id,
            "--result", str(result_file)]  # fmt: skip
    for bundle in home.bundles[1:]:
        argv += ["--bundle", f"{bundle.name}={bundle.path}"]
    if conf:
        argv += ["--conf", json.dumps(dict(conf), ensure_ascii=False)]
    env = {**os.environ, **(environ or {}), **home.environ()}
    if settings.pii_key_b64 is not None:
        env["TONGYUAN_PII_KEY"] = settings.pii_key_b64
    with log_file.open("wb") as out:
        try:
            proc = subprocess.run(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            raise DagRunError(
                f"DAG {dag_id} did not finish within {timeout:g} s; log: {log_file}"
            ) from None
    if not result_file.exists():
        tail = _log_tail(log_file)
        raise DagRunError(
            f"the Airflow runner for {dag_id} exited with {proc.returncode} before reporting a "
            f"result; log: {log_file}\n{tail}"
        )
    outcome = DagRunOutcome.from_json(result_file.read_text(encoding="utf-8"))
    result_file.unlink()
    errors = _error_lines(log_file) if not outcome.succeeded else []
    outcome = replace(outcome, errors=errors, log_file=str(log_file))
    if check and not outcome.succeeded:
        raise DagRunFailed(outcome)
    return outcome


def run_dag_here(
    home: AirflowHome, dag_id: str, *, conf: Mapping[str, Any] | None = None
) -> DagRunOutcome:
    """Run ``dag_id`` with ``dag.test()`` in this process (activating and migrating ``home``).

    Never raises for a failed run: the caller reads ``outcome.state``.
    """
    activate(home)
    migrate(home)
    dag = load_dag(home, dag_id)
    dag_run = dag.test(run_conf=dict(conf) if conf else None)
    return _outcome_of(dag_id, dag_run.run_id, str(dag_run.state))


def load_dag(home: AirflowHome, dag_id: str) -> Any:
    """The DAG object from whichever bundle of ``home`` defines it, or a clear error."""
    from airflow.dag_processing.dagbag import BundleDagBag

    problems: list[str] = []
    for bundle in home.bundles:
        bag = BundleDagBag(dag_folder=bundle.path, bundle_path=bundle.path, bundle_name=bundle.name)
        dag = bag.dags.get(dag_id)
        if dag is not None:
            return dag
        problems += [
            f"{bundle.name}/{name}: {mask_text(err.strip().splitlines()[-1])}"
            for name, err in bag.import_errors.items()
        ]
    where = ", ".join(str(b.path) for b in home.bundles)
    detail = "".join(f"\n  {p}" for p in problems)
    raise DagRunError(f"no DAG {dag_id!r} in {where}{detail}")


def _outcome_of(dag_id: str, run_id: str, state: str) -> DagRunOutcome:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        values = {
            (task_id, map_index): value
            for task_id, map_index, value in session.execute(
                select(XComModel.task_id, XComModel.map_index, XComModel.value).where(
                    XComModel.dag_id == dag_id,
                    XComModel.run_id == run_id,
                    XComModel.key == "return_value",
                )
            )
        }
        tasks = [
            TaskOutcome(
                task_id=ti.task_id,
                map_index=ti.map_index,
                state=None if ti.state is None else str(ti.state),
                try_number=ti.try_number,
                result=_decoded(values.get((ti.task_id, ti.map_index))),
            )
            for ti in session.scalars(
                select(TaskInstance).where(
                    TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
                )
            )
        ]
        events = [
            {"uri": uri, "task_id": task_id, "extra": dict(extra or {})}
            for uri, task_id, extra in session.execute(
                select(AssetModel.uri, AssetEvent.source_task_id, AssetEvent.extra)
                .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
                .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
                .order_by(AssetEvent.id)
            )
        ]
    tasks.sort(key=lambda t: (t.task_id, t.map_index))
    return DagRunOutcome(
        dag_id=dag_id, run_id=run_id, state=_state_name(state), tasks=tasks, asset_events=events
    )


def _decoded(value: Any) -> Any:
    # XCom values are stored as JSON; older rows (or other backends) may hand back text.
    if isinstance(value, str | bytes):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _state_name(state: str) -> str:
    return state.rsplit(".", 1)[-1].lower()  # "DagRunState.SUCCESS" → "success"


def _error_lines(log_file: Path, limit: int = 5) -> list[str]:
    found: list[str] = []
    for line in log_file.read_text(encoding="utf-8", errors="replace").splitlines():
        match = _ERROR_LINE.match(line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return [mask_text(line)[:300] for line in found[-limit:]]


def _log_tail(log_file: Path, lines: int = 15) -> str:
    text = log_file.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return mask_text("\n".join(text))


def main_run(dag_id: str, *, result: Path, bundles: list[str], conf: str | None) -> int:
    """The child side of :func:`run_dag`: its environment already names the home."""
    from tongyuan.config import load_settings
    from tongyuan.logs import configure_logging

    settings = load_settings()
    settings.ensure_dirs()
    configure_logging(settings.logs_dir)
    extra = []
    for spec in bundles:
        name, sep, path = spec.partition("=")
        if not sep or not name or not path:
            raise AirflowConfigError(f"--bundle wants NAME=PATH, got {spec!r}")
        extra.append(DagBundle(name, Path(path)))
    home = airflow_home(settings, extra_bundles=extra)
    run_conf = json.loads(conf) if conf else None
    if run_conf is not None and not isinstance(run_conf, dict):
        raise AirflowConfigError("--conf must be a JSON object")
    outcome = run_dag_here(home, dag_id, conf=run_conf)
    tmp = result.with_name(result.name + ".tmp")
    tmp.write_text(outcome.to_json(), encoding="utf-8")
    tmp.replace(result)
    return 0 if outcome.succeeded else 1
