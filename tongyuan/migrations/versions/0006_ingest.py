"""Case ingestion: timeliness of every case (deadlines, 超期, 预审).

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-24 09:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "case_timeliness",
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=True),
        sa.Column("limit_days", sa.Integer(), nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("received_at", _TS, nullable=True),
        sa.Column("prereview_deadline", sa.Date(), nullable=True),
        sa.Column("prereview_at", _TS, nullable=True),
        sa.Column("prereview_late", sa.Boolean(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'overdue', 'done', 'done_late', 'closed', 'no_limit', 'unknown')",
            name=op.f("ck_case_timeliness_status"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_timeliness_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_case_timeliness")),
    )
    op.create_index(op.f("ix_case_timeliness_status"), "case_timeliness", ["status"])
    op.create_index(op.f("ix_case_timeliness_overdue"), "case_timeliness", ["overdue"])


def downgrade() -> None:
    op.drop_index(op.f("ix_case_timeliness_overdue"), table_name="case_timeliness")
    op.drop_index(op.f("ix_case_timeliness_status"), table_name="case_timeliness")
    op.drop_table("case_timeliness")
