"""`tongyuan demo` end to end on the embedded default, twice; nothing personal in the logs.

The demo loads a generated dataset and then runs the item_sync, case_ingest,
license_verify and quality DAGs through Airflow (dag.test on the embedded Airflow home),
so this is a slow test.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from standards.privacy import contains_citizen_id
from tongyuan.cli import app
from tongyuan.config import load_settings
from tongyuan.db import make_engine, make_session_factory
from tongyuan.inventory import library_counts
from tongyuan.libraries.batches import Batch

runner = CliRunner()


def _counts():
    """Library sizes and load batches (every item sync run records its own batches)."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            batches = session.scalar(
                select(func.count()).select_from(Batch).where(Batch.kind.like("load.%"))
            )
            return library_counts(session), batches
    finally:
        engine.dispose()


@pytest.mark.slow
def test_demo_runs_twice_and_the_second_run_changes_nothing():
    args = ["demo", "--cases", "400", "--items", "40", "--bad-rate", "0.05"]
    first = runner.invoke(app, args, terminal_width=160)
    assert first.exit_code == 0, first.output
    assert "Libraries now hold" in first.output and "quarantine" in first.output
    counts, batches = _counts()
    assert counts["cases"] > 300 and counts["items_current"] > 30 and counts["quarantine_open"] > 0
    # Through Airflow: item_sync twice (first exports, next exports), then case_ingest,
    # license_verify and quality once each.
    assert first.output.count("DagRun success") == 5
    for dag_id in ("item_sync", "case_ingest", "license_verify", "quality"):
        assert f"{dag_id}" in first.output
    assert "case_ingest, per department" in first.output
    assert "Licences checked this run" in first.output
    assert "auditor report:" in first.output
    assert (load_settings().reports_dir / "index.html").is_file()
    assert "What the run changed, per item system" in first.output
    assert "深圳市市场监督管理局" in first.output and "open consistency findings" in first.output
    assert "tongyuan://libraries/items updated" in first.output

    second = runner.invoke(app, args, terminal_width=160)
    assert second.exit_code == 0, second.output
    assert "using the dataset generated earlier" in second.output
    assert "level systems generated earlier" in second.output
    assert second.output.count("DagRun success") == 4
    assert "department cases delivered earlier" in second.output
    assert "the item library did not change" in second.output
    assert _counts() == (counts, batches)

    settings = load_settings()
    log = (settings.logs_dir / "tongyuan.log").read_text(encoding="utf-8")
    assert "committed cases/" in log
    assert not contains_citizen_id(log)
    assert not contains_citizen_id(first.output + second.output)
