"""case_ingest: departments' case systems → the case library (办件库) and material library.

Shape:

    departments → ingest[*] → case_library_updated      (outlet: the case library)
                            → material_library_updated  (outlet: the material library)

``departments`` picks the departments this run ingests; ``ingest`` is mapped over them at
run time (a department added to the topology adds a mapped task instance, not a task),
each one call of ``tongyuan.ingest.ingest_department``: materials, then cases, checked
against the libraries, quarantined with every broken rule, deadlines recomputed; signed
deliveries verified first. The DAG runs on the union of the departments' ``case_schedule``
crons (Beijing time; a department without one every half hour) and also whenever the item
library asset announces a change, since cases quarantined for an unpublished item may now
pass on their next delivery.

Which topology: the run's ``topology`` param, else the Airflow Variable
``tongyuan_topology``, else ``TONGYUAN_TOPOLOGY``, else the shipped Shenzhen example.
Conf ``{"departments": ["114403000040578006"]}`` ingests only those.

Only batch ids and counts cross XCom. The last tasks announce the case and the material
library assets when the run wrote to them — also when another department's ingest failed
(``all_done``): what the others committed is in the libraries and must reach the DAGs
scheduled on them. ``all_ingested`` fails the run (as ``upstream_failed``) when any
department did, so a failure stays visible while the others' work is announced.
"""

from __future__ import annotations

from airflow.sdk import (
    Asset,
    AssetOrTimeSchedule,
    MultipleCronTriggerTimetable,
    Param,
    dag,
    task,
)
from airflow.sdk.exceptions import AirflowSkipException

from tongyuan.orchestration import tasks

ITEM_LIBRARY = Asset(tasks.ITEM_LIBRARY_URI, group="tongyuan")
CASE_LIBRARY = Asset(tasks.CASE_LIBRARY_URI, group="tongyuan")
MATERIAL_LIBRARY = Asset(tasks.MATERIAL_LIBRARY_URI, group="tongyuan")
TOPOLOGY = tasks.topology_path(variable=tasks.topology_variable())
_TOPO = tasks.load(TOPOLOGY)
SCHEDULES = tasks.case_schedules(_TOPO)
RETRIES = tasks.retry_policy()  # 3 retries after 1, 2, 4 minutes; env can lower them
TOPOLOGY_ARG = "{{ params.topology }}"


@task
def departments(topology: str, chosen: list[str], dag_run=None, logical_date=None) -> list[str]:
    return tasks.case_departments_due(topology, run_type=dag_run.run_type,
                                      logical_date=logical_date, departments=chosen)  # fmt: skip


@task
def ingest(department: str, topology: str) -> dict:
    return tasks.ingest_cases(topology, department)


@task(trigger_rule="all_done", outlets=[CASE_LIBRARY], retries=0)
def case_library_updated(results: list, outlet_events=None) -> dict:
    summary = tasks.summarise_ingest(results)
    if not tasks.library_written(summary, tasks.CASE_WRITES):
        raise AirflowSkipException(f"the case library did not change: {summary}")
    outlet_events[CASE_LIBRARY].extra = summary
    return summary


@task(trigger_rule="all_done", outlets=[MATERIAL_LIBRARY], retries=0)
def material_library_updated(results: list, outlet_events=None) -> dict:
    summary = tasks.summarise_ingest(results)
    if not tasks.library_written(summary, tasks.MATERIAL_WRITES):
        raise AirflowSkipException(f"the material library did not change: {summary}")
    outlet_events[MATERIAL_LIBRARY].extra = summary
    return summary


# Runs only when every department's ingest succeeded; otherwise it is marked
# upstream_failed, and so is the run.
@task(retries=0)
def all_ingested(results: list) -> dict:
    return tasks.summarise_ingest(results)


@dag(
    dag_id="case_ingest",
    description=f"Case ingestion over topology {_TOPO.name}: department case systems",
    schedule=AssetOrTimeSchedule(
        timetable=MultipleCronTriggerTimetable(*SCHEDULES, timezone=tasks.SCHEDULE_TIMEZONE),
        assets=ITEM_LIBRARY,
    )
    if SCHEDULES
    else ITEM_LIBRARY,
    catchup=False,
    max_active_runs=1,  # two runs acknowledging the same drop folders would race
    default_args=RETRIES,
    params={
        "topology": Param(str(TOPOLOGY), type="string", description="topology YAML"),
        "departments": Param([], type="array", description="only these departments (USCC)"),
    },
    render_template_as_native_obj=True,
    tags=["tongyuan", "cases"],
    doc_md=__doc__,
)
def case_ingest() -> None:
    chosen = departments(TOPOLOGY_ARG, "{{ params.departments }}")
    results = ingest.partial(topology=TOPOLOGY_ARG).expand(department=chosen)
    case_library_updated(results)
    material_library_updated(results)
    all_ingested(results)


case_ingest()
