"""Timeliness: overdue cases, claims and reviews, in working days, as of the run's day.

Deadlines are computed in working days (statutory holidays and 调休) where they are
stored — the case timeliness rows of ingestion, the claim and review deadlines of the
item sync — so this suite only compares them with the reference day: a case is overdue
when it was decided late or is still open past its deadline (one still in 特别程序 only
if it was past its deadline when that was computed: its clock has stopped since); a
claim when it is not completed by its deadline; a review when a review or a correction
is past due and the copy is still not published. Cases without a timeliness table (an
older schema) fall back to the 承诺办结日期 the source system gave.

A deadline the working-day calendar cannot compute (the holiday schedule of the year it
falls in is not published yet) is never a pass: the case, claim or review fails
``deadline.unknown`` (期限无法计算), its own rule in the same theme, so the auditor sees
how many records could not be judged and which (DESIGN: an unpublished year is an
explicit, visible condition). It is not counted as overdue either, nor as evaluated by
the overdue rule: nobody knows, and a pass rate must not rise with what it cannot judge.

**As of a day (``--as-of``).** Records are judged as they stood that day, from what the
hub stores about when things happened: only cases with an event by that day and claims
pushed by it are looked at; a case
is late when it was decided, or ended without a decision (``closed_late``), after its
deadline by that day, or was still open that day past it; its 预审 likewise against the
2-working-day due date; a claim when it was not completed by that day past its deadline.
One limit remains: a case whose 特别程序 began after that day is judged with the deadline
stored since, which counts that pause too (it may be called on time as of a day it was
already late). Review copies are judged by their current status and due dates: the due
dates a copy had before its last change are not stored (docs/auditors.md).
"""

from __future__ import annotations

from datetime import date

from standards.codes.enums import CaseState
from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext
from tongyuan.quality.sql import Dialect, date_literal

SUITE = "timeliness"
EXPECTATION = "ExpectWithinDeadline"
EXPECTATION_KNOWN = "ExpectDeadlineKnown"
UNKNOWN = "deadline.unknown"
PREREVIEW_LATE = "case.prereview.late"
_DONE = "('11', '12', '13')"
_ENDED = "('2', '4', '5', '14', '15')"


def _by(d: Dialect, column: str, as_of: date) -> str:
    """``column`` (a UTC timestamp) happened on or before the hub-local day ``as_of``."""
    return f"({d.happened_by(column, as_of)})"


def _not_by(d: Dialect, column: str, as_of: date) -> str:
    """``column`` had not happened yet by the end of the hub-local day ``as_of``."""
    return f"({column} IS NULL OR NOT {d.happened_by(column, as_of)})"


def _late_case(d: Dialect, as_of: date) -> str:
    """Late as the case stood on ``as_of``: decided, or ended without a decision, after its
    deadline by then, or still open then past it. A case still in 特别程序 has its clock
    stopped since its deadline was computed (timeliness_as_of): it is late only if it
    was late by then already. 受理 and 办结 are read as the history has them (the
    columns, or the events where a column was emptied)."""
    paused = f"(current_state = '{CaseState.SPECIAL_START.value}' AND deadline >= timeliness_as_of)"
    decided, day = "decided_event_at", date_literal(as_of)
    return (
        f"deadline IS NOT NULL AND {_by(d, 'accepted_event_at', as_of)} AND ("
        f"({_by(d, decided, as_of)} AND {d.local_day_of(decided)} > deadline) "
        f"OR ({_not_by(d, decided, as_of)} AND {_by(d, 'ended_at', as_of)} "
        f"AND {d.local_day_of('ended_at')} > deadline) "
        f"OR ({_not_by(d, decided, as_of)} AND {_not_by(d, 'ended_at', as_of)} "
        f"AND deadline < {day} AND NOT {paused}))"
    )


