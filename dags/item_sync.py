"""item_sync: district ⇄ city ⇄ province item sync, scheduled per edge of the topology.

Shape (for the Shenzhen topology: districts → city → province): every system is pulled
first, level by level from the bottom, then the levels deliver up, then base items go down:

    due_county → systems_county → sync_county[*]
    due_city   → systems_city   → sync_city[*]         (after sync_county)
    due_province → systems_province → sync_province[*] (after sync_city)
    pulled_<level>: the due nodes whose own and department pulls all succeeded
    then up: deliver_county[*] → deliver_city[*]
    then down: push_province[*] → push_city[*] → library_updated (outlet: the item library)

Pulling everything before delivering anything lets the top node's national base elements
re-version the districts' copies before they travel, so one run converges.

``due_<level>`` picks the level's nodes this run syncs; ``systems_<level>`` adds their
department item systems; each ``[*]`` task is mapped over those codes at run time, so a
district added to the topology adds mapped task instances, not tasks. The levels (one
stage per depth) and the schedule come from the topology when the file is parsed: the
DAG runs on the union of the nodes' edge crons and each run syncs only the edges due then
(see ``tongyuan.orchestration.tasks`` for why one DAG rather than one per edge).

Which topology: the run's ``topology`` param, else the Airflow Variable
``tongyuan_topology``, else ``TONGYUAN_TOPOLOGY``, else the shipped Shenzhen example.
Conf ``{"nodes": ["440305"]}`` syncs only those nodes.

Every task is one call into ``tongyuan``; only batch ids and counts cross XCom. The last
task announces the item library asset when the run changed it, so pipelines scheduled
on ``tongyuan://libraries/items`` run after real changes only.

One system that is down stops only its own task instance, as ``tongyuan sync items``
goes on past it: the later stages run whatever an earlier one ended in (``all_done``);
``pulled_<level>`` keeps the nodes whose own and department pulls all succeeded, and only
they deliver and push, as from the CLI; the asset is announced for what was committed,
and ``all_synced`` fails the run (as ``upstream_failed``) so the failure stays visible.
"""

from __future__ import annotations

from airflow.sdk import Asset, MultipleCronTriggerTimetable, Param, dag, task
from airflow.sdk.exceptions import AirflowSkipException

from tongyuan.orchestration import tasks

ITEM_LIBRARY = Asset(tasks.ITEM_LIBRARY_URI, group="tongyuan")
TOPOLOGY = tasks.topology_path(variable=tasks.topology_variable())
_TOPO = tasks.load(TOPOLOGY)
STAGES = tasks.stages(_TOPO)
SCHEDULES = tasks.schedules(_TOPO)
RETRIES = tasks.retry_policy()  # 3 retries after 1, 2, 4 minutes; env can lower them
TOPOLOGY_ARG = "{{ params.topology }}"


@task
def due(stage: int, topology: str, nodes: list[str], dag_run=None, logical_date=None) -> list[str]:
    return tasks.due(topology, stage, run_type=dag_run.run_type, logical_date=logical_date,
                     nodes=nodes)  # fmt: skip


@task
def systems(topology: str, nodes: list[str]) -> list[str]:
    return tasks.systems(topology, nodes)


@task(trigger_rule="all_done")
def sync_node(code: str, topology: str) -> dict:
    return tasks.sync_node(topology, code)


@task(trigger_rule="all_done")
def pulled_nodes(topology: str, codes: list[str], sync_results: dict) -> list[str]:
    return tasks.pulled(topology, codes, sync_results)


@task(trigger_rule="all_done")
def deliver_up(code: str, topology: str) -> dict:
    return tasks.deliver_up(topology, code)


@task(trigger_rule="all_done")
def push_down(code: str, topology: str) -> dict:
    return tasks.push_down(topology, code)


@task(trigger_rule="all_done", outlets=[ITEM_LIBRARY], retries=0)
def library_updated(stage_results: dict, outlet_events=None) -> dict:
    summary = tasks.summarise(stage_results)
    if not tasks.library_changed(summary):
        raise AirflowSkipException(f"the item library did not change: {summary}")
    outlet_events[ITEM_LIBRARY].extra = summary
    return summary


# Runs only when every system's step succeeded (or was skipped); otherwise it is marked
# upstream_failed, and so is the run.
@task(retries=0)
def all_synced(stage_results: dict) -> dict:
    return tasks.summarise(stage_results)


@dag(
    dag_id="item_sync",
    description=f"Item sync over topology {_TOPO.name}: up by level, then down",
    schedule=MultipleCronTriggerTimetable(*SCHEDULES, timezone=tasks.SCHEDULE_TIMEZONE)
    if SCHEDULES
    else None,
    catchup=False,
    max_active_runs=1,  # two runs writing the same libraries would race
    default_args=RETRIES,
    params={
        "topology": Param(str(TOPOLOGY), type="string", description="topology YAML to sync"),
        "nodes": Param([], type="array", description="only these node codes"),
    },
    render_template_as_native_obj=True,
    tags=["tongyuan", "items"],
    doc_md=__doc__,
)
def item_sync() -> None:
    results: dict[str, object] = {}
    due_lists: dict[int, object] = {}
    synced_by_stage: dict[str, object] = {}
    previous = None
    for stage in STAGES:  # pull every system first: the top node may re-version base elements
        codes = due.override(task_id=f"due_{stage.name}")(
            stage=stage.index, topology=TOPOLOGY_ARG, nodes="{{ params.nodes }}"
        )
        pulled = systems.override(task_id=f"systems_{stage.name}")(TOPOLOGY_ARG, codes)
        synced = (
            sync_node.override(task_id=f"sync_{stage.name}")
            .partial(topology=TOPOLOGY_ARG)
            .expand(code=pulled)
        )
        if previous is not None:
            previous >> synced
        results[f"sync_{stage.name}"] = synced_by_stage[f"sync_{stage.name}"] = synced
        previous = synced
        due_lists[stage.index] = codes
    # Only nodes whose pulls all succeeded deliver and push (a failed one may be half-known).
    ready = {
        stage.index: pulled_nodes.override(task_id=f"pulled_{stage.name}")(
            TOPOLOGY_ARG, due_lists[stage.index], synced_by_stage
        )
        for stage in STAGES
        if stage.delivers or stage.pushes
    }
    for stage in STAGES:  # then deliver up, level by level
        if stage.delivers:
            delivered = (
                deliver_up.override(task_id=f"deliver_{stage.name}")
                .partial(topology=TOPOLOGY_ARG)
                .expand(code=ready[stage.index])
            )
            previous >> delivered
            results[f"deliver_{stage.name}"] = previous = delivered
    for stage in reversed(STAGES):
        if stage.pushes:
            pushed = (
                push_down.override(task_id=f"push_{stage.name}")
                .partial(topology=TOPOLOGY_ARG)
                .expand(code=ready[stage.index])
            )
            previous >> pushed
            results[f"push_{stage.name}"] = previous = pushed
    library_updated(stage_results=results)
    all_synced(stage_results=results)


item_sync()
