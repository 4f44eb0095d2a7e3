"""Timeliness: overdue cases, claims and reviews, in working days, as of the run's day.

Deadlines are computed in working days (statutory holidays and 调休) where they are
stored — the case timeliness rows of ingestion, the claim and review deadlines of the
item sync — so this suite only compares them with the reference day: a case is overdue
when it was decided late or is still open past its deadline; a claim when it is not
completed by its deadline; a review when a review or a correction is past due and the
copy is still not published. Cases without a timeliness table (an older schema) fall
back to the 承诺办结日期 the source system gave.
"""

from __future__ import annotations

from tongyuan.quality import populations
from tongyuan.quality.checks import Check, SuiteContext
from tongyuan.quality.sql import date_literal

SUITE = "timeliness"
EXPECTATION = "ExpectWithinDeadline"
_DONE = "('11', '12', '13')"
_ENDED = "('2', '4', '5', '14', '15')"


def checks(ctx: SuiteContext) -> list[Check]:
    d = ctx.dialect
    day = date_literal(ctx.as_of)
    if "case_timeliness" in ctx.tables:
        late_case = (
            "timeliness_status IN ('overdue', 'done_late') "
            f"OR (timeliness_status = 'open' AND deadline < {day})"
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
    return [
        Check(SUITE, "case.overdue", populations.cases(ctx), late_case, EXPECTATION),
        Check(SUITE, "claim.overdue", populations.claims(ctx), late_claim, EXPECTATION),
        Check(SUITE, "review.overdue", populations.reviews(ctx), late_review, EXPECTATION),
    ]
