"""Deadlines in working days: the Spring Festival with its 调休 Saturday, 预审, unknown years."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from case_histories import case_with, point_cli, t
from ingest_world import DEPT, World
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from std_factories import PERSON, make_case
from typer.testing import CliRunner

from standards.codes.enums import CaseState as S
from standards.records import CaseEvent
from standards.workdays import WorkCalendar
from tongyuan.cli import app
from tongyuan.db import make_engine
from tongyuan.ingest import ingest_department
from tongyuan.ingest.timeliness import assess
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseRow
from tongyuan.report import build_report

CAL = WorkCalendar.default()


# Accepted Friday 13 Feb 2026, 3 working days: Sat 14 Feb is a 调休 working day (1), the
# holiday runs 15–23 Feb, then Tue 24 (2) and Wed 25 (3). Weekdays alone would say 18 Feb.
ACCEPTED = t(2, 13)
DEADLINE = date(2026, 2, 25)
# The hub's clock for cases accepted late in 2026 whose deadline falls in 2027 (a year the
# calendar does not know): the hub refuses times ahead of its clock.
IN_2027 = datetime(2027, 1, 31, tzinfo=UTC)


def _history(*steps: tuple[S, datetime]) -> list[tuple[S, datetime]]:
    return list(steps)


def test_deadline_counts_the_adjusted_saturday_and_skips_the_holiday() -> None:
    done_in_time = assess(
        _history((S.RECEIVED, t(2, 12)), (S.ACCEPTED, ACCEPTED), (S.DONE_APPROVED, t(2, 24))),
        limit_days=3, today=date(2026, 11, 1), calendar=CAL,
    )  # fmt: skip
    assert done_in_time.deadline == DEADLINE
    assert (done_in_time.status, done_in_time.overdue) == ("done", False)

    done_late = assess(
        _history((S.ACCEPTED, ACCEPTED), (S.DONE_DENIED, t(2, 26))),
        limit_days=3, today=date(2026, 11, 1), calendar=CAL,
    )  # fmt: skip
    assert (done_late.status, done_late.overdue) == ("done_late", True)

    open_case = _history((S.ACCEPTED, ACCEPTED), (S.PROCESSING, t(2, 14)))
    on_the_day = assess(open_case, limit_days=3, today=DEADLINE, calendar=CAL)
    assert (on_the_day.status, on_the_day.overdue) == ("open", False)
    day_after = assess(open_case, limit_days=3, today=DEADLINE + timedelta(days=1), calendar=CAL)
    assert (day_after.status, day_after.overdue) == ("overdue", True)


def test_prereview_within_two_working_days_of_receipt() -> None:
    # Received Thu 12 Feb: due Sat 14 Feb (Fri 13, then the 调休 Saturday).
    in_time = assess(_history((S.RECEIVED, t(2, 12)), (S.ACCEPTED, t(2, 14, 9))),
                     limit_days=3, today=date(2026, 11, 1), calendar=CAL)  # fmt: skip
    assert in_time.prereview_deadline == date(2026, 2, 14)
    assert in_time.prereview_late is False
    late = assess(_history((S.RECEIVED, t(2, 12)), (S.ACCEPTED, t(2, 24))),
                  limit_days=3, today=date(2026, 11, 1), calendar=CAL)  # fmt: skip
    assert late.prereview_late is True
    waiting = _history((S.RECEIVED, t(2, 12)))
    assert (
        assess(waiting, limit_days=3, today=date(2026, 2, 14), calendar=CAL).prereview_late is False
    )
    assert (
        assess(waiting, limit_days=3, today=date(2026, 2, 24), calendar=CAL).prereview_late is True
    )


def test_closed_cases_and_cases_not_yet_accepted_are_not_overdue() -> None:
    withdrawn = assess(_history((S.RECEIVED, t(2, 12)), (S.WITHDRAWN_BEFORE_ACCEPTANCE, t(2, 13))),
                       limit_days=3, today=date(2026, 11, 1), calendar=CAL)  # fmt: skip
    assert (withdrawn.status, withdrawn.overdue) == ("closed", False)
    waiting = assess(_history((S.RECEIVED, t(2, 12))), limit_days=3, today=date(2026, 11, 1),
                     calendar=CAL)  # fmt: skip
    assert waiting.deadline is None and waiting.overdue is False
    no_limit = assess(_history((S.ACCEPTED, ACCEPTED)), limit_days=None,
                      today=date(2026, 11, 1), calendar=CAL)  # fmt: skip
    assert no_limit.status == "no_limit" and no_limit.overdue is None


def test_a_case_the_applicant_withdrew_after_acceptance_is_closed_not_overdue() -> None:
    retracted = assess(_history((S.RECEIVED, t(2, 12)), (S.ACCEPTED, t(2, 13)),
                                (S.RETRACTED, t(2, 16))),
                       limit_days=3, today=date(2026, 11, 1), calendar=CAL)  # fmt: skip
    assert (retracted.status, retracted.overdue) == ("closed", False)


@pytest.mark.parametrize("ending", [S.RETRACTED, S("2"), S("5")], ids=lambda s: s.value)
def test_a_case_ended_without_a_decision_after_its_deadline_stays_overdue(ending: S) -> None:
    """Accepted, past its deadline, then 撤回/撤件/不予受理: it was ``closed`` and dropped
    out of overdue supervision the day it ended."""
    late = assess(_history((S.ACCEPTED, ACCEPTED), (ending, t(3, 2))),
                  limit_days=3, today=date(2026, 11, 1), calendar=CAL)  # fmt: skip
    assert (late.status, late.overdue, late.deadline) == ("closed_late", True, DEADLINE)
    in_time = assess(_history((S.ACCEPTED, ACCEPTED), (ending, t(2, 25))),
                     limit_days=3, today=date(2026, 11, 1), calendar=CAL)  # fmt: skip
    assert (in_time.status, in_time.overdue) == ("closed", False)


def test_an_unknown_year_is_reported_never_guessed() -> None:
    result = assess(_history((S.ACCEPTED, t(3, 3, year=2031))), limit_days=5,
                    today=date(2031, 6, 1), calendar=CAL)  # fmt: skip
    assert result.status == "unknown" and result.deadline is None and result.overdue is None
    assert any("2031" in p for p in result.problems)


def test_special_procedure_days_do_not_count_toward_the_limit() -> None:
    """行政许可法 第45条: 听证、检验、检测、鉴定、专家评审 are not counted in the limit.
    Accepted Mon 2 Mar 2026 with 5 working days (due 9 Mar); 特别程序 from 3 Mar to 1 Apr
    (21 working days in (3 Mar, 1 Apr]); decided 2 Apr: 2 working days used, on time."""
    history = _history(
        (S.ACCEPTED, t(3, 2)),
        (S.SPECIAL_START, t(3, 3)),
        (S.SPECIAL_END, t(4, 1)),
        (S.DONE_APPROVED, t(4, 2)),
    )
    result = assess(history, limit_days=5, today=date(2026, 11, 1), calendar=CAL)
    assert result.deadline == date(2026, 4, 8)
    assert (result.status, result.overdue) == ("done", False)
    # Still in the special procedure: the clock stands still, so not overdue on 1 Apr.
    waiting = _history((S.ACCEPTED, t(3, 2)), (S.SPECIAL_START, t(3, 3)))
    open_case = assess(waiting, limit_days=5, today=date(2026, 4, 1), calendar=CAL)
    assert (open_case.status, open_case.overdue) == ("open", False)
    # 补正 after 受理 is no statutory pause (第32条 places it before 受理): still late.
    corrected = _history(
        (S.ACCEPTED, t(3, 2)),
        (S.CORRECTION_START, t(3, 3)),
        (S.CORRECTION_END, t(4, 1)),
        (S.DONE_APPROVED, t(4, 2)),
    )
    late = assess(corrected, limit_days=5, today=date(2026, 11, 1), calendar=CAL)
    assert (late.deadline, late.status) == (date(2026, 3, 9), "done_late")


def test_ingest_stores_timeliness_and_the_cli_lists_overdue_cases_masked(
    world: World, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    world.deliver("cases_001.xml", [
        case_with("T-DONE", [CaseEvent(state=S.RECEIVED, at=t(2, 12)),
                         CaseEvent(state=S.ACCEPTED, at=ACCEPTED),
                         CaseEvent(state=S.DONE_APPROVED, at=t(2, 24))]),
        case_with("T-LATE", [CaseEvent(state=S.ACCEPTED, at=ACCEPTED),
                         CaseEvent(state=S.DONE_APPROVED, at=t(2, 26))]),
        case_with("T-OPEN", [CaseEvent(state=S.RECEIVED, at=t(2, 12)),
                         CaseEvent(state=S.ACCEPTED, at=t(2, 24))]),
        # A bad case: its quarantine finding names the applicant's ID (masked everywhere).
        make_case(serial=None, dept_case_no="T-BAD", decided_at=None),
    ])  # fmt: skip
    result = ingest_department(world.settings, world.topology, DEPT)
    assert (result.added, result.quarantined) == (3, 1)
    joined = select(CaseRow.dept_case_no, CaseTimeliness.status).join(
        CaseTimeliness, CaseTimeliness.case_id == CaseRow.id
    )
    rows = dict(world.query(joined))
    assert rows["T-DONE"] == "done" and rows["T-LATE"] == "done_late"
    assert rows["T-OPEN"] == "overdue"  # accepted in February with 3 days: past by now

    point_cli(world, monkeypatch)
    runner = CliRunner()
    listed = runner.invoke(app, ["cases", "overdue", "--json", "--prereview"])
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    assert {c["dept_case_no"] for c in document["cases"]} == {"T-LATE", "T-OPEN"}
    assert {c["dept_case_no"] for c in document["prereview_cases"]} == {"T-OPEN"}
    late = next(c for c in document["cases"] if c["dept_case_no"] == "T-LATE")
    assert late["deadline"] == DEADLINE.isoformat()
    assert late["applicant"].endswith(PERSON[-4:]) and "*" in late["applicant"]
    text = runner.invoke(app, ["cases", "overdue", "--prereview"], terminal_width=200)
    assert text.exit_code == 0 and "T-OPEN" in text.output

    topo = str(world.topology.path)
    world.deliver("cases_002.xml", [make_case(serial=None, dept_case_no="T-BAD2", decided_at=None)])
    ingested = runner.invoke(app, ["ingest", "--topology", topo], terminal_width=200)
    assert ingested.exit_code == 0, ingested.output
    assert "case.timestamps" in ingested.output
    as_json = runner.invoke(app, ["ingest", "--topology", topo, "--json"])
    assert as_json.exit_code == 0

    outputs = [listed.output, text.output, ingested.output, as_json.output, caplog.text,
               (world.settings.logs_dir / "tongyuan.log").read_text(encoding="utf-8")
               if (world.settings.logs_dir / "tongyuan.log").exists() else ""]  # fmt: skip
    for out in outputs:
        assert PERSON not in out


def test_overdue_lists_department_numbers_escaped(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A department's case number is free text: Rich markup in it must not crash the
    listing, and a C1 control (U+009B, a one-character CSI) is shown escaped."""
    number = "AB[/x]\x9b2J-1"
    world.deliver("cases_001.xml", [case_with(number, [CaseEvent(state=S.ACCEPTED, at=ACCEPTED)])])
    assert ingest_department(world.settings, world.topology, DEPT).added == 1
    point_cli(world, monkeypatch)
    out = CliRunner().invoke(app, ["cases", "overdue", "--prereview"], terminal_width=300)
    assert out.exit_code == 0, out.output
    # Unescaped, "[/x]" raised MarkupError and the raw CSI reached the terminal.
    assert "\x9b" not in out.output and "AB[/x" in out.output and "x9b" in out.output


