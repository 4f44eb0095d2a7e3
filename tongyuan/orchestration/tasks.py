"""What the ``item_sync`` DAG's tasks call: planning a run, and one call per node step.

The DAG file only wires these into Airflow (schedule, mapping, retries), so everything
with a decision in it lives here, runs without a scheduler, and is tested as plain
Python. Each step returns ``{"batch_id": …, "counts": {…}}`` and nothing else: that is all
that may travel through XCom (no records, no personal data in Airflow's database).

How per-edge schedules become DAG runs: every node carries the cron of the edge to its
parent (when it syncs and delivers up; on the root, when it syncs). The DAG is scheduled
on the union of those crons — one run at every instant any of them fires — and each run
syncs exactly the nodes whose cron fires at that instant: they sync, deliver up, and push
down to their children, in level order. Staggered crons (districts 01:00, city 01:30,
province 02:00) thus move the night's changes up one level per run, as their author
meant. Manual and asset-triggered runs sync every node, or the nodes named in the run's
conf. One DAG rather than one per edge keeps a single run at a time writing the
libraries (``max_active_runs=1``), with the levels in bottom-up, then top-down order.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from standards.privacy import mask_text

if TYPE_CHECKING:
    from tongyuan.topology import Topology

ENV_TOPOLOGY = "TONGYUAN_TOPOLOGY"
TOPOLOGY_VARIABLE = "tongyuan_topology"
ENV_RETRIES = "TONGYUAN_SYNC_RETRIES"
ENV_RETRY_DELAY = "TONGYUAN_SYNC_RETRY_DELAY"
# The asset later pipelines schedule on: announced when a run changed the item library.
ITEM_LIBRARY_URI = "tongyuan://libraries/items"
# Cron schedules in topologies are Beijing time: that is when offices open and close.
SCHEDULE_TIMEZONE = "Asia/Shanghai"
# Runs whose logical date is a scheduled instant: only the edges due then are synced.
_TIMED_RUN_TYPES = frozenset({"scheduled", "backfill"})
# Sync counts that mean the item library changed (and downstream pipelines should run).
LIBRARY_WRITES = ("added", "changed", "cancelled")

StepResult = dict[str, Any]

log = logging.getLogger(__name__)


class PlanError(ValueError):
    """A run cannot be planned: unknown nodes in its conf, or a topology of another shape."""


class StepFailed(RuntimeError):
    """A node step reported failure without raising; raised so that Airflow retries it."""


@dataclass(frozen=True, slots=True)
class Stage:
    """One depth of the topology: its nodes sync in parallel, then deliver to the next."""

    index: int  # 0 is the deepest level
    name: str  # "county", "city", "province": used in task ids
    codes: tuple[str, ...]
    delivers: bool  # the level has a parent level to deliver to
    pushes: bool  # the level has a level below to push to


def retry_policy(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Retries of every node step: 3, after 1, 2 and 4 minutes (capped at 15).

    A level system restarting or a network blip passes within minutes. Interactive runs
    (the demo's ``dag.test()``, where a retry delay is real waiting) lower them with
    ``TONGYUAN_SYNC_RETRIES`` and ``TONGYUAN_SYNC_RETRY_DELAY`` (seconds).
    """
    env = os.environ if environ is None else environ
    retries = _whole(env, ENV_RETRIES, 3)
    delay = timedelta(seconds=_whole(env, ENV_RETRY_DELAY, 60))
    return {
        "retries": retries,
        "retry_delay": delay,
        "retry_exponential_backoff": 2.0,
        "max_retry_delay": max(delay, timedelta(minutes=15)),
    }


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise PlanError(f"{name} must be a whole number of at least 0, got {raw!r}")
    return int(raw)


def default_topology_path() -> Path:
    """The shipped Shenzhen example: what the demo and a fresh clone sync."""
    from tongyuan.topology import example_path

    return example_path()