def _late_prereview(d: Dialect, as_of: date) -> str:
    """预审 late as of ``as_of``: the step after 接件 came after its due date by then, or had
    not come by then and the due date had passed."""
    day = date_literal(as_of)
    return (
        f"prereview_deadline IS NOT NULL AND {_by(d, 'received_at', as_of)} AND ("
        f"({_by(d, 'prereview_at', as_of)} "
        f"AND {d.local_day_of('prereview_at')} > prereview_deadline)"
        f" OR ({_not_by(d, 'prereview_at', as_of)} AND prereview_deadline < {day}))"
    )


def _unknown_deadline(d: Dialect, as_of: date) -> str:
    """The case's deadline was running on ``as_of`` (accepted by then) and the calendar
    could not compute it: ``case.overdue`` cannot judge the case."""
    return f"(timeliness_status = 'unknown' AND {_by(d, 'accepted_event_at', as_of)})"


def _unknown_prereview(d: Dialect, as_of: date) -> str:
    """The 预审 due date was running on ``as_of`` (received by then) and the calendar could
    not compute it: ``case.prereview.late`` cannot judge the case."""
    return f"(prereview_deadline IS NULL AND {_by(d, 'received_at', as_of)})"


def checks(ctx: SuiteContext) -> list[Check]:
    d = ctx.dialect
    day = date_literal(ctx.as_of)
    timeliness_table = "case_timeliness" in ctx.tables
    cases = populations.case_times(ctx)
    if timeliness_table:
        late_case = _late_case(d, ctx.as_of)
    else:
        late_case = (
            f"promised_deadline IS NOT NULL AND ((current_state IN {_DONE} AND decided_at IS "
            f"NOT NULL AND {d.day_of('decided_at')} > promised_deadline) OR (current_state "
            f"NOT IN {_DONE} AND current_state NOT IN {_ENDED} AND promised_deadline < {day}))"
        )
    completed = _not_by(d, "completed_at", ctx.as_of)
    not_cancelled = _not_by(d, "cancelled_at", ctx.as_of)
    late_claim = f"deadline IS NOT NULL AND deadline < {day} AND {completed} AND {not_cancelled}"
    late_review = (
        "status NOT IN ('published', 'cancelled') AND "
        f"(review_due < {day} OR correction_due < {day})"
    )
    # The sync stores why a deadline is missing; it clears the reason once no clock runs.
    unknown_claim = (
        f"deadline IS NULL AND deadline_problem IS NOT NULL AND {completed} AND {not_cancelled}"
    )
    unknown_review = (
        "status NOT IN ('published', 'cancelled') AND deadline_problem IS NOT NULL "
        "AND review_due IS NULL AND correction_due IS NULL"
    )
    claims, reviews = populations.claims(ctx), populations.reviews(ctx)
    # Each rule leaves out of its evaluated count the records it cannot judge: its own
    # deadline unknown, not the other rule's (a case whose 预审 was judged stays in
    # case.prereview.late when only its deadline is unknown, and the other way round).
    unknown_deadline = _unknown_deadline(d, ctx.as_of) if timeliness_table else None
    checks = [
        Check(SUITE, "case.overdue", cases, late_case, EXPECTATION, unknown_deadline),
        Check(SUITE, "claim.overdue", claims, late_claim, EXPECTATION, unknown_claim),
        Check(SUITE, "review.overdue", reviews, late_review, EXPECTATION, unknown_review),
    ]
    if timeliness_table:
        unknown_prereview = _unknown_prereview(d, ctx.as_of)
        checks += [
            Check(SUITE, PREREVIEW_LATE, cases, _late_prereview(d, ctx.as_of), EXPECTATION,
                  unknown_prereview),
            Check(SUITE, UNKNOWN, cases, f"{unknown_deadline} OR {unknown_prereview}",
                  EXPECTATION_KNOWN),
        ]  # fmt: skip
    checks += [
        Check(SUITE, UNKNOWN, claims, unknown_claim, EXPECTATION_KNOWN),
        Check(SUITE, UNKNOWN, reviews, unknown_review, EXPECTATION_KNOWN),
    ]
    return checks