def test_overdue_exits_3_when_the_calendar_does_not_know_a_year(
    world: World, monkeypatch: pytest.MonkeyPatch, pin_hub_clock: Callable[[datetime], None]
) -> None:
    pin_hub_clock(datetime(2031, 3, 4, tzinfo=UTC))
    world.deliver("cases_001.xml", [
        case_with("T-2031", [CaseEvent(state=S.ACCEPTED, at=t(3, 3, year=2031))]),
    ])  # fmt: skip
    result = ingest_department(world.settings, world.topology, DEPT)
    assert result.added == 1 and any("2031" in p for p in result.problems)
    (status,) = world.query(select(CaseTimeliness.status, CaseTimeliness.problem))
    assert status[0] == "unknown" and "2031" in status[1]
    point_cli(world, monkeypatch)
    out = CliRunner().invoke(app, ["cases", "overdue", "--json"])
    assert out.exit_code == 3
    assert json.loads(out.stdout)["deadline_unknown"] == 1


def test_a_deadline_the_calendar_cannot_compute_fails_its_own_quality_rule(
    world: World, pin_hub_clock: Callable[[datetime], None]
) -> None:
    """Accepted 2026-12-30 with 3 working days: the deadline falls in 2027, whose
    schedule is not published. As of 2027-06-30 the case is neither on time nor overdue:
    it fails deadline.unknown (期限无法计算), and so do a claim and a review whose
    deadline the sync could not compute."""
    from tongyuan.libraries.batches import open_batch
    from tongyuan.libraries.claims import Claim, ItemReview
    from tongyuan.quality import run_quality

    pin_hub_clock(IN_2027)
    world.deliver("cases_001.xml", [
        case_with("T-2027", [CaseEvent(state=S.ACCEPTED, at=t(12, 30))]),
        case_with("T-DONE", [CaseEvent(state=S.ACCEPTED, at=ACCEPTED),
                         CaseEvent(state=S.DONE_APPROVED, at=t(2, 24))]),
    ])  # fmt: skip
    assert ingest_department(world.settings, world.topology, DEPT).added == 2
    engine = make_engine(world.settings.database_url)
    now = datetime(2026, 12, 1, 2, tzinfo=UTC)
    problem = "the working-day calendar does not know 2027"
    try:
        with Session(engine) as session, session.begin():
            batch = open_batch(session, "sync.items", "node:test")
            session.add(
                Claim(node="440305", basic_code="000100000001", from_node="440300",
                      base_impl_code="x" * 31, base_hash="0" * 64, status="pushed",
                      pushed_at=now, deadline=None, deadline_problem=problem,
                      batch_id=batch.id, updated_at=now)
            )  # fmt: skip
            session.add(
                ItemReview(node="440305", impl_code="y" * 31, basic_code="000100000001",
                           status="registered", status_since=now, submitted_at=now,
                           review_due=None, deadline_problem=problem, updated_at=now)
            )  # fmt: skip
    finally:
        engine.dispose()
    summary = run_quality(world.settings, suites=["timeliness"], as_of=date(2027, 6, 30))
    failed = summary.failed_by_rule()
    assert failed[("deadline.unknown", "case")] == 1
    assert failed[("deadline.unknown", "claim")] == 1
    assert failed[("deadline.unknown", "review")] == 1
    assert failed[("case.overdue", "case")] == 0  # T-DONE on time; T-2027 cannot be judged
    # What cannot be judged is not evaluated either: it must not raise the overdue rates.
    evaluated = {(r.rule, r.kind): r.evaluated for r in summary.rules}
    assert evaluated[("case.overdue", "case")] == 1
    assert evaluated[("deadline.unknown", "case")] == 2
    assert evaluated[("claim.overdue", "claim")] == 0
    assert evaluated[("review.overdue", "review")] == 0
    assert summary.status == "failed"
    report = build_report(world.settings)
    # Judged as of another day than it ran, the run is listed apart with its drill-down
    # pages (never the headline, so not in the exports: docs/auditors.md).
    pages = "".join(p.read_text("utf-8") for p in report.pages)
    assert "deadline.unknown" in pages and "期限无法计算" in pages and "2027-06-30" in pages