def topology_path(
    explicit: str | None = None,
    *,
    variable: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Which topology to sync: a run's own choice, the Airflow Variable, the environment
    (``TONGYUAN_TOPOLOGY``), then the shipped example — first one given wins."""
    env = os.environ if environ is None else environ
    for value in (explicit, variable, env.get(ENV_TOPOLOGY)):
        if value is not None and str(value).strip():
            return Path(str(value).strip()).expanduser().resolve()
    return default_topology_path()


def topology_variable() -> str | None:
    """The Airflow Variable ``tongyuan_topology``, read where a DAG file is parsed.

    The DAG processor parses under a supervisor that answers ``Variable.get`` from the
    metadata database. A parse outside one (``airflow dags test``, the hub's own
    ``dag.test()`` runner) reaches only the environment and external secrets backends,
    so a Variable set with ``airflow variables set`` was missed without a word and the
    shipped example synced instead; there the metadata database is asked directly.
    """
    from airflow.sdk import Variable
    from airflow.sdk.execution_time import task_runner

    value = Variable.get(TOPOLOGY_VARIABLE, default=None)
    if value is not None or getattr(task_runner, "SUPERVISOR_COMMS", None) is not None:
        return value
    try:
        from adapters.sdk.airflow_secrets import metastore_variable

        return metastore_variable(TOPOLOGY_VARIABLE)
    except Exception as exc:  # no metadata database here (a bare import of the DAG file)
        log.debug("Variable %s not read from the metadata database: %s", TOPOLOGY_VARIABLE, exc)
        return None


def load(path: str | Path) -> Topology:
    """The topology at ``path``, loaded once per process per file version."""
    resolved = Path(path).resolve()
    try:
        stat = resolved.stat()
        version = (stat.st_mtime_ns, stat.st_size)
    except OSError:
        version = (-1, -1)  # let the loader raise its own clear error
    return _load_cached(str(resolved), version, os.environ.get("TONGYUAN_HOME", ""))


@lru_cache(maxsize=8)
def _load_cached(path: str, _version: tuple[int, int], _home: str) -> Topology:
    from tongyuan.topology import load_topology

    return load_topology(path)


def stages(topology: Topology) -> list[Stage]:
    """The topology's levels, deepest first, each named after its nodes' level."""
    groups = topology.levels_bottom_up()
    out: list[Stage] = []
    for index, codes in enumerate(groups):
        levels = {topology.node(code).level for code in codes}
        name = levels.pop().name.lower() if len(levels) == 1 else f"depth{len(groups) - 1 - index}"
        out.append(
            Stage(
                index=index,
                name=name,
                codes=tuple(codes),
                delivers=index < len(groups) - 1,
                pushes=index > 0,
            )
        )
    names = [s.name for s in out]
    if len(set(names)) != len(names):  # same level at two depths: fall back to depths
        out = [
            Stage(s.index, f"depth{len(out) - 1 - s.index}", s.codes, s.delivers, s.pushes)
            for s in out
        ]
    return out


def schedules(topology: Topology) -> list[str]:
    """The distinct edge schedules, in file order: the DAG runs on their union."""
    seen: list[str] = []
    for node in topology.nodes.values():
        if node.schedule and node.schedule not in seen:
            seen.append(node.schedule)
    return seen


def due_codes(
    topology: Topology, *, at: datetime | None, nodes: Sequence[str] | None = None
) -> set[str]:
    """Nodes to sync in one run: those asked for (conf), due at ``at``, or all of them.

    ``at`` is the scheduled instant of a timed run, None for a manual one. A node is due
    when its schedule fires at ``at`` in Beijing time; a node without a schedule only
    syncs in manual runs.
    """
    if nodes:
        unknown = sorted(set(nodes) - set(topology.nodes))
        if unknown:
            raise PlanError(
                f"run conf names nodes not in topology {topology.name!r}: {', '.join(unknown)} "
                f"(known: {', '.join(topology.nodes)})"
            )
        due = set(nodes)
    elif at is None:
        due = set(topology.nodes)
    else:
        due = {
            code
            for code, node in topology.nodes.items()
            if node.schedule and _fires(node.schedule, at)
        }
    return due


def _fires(schedule: str, at: datetime) -> bool:
    from croniter import croniter

    from tongyuan.topology.validate import CRON_PRESETS

    cron = CRON_PRESETS.get(schedule, schedule)  # croniter knows @daily, not @quarterly
    local = at.astimezone(ZoneInfo(SCHEDULE_TIMEZONE)) if at.tzinfo else at
    return bool(croniter.match(cron, local))


# --- task bodies -----------------------------------------------------------------------


def due(
    topology: str,
    stage: int,
    *,
    run_type: object,
    logical_date: datetime | None,
    nodes: Sequence[str] | None = None,
) -> list[str]:
    """The codes of one stage that this run syncs (the list the stage's tasks map over)."""
    topo = load(topology)
    levels = stages(topo)
    if stage >= len(levels):
        raise PlanError(
            f"topology {topology} has {len(levels)} levels but the DAG was built for more; "
            "the DAG file is re-parsed when the topology changes shape — wait for that"
        )
    at = logical_date if run_type_name(run_type) in _TIMED_RUN_TYPES else None
    chosen = due_codes(topo, at=at, nodes=list(nodes) if nodes else None)
    picked = [code for code in levels[stage].codes if code in chosen]
    log.info("stage %s: syncing %d of %d nodes", levels[stage].name, len(picked),
             len(levels[stage].codes))  # fmt: skip
    return picked


def systems(topology: str, nodes: Sequence[str]) -> list[str]:
    """The item systems a stage syncs: its due nodes' department systems, then the nodes.

    A department system's items belong to its node, so they are pulled in the same stage,
    before the level delivers up.
    """
    topo = load(topology)
    chosen = set(nodes)
    departments = [d.code for d in topo.departments if d.node in chosen]
    return [*departments, *nodes]


def run_type_name(run_type: object) -> str:
    """``scheduled``, ``manual``… from a run type however Airflow hands it over.

    The Task SDK's ``DagRunType`` is an enum whose ``str()`` is ``DagRunType.SCHEDULED``,
    not its value; comparing that with "scheduled" would treat every timed run as manual.
    """
    value = getattr(run_type, "value", run_type)
    return str(value).rsplit(".", 1)[-1].lower()


def sync_node(topology: str, code: str) -> StepResult:
    """Pull one item system (a node's or a department's) into the libraries.

    Review statuses are tracked in the same transaction, as ``tongyuan sync items`` does.
    """
    from tongyuan.sync import sync_node as pull
    from tongyuan.sync.review import install_review_tracking

    install_review_tracking()
    settings = _settings()
    with _sync_lock(settings, f"sync {code}"):
        result = pull(settings, load(topology), code)
    return {**_step(f"sync {code}", result), "code": code}


def pulled(
    topology: str, codes: Sequence[str], sync_results: Mapping[str, Iterable[StepResult | None]]
) -> list[str]:
    """The nodes among ``codes`` that deliver and push this run: those whose own and
    department pulls all succeeded (:func:`tongyuan.sync.run_all.fully_pulled`, the rule
    of ``tongyuan sync items``).

    ``sync_results`` are the mapped results of the run's sync tasks; a failed task has
    none, so its code is missing.
    """
    from tongyuan.sync.run_all import fully_pulled

    done = {r.get("code") for results in sync_results.values() for r in results or () if r}
    ready = fully_pulled(load(topology), codes, done)
    held = [c for c in codes if c not in ready]
    if held:
        log.warning("not delivering for %s: their pull failed in this run", ", ".join(held))
    return ready


def deliver_up(topology: str, code: str) -> StepResult:
    """Deliver one node's aggregate to its parent's item system."""
    from tongyuan.sync.deliver import deliver_up as deliver

    settings = _settings()
    with _sync_lock(settings, f"deliver {code}"):
        return _step(f"deliver {code}", deliver(settings, load(topology), code))


def push_down(topology: str, code: str) -> StepResult:
    """Push base items and implementation lists from one node to its children's systems."""
    from tongyuan.sync.deliver import push_down as push

    settings = _settings()
    with _sync_lock(settings, f"push {code}"):
        return _step(f"push {code}", push(settings, load(topology), code))


@contextmanager
def _sync_lock(settings: Any, what: str) -> Iterator[None]:
    """The sync lock, shared by the steps of this run (they run in parallel) and kept
    from a manual `tongyuan sync items`, which holds it exclusively: interleaved, the
    two raced to insert the same item versions. Busy, the step fails and retries."""
    from tongyuan.db.locks import LockBusy, shared_lock
    from tongyuan.sync.run_all import SYNC_LOCK

    try:
        with shared_lock(settings.database_url, SYNC_LOCK, fallback_dir=settings.home):
            yield
    except LockBusy:
        raise StepFailed(
            f"{what}: a `tongyuan sync items` of this hub is running; nothing was read or "
            "written (the task retries)"
        ) from None


def summarise(stage_results: Mapping[str, Iterable[StepResult | None]]) -> StepResult:
    """Totals of a run per step kind (``sync``/``deliver``/``push``), and its batch count.

    ``stage_results`` maps a task id (``sync_county``…) to its mapped results; skipped
    stages contribute nothing.
    """
    totals: dict[str, dict[str, int]] = {}
    batches = 0
    for task_id, results in stage_results.items():
        kind = task_id.split("_", 1)[0]
        bucket = totals.setdefault(kind, {})
        for result in results or ():
            if not result:
                continue
            batches += result.get("batch_id") is not None
            for name, value in (result.get("counts") or {}).items():
                bucket[name] = bucket.get(name, 0) + int(value)
    return {"batches": batches, "counts": totals}


def library_changed(summary: Mapping[str, Any]) -> bool:
    """Whether a run wrote anything to the item library (what the asset event announces)."""
    synced = summary.get("counts", {}).get("sync", {})
    return any(synced.get(name, 0) for name in LIBRARY_WRITES)


def per_system(outcome: Any, topology: Topology) -> dict[str, dict[str, StepResult]]:
    """A finished run's step results by item system: ``{code: {"sync"|"deliver"|"push": …}}``.

    Mapped task instances are matched to codes through the list they were mapped over
    (``systems_<level>`` for syncs, ``due_<level>`` for deliveries and pushes), in the
    order the levels ran; systems the run did not touch are absent.
    """
    out: dict[str, dict[str, StepResult]] = {}
    for stage in stages(topology):
        for step, plan in (("sync", "systems"), ("deliver", "due"), ("push", "due")):
            planned = outcome.results(f"{plan}_{stage.name}")
            codes = planned[0] if planned and planned[0] else []
            for task in outcome.task(f"{step}_{stage.name}"):
                if 0 <= task.map_index < len(codes) and task.result is not None:
                    out.setdefault(codes[task.map_index], {})[step] = task.result
    return out


def _settings():  # type: ignore[no-untyped-def]
    """The hub's settings in a task process, with masked logging that stays out of Airflow.

    Task logs end up in Airflow's log store; the hub's own log lines go to the hub's
    masked log file and, masked too, to the task's stderr — never unmasked through
    Airflow's root handlers.
    """
    from tongyuan.config import load_settings
    from tongyuan.logs import MaskingFilter, configure_logging

    settings = load_settings()
    settings.ensure_dirs()
    configure_logging(settings.logs_dir)
    hub = logging.getLogger("tongyuan")
    if hub.propagate:
        hub.propagate = False
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(MaskingFilter())
        hub.addHandler(handler)
    _require_schema(settings)
    _require_pii_key(settings)
    return settings


def _require_pii_key(settings: Any) -> None:
    """A PII key that does not decrypt the libraries, or none where they hold personal
    data, fails the task at once in one line: every retry would fail the same way (the
    worker's TONGYUAN_PII_KEY or key file must be fixed). Read-only: no key file is
    made here (the first task that writes makes it on a fresh hub)."""
    from tongyuan.config import ConfigError, refuse_new_key_on_written_libraries

    try:
        if settings.pii_key_b64 is not None or settings.pii_key_file.exists():
            settings.pii_key()
        else:
            refuse_new_key_on_written_libraries(settings)
    except ConfigError as exc:
        raise _no_retry(mask_text(str(exc))) from None


class SchemaNotCurrent(RuntimeError):
    """The libraries are not at this version's schema; retrying cannot help."""


def _require_schema(settings: Any) -> None:
    """The library schema must be at this version's head before a task touches it.

    Tasks never migrate (workers of several versions may share one database; upgrading
    is the operator's step, ``tongyuan db upgrade``). Without this check a task ran on an
    older schema, wrote what fitted, and failed on the first row that needed the new one
    with a constraint error and a long traceback, three retries over. An older schema
    fails the task at once, without retries, in one line; so does a newer one (a worker
    left at an older version), saying that this worker's Tongyuan is the side behind. A
    database that cannot be reached fails it in one line naming the database (password
    hidden), and is retried; one that refused the login, does not exist or is not UTF8
    fails it at once in that line (:func:`tongyuan.db.errors.is_lasting_connection_error`).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from adapters.sdk.db_url import safe_url_text
    from tongyuan.db import DatabaseEncodingError, current_revision, head_revision
    from tongyuan.db.errors import describe_error, is_lasting_connection_error

    where = safe_url_text(settings.database_url)
    try:
        revision = current_revision(settings.database_url)
    except (SQLAlchemyError, DatabaseEncodingError) as exc:
        message = (
            f"the library database at {where} cannot be used: {describe_error(exc)}; "
            "check TONGYUAN_DATABASE_URL"
        )
        raise (
            _no_retry(message) if is_lasting_connection_error(exc) else StepFailed(message)
        ) from None
    head = head_revision()
    if revision == head:
        return
    if revision is not None and not _known_revisions(revision):
        from tongyuan import __version__

        message = (
            f"the library schema in the database at {where} is at revision {revision}, "
            f"which this worker's Tongyuan {__version__} (schema {head}) does not know: "
            "the database was upgraded by a newer Tongyuan; upgrade Tongyuan on this "
            "worker to that version (the database is not behind: do not run "
            "`tongyuan db upgrade` or downgrade it for this worker)"
        )
    else:
        message = (
            f"the library schema in the database at {where} is at revision "
            f"{revision or 'none (empty)'}, older than this worker's {head}: "
            "run `tongyuan db upgrade` first"
        )
    raise _no_retry(message)


def _known_revisions(revision: str) -> bool:
    """Whether this version's migrations know every head of ``revision`` (a database at
    one they do not know was upgraded by a newer Tongyuan than this worker's)."""
    from alembic.script import ScriptDirectory

    from tongyuan.db.migrate import alembic_config

    known = {s.revision for s in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    return set(revision.split(",")) <= known


def _no_retry(message: str) -> Exception:
    """Airflow's exception that fails a task without retries, when running under it."""
    try:
        from airflow.sdk.exceptions import AirflowFailException
    except ImportError:  # outside Airflow (the functions are plain Python)
        return SchemaNotCurrent(message)
    return AirflowFailException(message)


def _step(what: str, result: Any) -> StepResult:
    # A pull says status "failed"; a delivery has no status but names its failed edges in
    # ``error`` (it delivered the others): either way the task fails, retries and shows.
    if getattr(result, "status", None) == "failed" or getattr(result, "error", None):
        reason = getattr(result, "error", None) or "no reason given"
        raise StepFailed(f"{what} failed: {mask_text(str(reason))}")
    counts = {str(k): int(v) for k, v in (getattr(result, "counts", None) or {}).items()}
    return {"batch_id": getattr(result, "batch_id", None), "counts": counts}


# --- case_ingest (departments' case systems → case and material libraries) -------------

# Assets the case_ingest DAG announces when a run wrote to the libraries.
CASE_LIBRARY_URI = "tongyuan://libraries/cases"
MATERIAL_LIBRARY_URI = "tongyuan://libraries/materials"
# A department that names no case_schedule is ingested every half hour.
DEFAULT_CASE_SCHEDULE = "*/30 * * * *"
# Ingest counts that mean a library changed (what the asset events announce).
CASE_WRITES = "cases"
MATERIAL_WRITES = "materials"


def case_schedules(topology: Topology) -> list[str]:
    """The distinct ingestion crons of the departments with a case system (or the default)."""
    seen: list[str] = []
    for dept in topology.case_departments:
        cron = dept.case_schedule or DEFAULT_CASE_SCHEDULE
        if cron not in seen:
            seen.append(cron)
    return seen


def case_departments_due(
    topology: str,
    *,
    run_type: object,
    logical_date: datetime | None,
    departments: Sequence[str] | None = None,
) -> list[str]:
    """The departments one case_ingest run ingests (what its mapped task runs over).

    Timed runs take the departments whose schedule fires then; runs triggered by the item
    library asset, or by hand, take every department (or those named in the conf).
    """
    topo = load(topology)
    known = [d.code for d in topo.case_departments]
    if departments:
        unknown = sorted(set(departments) - set(known))
        if unknown:
            raise PlanError(
                f"run conf names departments without a case system in topology "
                f"{topo.name!r}: {', '.join(unknown)} (known: {', '.join(known) or 'none'})"
            )
        return [code for code in known if code in set(departments)]
    if run_type_name(run_type) not in _TIMED_RUN_TYPES or logical_date is None:
        return known
    return [
        d.code
        for d in topo.case_departments
        if _fires(d.case_schedule or DEFAULT_CASE_SCHEDULE, logical_date)
    ]


def ingest_cases(topology: str, department: str) -> StepResult:
    """Ingest one department's case system; a rejected signed delivery is data, not a fault.

    Returns ``{"batch_ids": […], "counts": {…}}``. A failed pull (system unreachable,
    database error) raises so that Airflow retries; a rejected delivery is recorded as a
    failed batch by the engine and counted (``rejected``), and the run goes on. A
    department whose adapter package was broken when the topology loaded fails here
    with that problem (the topology still loads, so the other mapped tasks run).
    """
    from tongyuan.ingest import ingest_department

    settings = _settings()
    result = ingest_department(settings, load(topology), department)
    if result.status == "failed":
        raise StepFailed(f"ingest {department} failed: {mask_text(result.error or '')}")
    counts = {str(k): int(v) for k, v in result.counts.items()}
    counts["rejected"] = int(result.status == "rejected")
    return {"batch_ids": list(result.batch_ids), "counts": counts}


def summarise_ingest(results: Iterable[StepResult | None]) -> StepResult:
    """Totals of a case_ingest run over its departments, and its batch count."""
    totals: dict[str, int] = {}
    batches = 0
    for result in results or ():
        if not result:
            continue
        batches += len(result.get("batch_ids") or ())
        for name, value in (result.get("counts") or {}).items():
            totals[name] = totals.get(name, 0) + int(value)
    return {"batches": batches, "counts": totals}


def library_written(summary: Mapping[str, Any], what: str) -> bool:
    """Whether a case_ingest run wrote ``what`` (CASE_WRITES or MATERIAL_WRITES)."""
    return bool(summary.get("counts", {}).get(what, 0))


# --- quality (data quality suites over the libraries, then the auditor report) ----------

# Announced when a quality run stored its results (what a report consumer schedules on).
QUALITY_RUNS_URI = "tongyuan://quality/runs"
# Daily run in Beijing time, after the night's item syncs (01:00–02:00) have settled.
QUALITY_DAILY_SCHEDULE = "0 6 * * *"


def refresh_timeliness() -> StepResult:
    """Every case's deadline judged again as of today (what ``tongyuan cases overdue``
    does first), so the stored overdue flags move with the calendar and not only when a
    case is delivered again. Counts only cross XCom, never a case.

    It runs beside ingests (the quality DAG follows every library change): a chunk of
    cases per transaction, each case read once no other transaction is changing it
    (:func:`tongyuan.ingest.timeliness.refresh_all`). A calendar file that cannot be used
    fails it at once, without retries, in one line naming the file.
    """
    from standards.workdays import CalendarFileError
    from tongyuan.db import make_engine, make_session_factory
    from tongyuan.ingest.timeliness import refresh_all

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        counts = refresh_all(make_session_factory(engine))
    except CalendarFileError as exc:  # the operator's file: a retry reads the same one
        raise _no_retry(str(exc)) from None
    finally:
        engine.dispose()
    return {
        "counts": {
            "checked": counts.cases,
            "overdue": counts.overdue,
            "prereview_late": counts.prereview_late,
            "deadline_unknown": counts.unknown,
            "prereview_deadline_unknown": counts.prereview_unknown,
        }
    }


def timeliness_refresh_failed() -> None:
    """Fails the quality DAG's run when its timeliness refresh failed.

    The suites and the report run after a failed refresh (they do not need it), so the
    run's last tasks succeed and Airflow would call the run a success; this task, run
    only when the refresh failed, ends it failed instead.
    """
    raise _no_retry(
        "the timeliness refresh failed (see refresh_timeliness's log); the quality suites "
        "ran without it, on the timeliness rows as of their last refresh"
    )


def quality_run(suites: Sequence[str] | None = None, scope: str = "all") -> StepResult:
    """Run the quality suites; ``{"run_id", "status", "counts"}`` — nothing else to XCom.

    Defects found are the run's result, not a task failure; a run that could not produce
    trustworthy results (GX and the breakdown disagreeing, a database error) raises so
    that Airflow retries it. It then sweeps the material files kept for quarantined
    materials that no open entry names any more (:func:`tongyuan.materials.kept.sweep_kept_files`).
    """
    from tongyuan.db import make_engine
    from tongyuan.materials.kept import sweep_kept_files
    from tongyuan.quality import run_quality

    settings = _settings()
    summary = run_quality(settings, suites=list(suites) if suites else None, scope=scope or "all")
    # The daily maintenance of the material files kept for quarantined materials: those
    # of closed entries or of a batch that crashed, on a hub where nothing is replayed.
    engine = make_engine(settings.database_url)
    try:
        sweep_kept_files(settings, engine)
    finally:
        engine.dispose()
    return {
        "run_id": summary.run_id,
        "status": summary.status,
        "counts": {"evaluated": summary.evaluated, "failed": summary.failed},
    }


def quality_report() -> StepResult:
    """Rebuild the auditor report (``var/reports/index.html``) from the quality history."""
    from tongyuan.report import build_report

    settings = _settings()
    result = build_report(settings)
    return {"counts": {"runs": int(result.runs), "pages": len(result.pages)}}


# --- license_verify (signatures and library semantics of e-licenses) --------------------

# Daily in Beijing time, before the quality run (06:00) reads the results.
LICENSE_VERIFY_SCHEDULE = "30 5 * * *"
# Re-issue a development PKI's CRLs when one would go stale within this margin.
CRL_REFRESH_MARGIN = timedelta(days=2)


def license_refresh_crls(*, run_type: object, force: bool = False) -> StepResult:
    """Keep the CRLs of a development PKI trust directory fresh (``signing.pki.refresh_crls``).

    Only a trust directory that is a development PKI (``pki.json`` and its CA keys) can be
    refreshed here; a production trust directory receives its CAs' CRLs from outside and
    is left alone (``refreshed`` 0, ``managed`` 0). Scheduled runs refresh always, other
    runs only when ``force`` or when a CRL would go stale within ``CRL_REFRESH_MARGIN``:
    a new CRL re-checks every license below its CA, which a case-triggered run should not
    cause for nothing.
    """
    from datetime import UTC

    from cryptography import x509

    from signing.pki import refresh_crls
    from tongyuan.licensing.run import default_trust_dir

    trust_dir = default_trust_dir(_settings())
    if not (trust_dir / "pki.json").is_file() or not (trust_dir / "private").is_dir():
        return {"counts": {"refreshed": 0, "managed": 0}}
    soon = datetime.now(UTC) + CRL_REFRESH_MARGIN
    due = [
        path
        for path in sorted((trust_dir / "crls").glob("*.pem"))
        if (x509.load_pem_x509_crl(path.read_bytes()).next_update_utc or soon) <= soon
    ]
    if not (force or due or run_type_name(run_type) in _TIMED_RUN_TYPES):
        return {"counts": {"refreshed": 0, "managed": 1}}
    written = refresh_crls(trust_dir)
    return {"counts": {"refreshed": len(written), "managed": 1}}


def license_verify(*, check_all: bool = False) -> StepResult:
    """Verify the licenses of new cases, never-verified ones and those below changed CRLs
    (or all with ``check_all``); ``{"run_id", "counts"}`` with counts only."""
    from tongyuan.licensing.run import verify_licenses

    result = verify_licenses(_settings(), only_new=not check_all)
    counts = {
        "checked": result.checked,
        "usable": result.usable,
        "crl_changed": int(result.crl_changed),
        **{f"indication_{k.lower()}": v for k, v in result.indications.items()},
        **{f"status_{k}": v for k, v in result.statuses.items()},
        "holder_mismatches": result.holder_mismatches,
        "missing_items": result.missing_items,
        "content_mismatches": result.content_mismatches,
    }
    return {"run_id": result.run_id, "counts": counts}
