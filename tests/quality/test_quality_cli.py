"""``tongyuan quality run``: JSON summary, bad arguments named, history written."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tongyuan.cli import app
from tongyuan.config import ENV_DATABASE_URL, ENV_HOME, ENV_PII_KEY
from tongyuan.db import make_engine
from tongyuan.libraries.quality import QualityRun

runner = CliRunner()


def _env(settings, db_url: str) -> dict[str, str]:
    return {
        ENV_HOME: str(settings.home),
        ENV_DATABASE_URL: db_url,
        ENV_PII_KEY: settings.pii_key_b64 or "",
    }


def test_run_prints_the_summary_and_stores_the_run(settings, db_url) -> None:
    result = runner.invoke(
        app,
        ["quality", "run", "--suite", "timeliness", "--as-of", "2026-06-30", "--json"],
        env=_env(settings, db_url),
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["suites"] == ["timeliness"] and summary["as_of"] == "2026-06-30"
    assert summary["status"] == "passed"
    assert {r["rule"] for r in summary["rules"]} == {
        "case.overdue",
        "case.prereview.late",
        "claim.overdue",
        "review.overdue",
        "deadline.unknown",
    }
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            run = session.get(QualityRun, summary["run_id"])
            assert run is not None and run.status == "passed" and run.data_docs_path
            assert session.scalars(select(QualityRun)).all() == [run]
    finally:
        engine.dispose()


def test_bad_arguments_are_named(settings, db_url) -> None:
    env = _env(settings, db_url)
    result = runner.invoke(app, ["quality", "run", "--suite", "nonsense"], env=env)
    assert result.exit_code == 2
    assert "nonsense" in result.output and "completeness" in result.output
    result = runner.invoke(app, ["quality", "run", "--scope", "44"], env=env)
    assert result.exit_code == 2 and "region code" in result.output
    result = runner.invoke(app, ["quality", "run", "--as-of", "30/06/2026"], env=env)
    assert result.exit_code == 2 and "2026-06-30" in result.output


def _fake_summary(rules):
    from datetime import UTC, date, datetime

    from tongyuan.quality import QualityRunSummary

    now = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
    failed = any(r.failed for r in rules)
    return QualityRunSummary(
        run_id="run-cli",
        status="failed" if failed else "passed",
        suites=["integrity"],
        scope="all",
        as_of=date(2026, 11, 20),
        started_at=now,
        finished_at=now,
        data_docs_path=None,
        rules=list(rules),
    )


def test_the_table_never_shows_100_percent_when_a_record_failed(settings, db_url, monkeypatch):
    import tongyuan.quality
    from tongyuan.quality import RuleSummary

    rules = [
        RuleSummary("integrity", "ledger.chain", "台账链完整", "ledger", 21_933, 1),
        RuleSummary("completeness", "item.required_elements", "要素完整", "item", 100, 0),
    ]
    monkeypatch.setattr(tongyuan.quality, "run_quality", lambda *a, **k: _fake_summary(rules))
    from tongyuan.cli import common

    monkeypatch.setattr(common.console, "_width", 200)  # no rule id cut to "ledger.ch…"
    result = runner.invoke(
        app, ["quality", "run", "--suite", "integrity"], env=_env(settings, db_url)
    )
    assert result.exit_code == 0, result.output
    ledger = next(line for line in result.output.splitlines() if "ledger.chain" in line)
    assert "99.9%" in ledger and "100.0" not in ledger
    items = next(line for line in result.output.splitlines() if "item.required_elements" in line)
    assert "100.0%" in items


def test_an_empty_hub_shows_no_rate_not_100_percent(settings, db_url, monkeypatch) -> None:
    from tongyuan.cli import common

    monkeypatch.setattr(common.console, "_width", 200)
    env = _env(settings, db_url)
    result = runner.invoke(app, ["quality", "run", "--suite", "timeliness"], env=env)
    assert result.exit_code == 0, result.output
    assert "100.0" not in result.output
    assert "nothing to check · pass rate —" in result.output
    overdue = next(line for line in result.output.splitlines() if "case.overdue" in line)
    assert overdue.rstrip(" │").endswith("—")
    result = runner.invoke(app, ["quality", "run", "--suite", "timeliness", "--json"], env=env)
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert {r["pass_rate"] for r in summary["rules"]} == {None}
