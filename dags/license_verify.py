"""license_verify: e-license signatures and library semantics, stored in the license library.

Shape:

    refresh_crls → verify

Triggered two ways (``AssetOrTimeSchedule``):

- by the **case library asset** (``tongyuan://libraries/cases``, announced by case_ingest
  when a run wrote cases): the licenses those new cases refer to — and any license never
  verified yet — are checked;
- **daily at 05:30 Beijing time** (the CRL path): ``refresh_crls`` re-issues the CRLs of a
  development-PKI trust directory (a production trust directory gets its CRLs from its
  CAs and is left alone); ``verify`` then notices which files under ``crls/`` changed
  since its last run (sha256 per file, kept in ``license_verify_state``) and re-checks
  every license whose signer chains to a changed CRL's issuer, and every TRY_LATER one.

One DAG with one writer (``max_active_runs=1``) rather than two racing over the same rows.
On asset-triggered runs ``refresh_crls`` only acts when a CRL would go stale within two
days (or with the ``refresh_crls`` param), so ingesting cases does not re-check every
license. Which trust directory: ``TONGYUAN_TRUST_DIR``, else ``<home>/trust``.

Each task is one call into ``tongyuan.orchestration.tasks``; only the run id and counts
cross XCom. Results: ``licenses.verified_at/indication/subindication`` and one
``license_checks`` row per license checked (see docs/signing.md "License verification").
Params: ``all`` (check every license), ``refresh_crls`` (re-issue the dev CRLs first).
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from tongyuan.orchestration import tasks

CASE_LIBRARY = Asset(tasks.CASE_LIBRARY_URI, group="tongyuan")


@task(retries=1)
def refresh_crls(params=None, dag_run=None) -> dict:
    return tasks.license_refresh_crls(run_type=dag_run.run_type, force=params["refresh_crls"])


@task(retries=1)
def verify(refreshed: dict, params=None) -> dict:
    return tasks.license_verify(check_all=params["all"])


@dag(
    dag_id="license_verify",
    description="E-license verification: signatures, CRLs, status, holder and item",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable(
            tasks.LICENSE_VERIFY_SCHEDULE, timezone=tasks.SCHEDULE_TIMEZONE
        ),
        assets=CASE_LIBRARY,
    ),
    catchup=False,
    max_active_runs=1,
    tags=["tongyuan", "licenses"],
    params={
        "all": Param(False, type="boolean", description="Check every license."),
        "refresh_crls": Param(
            False, type="boolean", description="Re-issue the development PKI's CRLs first."
        ),
    },
    doc_md=__doc__,
)
def license_verify() -> None:
    verify(refresh_crls())


license_verify()
