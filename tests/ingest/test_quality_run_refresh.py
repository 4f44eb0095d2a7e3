"""After ``db upgrade`` across 0012 the stored case statuses stay as judged before it: a
case ended without a decision after its deadline is still ``closed``. The Airflow quality
DAG refreshes them first (refresh_timeliness); ``tongyuan quality run`` did not, so CLI
and cron runs judged stale rows. It now refreshes them (timeliness suite only), and
``db upgrade`` says so in one line when it crossed 0012 with such rows stored.
"""

from __future__ import annotations

import json

import pytest
from case_histories import case_with, point_cli, t
from ingest_world import DEPT, World
from sqlalchemy import select
from typer.testing import CliRunner

from standards.codes.enums import CaseState as S
from standards.records import CaseEvent
from tongyuan.cli import app
from tongyuan.ingest import ingest_department
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseRow

runner = CliRunner()


def _status(world: World, no: str) -> str:
    query = (
        select(CaseTimeliness.status)
        .join(CaseRow, CaseRow.id == CaseTimeliness.case_id)
        .where(CaseRow.dept_case_no == no)
    )
    return world.query(query)[0][0]


def test_quality_run_refreshes_the_timeliness_an_upgrade_left_stale(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Accepted Mon 2 Mar with 3 working days (due Thu 5 Mar), retracted Mon 16 Mar.
    events = [
        CaseEvent(state=S.ACCEPTED, at=t(3, 2)),
        CaseEvent(state=S.PROCESSING, at=t(3, 3)),
        CaseEvent(state=S.RETRACTED, at=t(3, 16)),
    ]
    world.deliver("cases_001.xml", [case_with("CLOSED-LATE", events)])
    assert ingest_department(world.settings, world.topology, DEPT).added == 1
    assert _status(world, "CLOSED-LATE") == "closed_late"
    point_cli(world, monkeypatch)
    # An older hub: the 0012 downgrade stores the case as the old version judged it.
    assert runner.invoke(app, ["db", "downgrade", "0011"]).exit_code == 0
    assert _status(world, "CLOSED-LATE") == "closed"
    # A quality run on the older schema is refused as the other commands refuse it.
    result = runner.invoke(app, ["quality", "run"], terminal_width=300)
    assert result.exit_code == 2, result.output
    assert "is at revision 0011, not" in result.output and "tongyuan db upgrade" in result.output
    assert "OperationalError" not in result.output

    result = runner.invoke(app, ["db", "upgrade"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "next: run `tongyuan cases overdue`" in result.output
    assert "the 1 case(s) stored as closed" in result.output
    assert _status(world, "CLOSED-LATE") == "closed"
    # A bad scope is refused before the refresh writes anything.
    result = runner.invoke(app, ["quality", "run", "--scope", "12"], terminal_width=300)
    assert result.exit_code == 2 and "6-digit region code" in result.output
    assert "refreshed" not in result.output
    assert _status(world, "CLOSED-LATE") == "closed"

    # A run without the timeliness suite leaves the stored rows alone…
    result = runner.invoke(app, ["quality", "run", "--suite", "rules", "--json"])
    assert result.exit_code == 0, result.output
    assert _status(world, "CLOSED-LATE") == "closed"
    # …one with it refreshes them first, and --json stays one document on stdout.
    result = runner.invoke(app, ["quality", "run", "--suite", "timeliness", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["suites"] == ["timeliness"]
    assert "timeliness refreshed as of today: 1 cases checked" in result.stderr
    assert _status(world, "CLOSED-LATE") == "closed_late"


def test_an_upgrade_with_nothing_stale_says_why_no_refresh_is_needed(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    point_cli(world, monkeypatch)
    assert runner.invoke(app, ["db", "downgrade", "0011"]).exit_code == 0
    result = runner.invoke(app, ["db", "upgrade"], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "no stored case is closed without a decision; no refresh needed" in result.output


def test_a_refresh_the_database_refuses_still_runs_the_suites_and_exits_1(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As in the quality DAG (run_suites runs whatever refresh_timeliness did), a refresh
    refused by the database (locked by an ingest, a deadlock) must not cost the day's
    run; it cancelled it, blaming the database URL."""
    from sqlalchemy.exc import OperationalError

    import tongyuan.ingest.timeliness as timeliness

    point_cli(world, monkeypatch)

    def locked(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("UPDATE case_timeliness", {}, Exception("database is locked"))

    monkeypatch.setattr(timeliness, "refresh_all", locked)
    result = runner.invoke(app, ["quality", "run", "--suite", "timeliness", "--json"])
    assert result.exit_code == 1, result.output
    assert json.loads(result.stdout)["suites"] == ["timeliness"]
    assert "timeliness refresh failed" in result.stderr and "database is locked" in result.stderr
    assert "TONGYUAN_DATABASE_URL" not in result.stderr