def test_a_case_still_in_a_special_procedure_is_judged_as_of_its_stored_deadline(
    world: World,
) -> None:
    """The stored deadline of a case in 特别程序 is as of the day it was computed; its clock
    has stood still since. A quality run weeks later must not call it overdue unless it
    was already late that day."""
    from sqlalchemy import update

    from tongyuan.quality import run_quality

    paused = [CaseEvent(state=S.ACCEPTED, at=t(3, 2)), CaseEvent(state=S.SPECIAL_START, at=t(3, 3))]
    world.deliver("cases_001.xml", [case_with("P-ON-TIME", paused), case_with("P-LATE", paused)])
    assert ingest_department(world.settings, world.topology, DEPT).added == 2
    engine = make_engine(world.settings.database_url)
    try:
        with Session(engine) as session, session.begin():
            ids = dict(session.execute(select(CaseRow.dept_case_no, CaseRow.id)).all())
            # As the ingest of 10 Mar stored them: one due 16 Mar, one due 5 Mar (already late).
            for no, deadline in (("P-ON-TIME", date(2026, 3, 16)), ("P-LATE", date(2026, 3, 5))):
                session.execute(
                    update(CaseTimeliness)
                    .where(CaseTimeliness.case_id == ids[no])
                    .values(status="open", deadline=deadline, as_of=date(2026, 3, 10))
                )
    finally:
        engine.dispose()
    summary = run_quality(world.settings, suites=["timeliness"], as_of=date(2026, 4, 1))
    assert summary.failed_by_rule()[("case.overdue", "case")] == 1


