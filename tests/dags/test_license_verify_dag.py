"""The license_verify DAG: shape and triggers from the DAG folder, and a real dag.test() run.

The structure is read with ``DagBag`` (no metadata database). The run goes through the
orchestration runner (a child process, Airflow metadata on SQLite) over a generated
dataset loaded through the Loader, with its pki/ as the hub's trust directory: the CRLs
must be refreshed, every license verified and stored with the planted signature defects
found, and only the run id and counts may cross XCom.
"""

from __future__ import annotations

import ast
import base64
import json
import shutil

import pytest
from dagbags import load_dagbag
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tongyuan.config import load_settings
from tongyuan.db import make_engine, upgrade
from tongyuan.generate.dataset import generate_dataset
from tongyuan.ledger.hubkey import public_key_path
from tongyuan.libraries.license_checks import LicenseCheckRow
from tongyuan.libraries.licenses import LicenseRow
from tongyuan.loading import Loader
from tongyuan.orchestration import run_dag
from tongyuan.orchestration.airflow_home import repo_dags_folder
from tongyuan.orchestration.tasks import CASE_LIBRARY_URI

DAG_FILE = repo_dags_folder() / "license_verify.py"


@pytest.fixture
def dag(monkeypatch: pytest.MonkeyPatch):
    bag = load_dagbag(monkeypatch, DAG_FILE)
    assert bag.import_errors == {}
    return bag.dags["license_verify"]


def test_refresh_then_verify_on_cases_or_daily(dag) -> None:
    assert set(dag.task_ids) == {"refresh_crls", "verify"}
    assert dag.get_task("verify").upstream_task_ids == {"refresh_crls"}
    assert dag.max_active_runs == 1 and dag.catchup is False
    assert dag.params["all"] is False and dag.params["refresh_crls"] is False
    timetable = dag.timetable
    assert timetable.timetable.expression == "30 5 * * *"
    assert str(timetable.timetable.timezone) == "Asia/Shanghai"
    assert timetable.asset_condition.uri == CASE_LIBRARY_URI


def test_task_bodies_are_one_call_into_tongyuan() -> None:
    tree = ast.parse(DAG_FILE.read_text(encoding="utf-8"))
    bodies = {
        fn.name: fn.body
        for fn in tree.body
        if isinstance(fn, ast.FunctionDef)
        and any(ast.unparse(d).startswith("task") for d in fn.decorator_list)
    }
    assert set(bodies) == {"refresh_crls", "verify"}
    for name, body in bodies.items():
        assert len(body) == 1 and isinstance(body[0], ast.Return), name
        assert ast.unparse(body[0].value.func).startswith("tasks."), name


@pytest.mark.slow
def test_a_real_run_refreshes_crls_and_stores_every_result(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TONGYUAN_PII_KEY", base64.b64encode(bytes(range(32))).decode())
    settings = load_settings()
    settings.ensure_dirs()
    upgrade(settings.database_url)
    data = tmp_path / "data"
    generate_dataset(data, seed=5, items=40, cases=150, bad_rate=0.05)
    loader = Loader(settings)
    try:
        loader.load([data], relative_to=data)
    finally:
        loader.close()
    # The load signed its ledger entries, so the trust directory holds the hub's ledger
    # public key already (docs/ledger.md): the dataset's PKI goes in beside it.
    assert public_key_path(settings).is_file()
    shutil.copytree(data / "pki", settings.home / "trust", dirs_exist_ok=True)
    crls_before = {p.name: p.read_bytes() for p in (settings.home / "trust" / "crls").iterdir()}

    outcome = run_dag(settings, "license_verify", conf={"refresh_crls": True})

    assert outcome.succeeded, outcome.errors
    (refresh,) = outcome.results("refresh_crls")
    assert refresh == {"counts": {"refreshed": len(crls_before), "managed": 1}}
    crls_after = {p.name: p.read_bytes() for p in (settings.home / "trust" / "crls").iterdir()}
    assert crls_after.keys() == crls_before.keys() and crls_after != crls_before
    (result,) = outcome.results("verify")
    assert set(result) == {"run_id", "counts"}
    assert all(isinstance(v, int) for v in result["counts"].values())
    expected = json.loads((data / "expected_defects.json").read_text(encoding="utf-8"))
    bad = {r["license_file"].removeprefix("licenses/"): r for r in expected["signature_defects"]}
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            rows = session.scalars(select(LicenseRow)).all()
            assert rows and result["counts"]["checked"] == len(rows)
            assert all(r.verified_at is not None for r in rows)
            for row in rows:
                if row.file in bad:
                    assert row.subindication == bad[row.file]["subindication"]
                else:
                    assert row.indication == "PASSED", row.file
            stored = session.scalar(
                select(func.count())
                .select_from(LicenseCheckRow)
                .where(LicenseCheckRow.run_id == result["run_id"])
            )
            assert stored == len(rows)
    finally:
        engine.dispose()
    assert result["counts"]["indication_passed"] == len(rows) - len(
        [r for r in rows if r.file in bad]
    )
