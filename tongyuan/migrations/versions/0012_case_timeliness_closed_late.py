"""case_timeliness.status may be ``closed_late``: ended without a decision after the deadline.

A case accepted, past its deadline, then ended without a decision (撤回, 撤件, 不予受理
after 受理) was ``closed`` and never overdue, so it left overdue supervision the day it
ended. Rows are not rewritten here (judging them needs the working-day calendar): the
next ``tongyuan cases overdue`` or ingest of the case recomputes them.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-10 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BEFORE = ("open", "overdue", "done", "done_late", "closed", "no_limit", "unknown")
_AFTER = ("open", "overdue", "done", "done_late", "closed", "closed_late", "no_limit", "unknown")


def _status_check(statuses: tuple[str, ...]) -> None:
    with op.batch_alter_table("case_timeliness") as batch:
        batch.drop_constraint(op.f("ck_case_timeliness_status"), type_="check")
        batch.create_check_constraint(op.f("ck_case_timeliness_status"), f"status IN {statuses!r}")


def upgrade() -> None:
    _status_check(_AFTER)


def downgrade() -> None:
    # The older schema knows no late closing: such a case reads as it did then.
    op.execute(
        sa.text(
            "UPDATE case_timeliness SET status = 'closed', overdue = :no "
            "WHERE status = 'closed_late'"
        ).bindparams(no=False)
    )
    _status_check(_BEFORE)
