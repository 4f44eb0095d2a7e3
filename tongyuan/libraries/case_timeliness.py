"""Timeliness of cases (办件时效): deadlines in working days, overdue and pre-review flags.

One row per case, recomputed whenever the case is ingested and by ``tongyuan cases
overdue`` (an open case becomes overdue by the calendar alone, with no new event). A
deadline the working-day calendar cannot compute (the year's holiday schedule is not
known) is stored as ``None`` with the reason in ``problem``, never guessed. ``as_of`` is
the day the row was last computed as of (a recompute whose values did not change only
moves it).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tongyuan.libraries.base import Base, UtcDateTime

# open: not decided, deadline not passed · overdue: not decided, deadline passed (超期)
# done: decided in time · done_late: decided after the deadline (超期办结)
# closed: ended without a decision (撤件, 不予受理, 撤回…) by its deadline, or before 受理
# closed_late: ended without a decision after its deadline (超期, overdue)
# no_limit: no time limit known · unknown: the calendar does not know a year the deadline needs
TIMELINESS_STATUSES: tuple[str, ...] = (
    "open", "overdue", "done", "done_late", "closed", "closed_late", "no_limit", "unknown",
)  # fmt: skip


class CaseTimeliness(Base):
    __tablename__ = "case_timeliness"
    __table_args__ = (CheckConstraint(f"status IN {TIMELINESS_STATUSES!r}", name="status"),)

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(16), index=True)
    overdue: Mapped[bool | None] = mapped_column(Boolean, index=True)
    limit_days: Mapped[int | None] = mapped_column(Integer)
    deadline: Mapped[date | None] = mapped_column(Date)
    received_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    prereview_deadline: Mapped[date | None] = mapped_column(Date)
    prereview_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    prereview_late: Mapped[bool | None] = mapped_column(Boolean)
    as_of: Mapped[date] = mapped_column(Date)
    problem: Mapped[str | None] = mapped_column(Text)