def test_a_cut_overdue_list_says_so_with_the_true_total(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.deliver("cases_001.xml", [
        case_with("T-LATE", [CaseEvent(state=S.ACCEPTED, at=ACCEPTED),
                         CaseEvent(state=S.DONE_APPROVED, at=t(2, 26))]),
        case_with("T-OPEN", [CaseEvent(state=S.ACCEPTED, at=t(2, 24))]),
    ])  # fmt: skip
    assert ingest_department(world.settings, world.topology, DEPT).added == 2
    point_cli(world, monkeypatch)
    runner = CliRunner()
    listed = runner.invoke(app, ["cases", "overdue", "--json", "--limit", "1"])
    assert listed.exit_code == 0, listed.output
    document = json.loads(listed.stdout)
    assert document["overdue"] == 2 and len(document["cases"]) == 1
    assert document["truncated"] is True and document["limit"] == 1
    text = runner.invoke(app, ["cases", "overdue", "--limit", "1"], terminal_width=200)
    assert "overdue cases as of" in text.output and ": 2 (showing the first 1" in text.output
    assert "list cut at 1 of 2" in text.output
    whole = json.loads(runner.invoke(app, ["cases", "overdue", "--json"]).stdout)
    assert whole["truncated"] is False and len(whole["cases"]) == 2


def test_a_bad_calendar_file_is_one_line_naming_it_not_a_traceback(
    world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`cases overdue` printed a ~90-line traceback (exit 1) and `ingest` the problems
    with literal \\n sequences; both now say it in one line naming the file."""
    world.deliver(
        "cases_001.xml", [case_with("T-OPEN", [CaseEvent(state=S.ACCEPTED, at=t(2, 24))])]
    )
    point_cli(world, monkeypatch)
    bad = tmp_path / "calendar.yaml"
    bad.write_text("years:\n  2027: {}\n  0x7EB: {}\n", encoding="utf-8")
    monkeypatch.setenv("TONGYUAN_CALENDAR_FILE", str(bad))
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", "--topology", str(world.topology.path)])
    assert "\\n" not in ingested.output and str(bad) in ingested.output
    assert "years.2027: not a published schedule" in ingested.output
    out = runner.invoke(app, ["cases", "overdue"], terminal_width=2000)
    assert out.exit_code == 2 and "Traceback" not in out.output
    (line,) = out.output.splitlines()
    assert line.startswith(f"error: calendar file {bad} (TONGYUAN_CALENDAR_FILE)")
    assert "2 problem(s): years.2027: not a published schedule" in line
    assert "years.0x7EB: the key must be a year" in line


def test_a_quality_run_as_of_a_past_day_judges_cases_as_they_stood_then(world: World) -> None:
    """--as-of a past day counted cases as overdue that did not exist yet that day (the
    stored status is as of today, the population was every case)."""
    from tongyuan.quality import run_quality

    world.deliver("cases_001.xml", [
        # Due 25 Feb, decided 26 Feb: on time as of 24 Feb, late from 26 Feb.
        case_with("T-LATE", [CaseEvent(state=S.RECEIVED, at=t(2, 12)),
                         CaseEvent(state=S.ACCEPTED, at=ACCEPTED),
                         CaseEvent(state=S.DONE_APPROVED, at=t(2, 26))]),
        # Received 2 Mar, accepted 3 Mar (预审 due 4 Mar), still open: late from 9 Mar.
        case_with("T-MARCH", [CaseEvent(state=S.RECEIVED, at=t(3, 2)),
                          CaseEvent(state=S.ACCEPTED, at=t(3, 3))]),
        # Received Thu 12 Feb, 预审 due Sat 14 Feb (调休), next step 26 Feb: late from 15 Feb.
        case_with("T-PRE", [CaseEvent(state=S.RECEIVED, at=t(2, 12)),
                        CaseEvent(state=S.ACCEPTED, at=t(2, 26)),
                        CaseEvent(state=S.DONE_APPROVED, at=t(2, 27))]),
    ])  # fmt: skip
    assert ingest_department(world.settings, world.topology, DEPT).added == 3

    def judged(day: date) -> dict[str, tuple[int, int]]:
        summary = run_quality(world.settings, suites=["timeliness"], as_of=day)
        return {r.rule: (r.evaluated, r.failed) for r in summary.rules if r.kind == "case"}

    before = judged(date(2026, 2, 14))
    assert before["case.overdue"] == (2, 0)  # T-MARCH did not exist yet
    assert before["case.prereview.late"] == (2, 0)
    assert judged(date(2026, 2, 15))["case.prereview.late"] == (2, 1)  # T-PRE
    assert judged(date(2026, 3, 5))["case.overdue"] == (3, 1)  # T-LATE only
    later = judged(date(2026, 3, 20))
    assert later["case.overdue"] == (3, 2) and later["deadline.unknown"] == (3, 0)


def test_an_unknown_prereview_due_date_exits_3_and_fails_deadline_unknown(
    world: World, monkeypatch: pytest.MonkeyPatch, pin_hub_clock: Callable[[datetime], None]
) -> None:
    """接件 on 30 Dec 2026: 预审 is due in 2027, which the calendar does not know. Only the
    case's own deadline counted towards exit 3, so `cases overdue` said 0."""
    from tongyuan.quality import run_quality

    pin_hub_clock(IN_2027)
    world.deliver(
        "cases_001.xml", [case_with("T-PRE-2027", [CaseEvent(state=S.RECEIVED, at=t(12, 30))])]
    )
    assert ingest_department(world.settings, world.topology, DEPT).added == 1
    point_cli(world, monkeypatch)
    out = CliRunner().invoke(app, ["cases", "overdue", "--json"])
    assert out.exit_code == 3, out.output
    document = json.loads(out.stdout)
    assert (document["deadline_unknown"], document["prereview_deadline_unknown"]) == (0, 1)
    text = CliRunner().invoke(app, ["cases", "overdue"], terminal_width=300)
    assert text.exit_code == 3 and "1 without a known 预审 due date" in " ".join(
        text.output.split()
    )
    summary = run_quality(world.settings, suites=["timeliness"], as_of=date(2027, 1, 10))
    assert summary.failed_by_rule()[("deadline.unknown", "case")] == 1


def test_each_rule_leaves_out_only_the_cases_it_cannot_judge(
    world: World, pin_hub_clock: Callable[[datetime], None]
) -> None:
    """One unknown condition was taken out of both rules' evaluated counts: a case whose
    预审 was judged but whose deadline is unknown left case.prereview.late too, and one
    whose 预审 due date is unknown (not accepted, so not overdue) left case.overdue."""
    from tongyuan.quality import run_quality

    pin_hub_clock(IN_2027)
    world.deliver("cases_001.xml", [
        # 接件 Mon 28 Dec, 受理 the next day: 预审 on time (due 30 Dec); the 3-working-day
        # deadline falls in 2027, which the calendar does not know.
        case_with("DEADLINE-UNKNOWN", [CaseEvent(state=S.RECEIVED, at=t(12, 28)),
                                   CaseEvent(state=S.ACCEPTED, at=t(12, 29))]),
        # 接件 31 Dec, not accepted: not overdue (no deadline runs), 预审 due in 2027.
        case_with("PRE-UNKNOWN", [CaseEvent(state=S.RECEIVED, at=t(12, 31))]),
    ])  # fmt: skip
    assert ingest_department(world.settings, world.topology, DEPT).added == 2
    summary = run_quality(world.settings, suites=["timeliness"], as_of=date(2027, 1, 10))
    judged = {r.rule: (r.evaluated, r.failed) for r in summary.rules if r.kind == "case"}
    assert judged["case.overdue"] == (1, 0)  # PRE-UNKNOWN
    assert judged["case.prereview.late"] == (1, 0)  # DEADLINE-UNKNOWN
    assert judged["deadline.unknown"] == (2, 2)


def test_an_emptied_acceptance_or_decision_time_is_read_from_the_history(world: World) -> None:
    """case.overdue read 受理 and 办结 from the case's columns: a case decided on time whose
    decided_at was emptied was late for ever, an open case past its deadline whose
    accepted_at was emptied never late (completeness reports both columns missing)."""
    from tongyuan.libraries.quality import QualityResult
    from tongyuan.quality import run_quality

    world.deliver("cases_001.xml", [
        # Accepted 2 Mar, 3 working days: due 5 Mar.
        case_with("DONE-ON-TIME", [CaseEvent(state=S.ACCEPTED, at=t(3, 2)),
                               CaseEvent(state=S.DONE_APPROVED, at=t(3, 4))]),
        case_with("OPEN-LATE", [CaseEvent(state=S.ACCEPTED, at=t(3, 2))]),
    ])  # fmt: skip
    assert ingest_department(world.settings, world.topology, DEPT).added == 2
    engine = make_engine(world.settings.database_url)
    try:
        with Session(engine) as session, session.begin():
            no = CaseRow.dept_case_no
            session.execute(update(CaseRow).where(no == "DONE-ON-TIME").values(decided_at=None))
            session.execute(update(CaseRow).where(no == "OPEN-LATE").values(accepted_at=None))
            late_serial = session.scalar(select(CaseRow.serial).where(no == "OPEN-LATE"))
        summary = run_quality(world.settings, suites=["timeliness"], as_of=date(2026, 3, 20))
        assert summary.failed_by_rule()[("case.overdue", "case")] == 1
        with Session(engine) as session:
            keys = session.scalar(
                select(QualityResult.failing_keys).where(
                    QualityResult.run_id == summary.run_id,
                    QualityResult.expectation == "case.overdue",
                    QualityResult.grain == "total",
                )
            )
    finally:
        engine.dispose()
    assert keys == [late_serial]


def test_a_decision_after_the_day_judged_has_not_happened_yet() -> None:
    """Decided after ``today``: open that day (overdue only if its deadline had passed),
    not done_late for a decision still to come; its 预审 step likewise."""
    history = _history((S.RECEIVED, t(2, 12)), (S.ACCEPTED, ACCEPTED), (S.DONE_APPROVED, t(2, 26)))
    before = assess(history, limit_days=3, today=date(2026, 2, 24), calendar=CAL)
    assert (before.status, before.overdue, before.deadline) == ("open", False, DEADLINE)
    after = assess(history, limit_days=3, today=date(2026, 2, 26), calendar=CAL)
    assert (after.status, after.overdue) == ("done_late", True)
    # Received 12 Feb, 预审 due 14 Feb; on the 13th the acceptance had not happened yet.
    received_only = assess(history, limit_days=3, today=date(2026, 2, 12), calendar=CAL)
    assert (received_only.prereview_at, received_only.prereview_late) == (None, False)
    assert received_only.status == "open"


def test_cases_overdue_agrees_with_the_quality_run_on_a_case_decided_after_the_day(
    world: World,
) -> None:
    """The demo's 144 against 143: a case decided after the day was stored done_late and
    listed by `cases overdue`, while case.overdue judged it open and not yet due."""
    from tongyuan.db import make_session_factory
    from tongyuan.ingest.overdue import overdue_cases
    from tongyuan.quality import run_quality

    world.deliver("cases_001.xml", [
        # Due 25 Feb, decided 26 Feb: not yet due on 24 Feb, then late.
        case_with("T-LATER", [CaseEvent(state=S.ACCEPTED, at=ACCEPTED),
                          CaseEvent(state=S.DONE_APPROVED, at=t(2, 26))]),
        # Accepted 2 Feb (due 5 Feb), decided 26 Feb: overdue on 24 Feb either way.
        case_with("T-PAST", [CaseEvent(state=S.ACCEPTED, at=t(2, 2)),
                         CaseEvent(state=S.DONE_APPROVED, at=t(2, 26))]),
    ])  # fmt: skip
    assert ingest_department(world.settings, world.topology, DEPT).added == 2
    engine = make_engine(world.settings.database_url)
    try:
        for day, overdue in ((date(2026, 2, 24), {"T-PAST"}), (date(2026, 3, 2), None)):
            with make_session_factory(engine)() as session:
                report = overdue_cases(session, today=day)
            summary = run_quality(world.settings, suites=["timeliness"], as_of=day)
            quality = summary.failed_by_rule()[("case.overdue", "case")]
            assert report.counts.overdue == quality, day
            listed = {c["dept_case_no"] for c in report.as_dict()["cases"]}
            assert listed == (overdue or {"T-LATER", "T-PAST"})
    finally:
        engine.dispose()
