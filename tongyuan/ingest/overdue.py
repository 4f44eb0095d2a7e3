"""The overdue list (超期办件) for supervision, recomputed as of today.

Only masked applicant IDs leave this module; names are not listed at all, since the
supervisor needs the case, not the person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from standards.codes.enums import CaseState
from tongyuan.db import make_session_factory
from tongyuan.ingest.timeliness import TimelinessCounts, hub_today, refresh_all
from tongyuan.libraries.base import local_date
from tongyuan.libraries.case_timeliness import CaseTimeliness
from tongyuan.libraries.cases import CaseRow
from tongyuan.libraries.protected import shown_mask


@dataclass(slots=True)
class OverdueReport:
    as_of: date
    counts: TimelinessCounts
    limit: int = 200
    include_prereview: bool = False
    cases: list[dict[str, Any]] = field(default_factory=list)
    prereview: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "checked": self.counts.cases,
            "overdue": self.counts.overdue,
            "prereview_late": self.counts.prereview_late,
            "deadline_unknown": self.counts.unknown,
            "prereview_deadline_unknown": self.counts.prereview_unknown,
            "calendar_problems": self.counts.problems,
            "limit": self.limit,
            # The lists hold at most ``limit`` cases each; the counts above are all of them.
            "truncated": self.truncated,
            "prereview_truncated": self.prereview_truncated,
            "cases": self.cases,
            "prereview_cases": self.prereview,
        }

    @property
    def deadlines_unknown(self) -> bool:
        """Whether some deadline (a case's, or its 预审's) needs a year the calendar lacks."""
        return bool(self.counts.unknown or self.counts.prereview_unknown)

    @property
    def truncated(self) -> bool:
        """Whether more cases are overdue than the list holds."""
        return len(self.cases) < self.counts.overdue

    @property
    def prereview_truncated(self) -> bool:
        """Whether more cases had a late 预审 than the (requested) list holds."""
        return self.include_prereview and len(self.prereview) < self.counts.prereview_late


def _row(case: CaseRow, t: CaseTimeliness) -> dict[str, Any]:
    return {
        "serial": case.serial,
        "source_system": case.source_system,
        "dept_case_no": case.dept_case_no,
        "impl_code": case.impl_code,
        "state": f"{case.current_state} {CaseState(case.current_state).label}",
        "accepted_on": local_date(case.accepted_at).isoformat() if case.accepted_at else None,
        "limit_days": t.limit_days,
        "deadline": t.deadline.isoformat() if t.deadline else None,
        "status": t.status,
        "prereview_deadline": t.prereview_deadline.isoformat() if t.prereview_deadline else None,
        # masked again: rows stored before at-most-a-third hold E123*5678
        "applicant": shown_mask(case.applicant_id_masked, case.applicant_id_type),
    }


def overdue_cases(
    session: Session,
    *,
    today: date | None = None,
    include_prereview: bool = False,
    limit: int = 200,
) -> OverdueReport:
    """Refresh every case's timeliness, then list the overdue ones (oldest deadline first).

    The refresh is :func:`refresh_all`'s, as the quality DAG's: a chunk per transaction of
    its own, case rows locked ``SKIP LOCKED`` (a busy case judged alone afterwards), so
    `cases overdue` beside an ingest neither deadlocks with it nor makes it wait for every
    case. One transaction locking all cases in id order, each chunk's locks held while it
    waited for the next, did both. ``session`` then only reads the list, after the refresh
    committed: it must hold no uncommitted writes (they would not be judged) and, on
    SQLite, no open transaction (the refresh's writer would wait for it).
    """
    today = today or hub_today()
    bind = session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    counts = refresh_all(make_session_factory(engine), today=today)
    report = OverdueReport(
        as_of=today, counts=counts, limit=limit, include_prereview=include_prereview
    )
    rows = session.execute(
        select(CaseRow, CaseTimeliness)
        .join(CaseTimeliness, CaseTimeliness.case_id == CaseRow.id)
        .where(CaseTimeliness.overdue.is_(True))
        .order_by(CaseTimeliness.deadline, CaseRow.serial)
        .limit(limit)
    )
    report.cases = [_row(c, t) for c, t in rows]
    if include_prereview:
        late = session.execute(
            select(CaseRow, CaseTimeliness)
            .join(CaseTimeliness, CaseTimeliness.case_id == CaseRow.id)
            .where(CaseTimeliness.prereview_late.is_(True))
            .order_by(CaseTimeliness.prereview_deadline, CaseRow.serial)
            .limit(limit)
        )
        report.prereview = [_row(c, t) for c, t in late]
    return report
