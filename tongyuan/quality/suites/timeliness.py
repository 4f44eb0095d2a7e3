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
"""

from __future__ import annotations

from standards.codes.enums import CaseState
from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext
from tongyuan.quality.sql import date_literal

SUITE = "timeliness"
EXPECTATION = "ExpectWithinDeadline"
EXPECTATION_KNOWN = "ExpectDeadlineKnown"
UNKNOWN = "deadline.unknown"
_DONE = "('11', '12', '13')"
_ENDED = "('2', '4', '5', '14', '15')"


def checks(ctx: SuiteContext) -> list[Check]:
    d = ctx.dialect
    day = date_literal(ctx.as_of)
    if "case_timeliness" in ctx.tables:
        # A case still in 特别程序 has its clock stopped since the deadline was computed
        # (timeliness_as_of): the stored deadline is as of that day, and the case is late
        # only if it was late by then already.
        late_case = (
            "timeliness_status IN ('overdue', 'done_late') "
            f"OR (timeliness_status = 'open' AND deadline < {day} AND NOT "
            f"(current_state = '{CaseState.SPECIAL_START.value}' AND deadline >= timeliness_as_of))"
        )
    else:
        late_case = (
            f"promised_deadline IS NOT NULL AND ((current_state IN {_DONE} AND decided_at IS "
            f"NOT NULL AND {d.day_of('decided_at')} > promised_deadline) OR (current_state "
            f"NOT IN {_DONE} AND current_state NOT IN {_ENDED} AND promised_deadline < {day}))"
        )
    late_claim = f"status = 'overdue' OR (status IN ('pushed', 'claimed') AND deadline < {day})"
    late_review = (
        "status NOT IN ('published', 'cancelled') AND "
        f"(review_due < {day} OR correction_due < {day})"
    )
    # The sync stores why a deadline is missing; it clears the reason once no clock runs.
    unknown_claim = "deadline IS NULL AND deadline_problem IS NOT NULL AND status <> 'cancelled'"
    unknown_review = (
        "status NOT IN ('published', 'cancelled') AND deadline_problem IS NOT NULL "
        "AND review_due IS NULL AND correction_due IS NULL"
    )
    cases, claims, reviews = (
        populations.cases(ctx),
        populations.claims(ctx),
        populations.reviews(ctx),
    )
    checks = [
        Check(SUITE, "case.overdue", cases, late_case, EXPECTATION, UNKNOWN),
        Check(SUITE, "claim.overdue", claims, late_claim, EXPECTATION, UNKNOWN),
        Check(SUITE, "review.overdue", reviews, late_review, EXPECTATION, UNKNOWN),
    ]
    if "case_timeliness" in ctx.tables:
        checks.append(
            Check(SUITE, UNKNOWN, cases, "timeliness_status = 'unknown'", EXPECTATION_KNOWN)
        )
    checks += [
        Check(SUITE, UNKNOWN, claims, unknown_claim, EXPECTATION_KNOWN),
        Check(SUITE, UNKNOWN, reviews, unknown_review, EXPECTATION_KNOWN),
    ]
    return checks
