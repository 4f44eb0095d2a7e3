"""quality: the data quality suites over the libraries, then the auditor report.

Shape:

    refresh_timeliness → run_suites → write_report   (outlet of run_suites:
           │                                         tongyuan://quality/runs)
           └→ refresh_failed   (only when the refresh failed)

``refresh_timeliness`` judges every case's deadline again as of today (as ``tongyuan
cases overdue`` does), so cases turn overdue in the stored rows the day they do, not
only when their department delivers them again. It commits a chunk of cases at a time
and never overwrites what an ingest running beside it stores. The suites and the report
do not need it to succeed (``run_suites`` runs once it is done, whatever its state: a
deadlock or a bad calendar file must not cost the day's quality run); ``refresh_failed``
then fails too, so the run ends failed and the refresh's own failure stays in view.

Runs daily (06:00 Beijing time) and whenever the item, case or material library asset
announces a change (item_sync, case_ingest). Each task is one call into
``tongyuan.orchestration.tasks``: the suites run in the database through GX and store
the run in the quality history; the report is rebuilt from that history. Only the run id
and counts cross XCom.

Params: ``suites`` (default all five) and ``scope`` ("all" or a region code).
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from tongyuan.orchestration import tasks

ITEM_LIBRARY = Asset(tasks.ITEM_LIBRARY_URI, group="tongyuan")
CASE_LIBRARY = Asset(tasks.CASE_LIBRARY_URI, group="tongyuan")
MATERIAL_LIBRARY = Asset(tasks.MATERIAL_LIBRARY_URI, group="tongyuan")
QUALITY_RUNS = Asset(tasks.QUALITY_RUNS_URI, group="tongyuan")


@task(retries=1)
def refresh_timeliness() -> dict:
    return tasks.refresh_timeliness()


@task(outlets=[QUALITY_RUNS], retries=1, trigger_rule="all_done")
def run_suites(params=None) -> dict:
    return tasks.quality_run(params["suites"], params["scope"])


@task(retries=1)
def write_report(run: dict) -> dict:
    return tasks.quality_report()


@task(trigger_rule="one_failed", retries=0)
def refresh_failed() -> None:
    return tasks.timeliness_refresh_failed()


@dag(
    dag_id="quality",
    description="Data quality suites (GX, in the database) and the auditor report",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(
            tasks.QUALITY_DAILY_SCHEDULE, timezone=tasks.SCHEDULE_TIMEZONE
        ),
        assets=(ITEM_LIBRARY | CASE_LIBRARY | MATERIAL_LIBRARY),
    ),
    catchup=False,
    max_active_runs=1,
    tags=["tongyuan", "quality"],
    params={
        "suites": Param([], type="array", description="Suites to run; empty for all."),
        "scope": Param("all", type="string", description="'all' or a region code."),
    },
)
def quality() -> None:
    suites = run_suites()
    refresh = refresh_timeliness()
    refresh >> suites
    refresh >> refresh_failed()
    write_report(suites)


quality()
