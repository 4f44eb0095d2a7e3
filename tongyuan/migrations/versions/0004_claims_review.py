"""Claims (认领), review-workflow tracking and the per-edge delivery ledger.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _batch_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["batch_id"], ["batches.id"], name=op.f(f"fk_{table}_batch_id_batches")
    )


def upgrade() -> None:
    op.create_table(
        "item_claims",
        sa.Column("node", sa.String(length=40), nullable=False),
        sa.Column("basic_code", sa.String(length=32), nullable=False),
        sa.Column("from_node", sa.String(length=40), nullable=False),
        sa.Column("base_impl_code", sa.String(length=64), nullable=False),
        sa.Column("base_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("impl_code", sa.String(length=64), nullable=True),
        sa.Column("missing", JSON_DOC, nullable=False),
        sa.Column("pushed_at", _TS, nullable=False),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("deadline_problem", sa.Text(), nullable=True),
        sa.Column("claimed_at", _TS, nullable=True),
        sa.Column("completed_at", _TS, nullable=True),
        sa.Column("overdue_since", _TS, nullable=True),
        sa.Column("cancelled_at", _TS, nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.CheckConstraint(
            "status IN ('pushed', 'claimed', 'completed', 'overdue', 'cancelled')",
            name=op.f("ck_item_claims_status"),
        ),
        _batch_fk("item_claims"),
        sa.PrimaryKeyConstraint("node", "basic_code", name=op.f("pk_item_claims")),
    )
    op.create_index(op.f("ix_item_claims_batch_id"), "item_claims", ["batch_id"])
    op.create_index("ix_item_claims_node_status", "item_claims", ["node", "status"])

    op.create_table(
        "item_reviews",
        sa.Column("node", sa.String(length=40), nullable=False),
        sa.Column("impl_code", sa.String(length=64), nullable=False),
        sa.Column("basic_code", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_since", _TS, nullable=False),
        sa.Column("submitted_at", _TS, nullable=True),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("returned_at", _TS, nullable=True),
        sa.Column("correction_due", sa.Date(), nullable=True),
        sa.Column("deadline_problem", sa.Text(), nullable=True),
        sa.Column("refused_status", sa.String(length=16), nullable=True),
        sa.Column("refused_reason", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.Column("updated_at", _TS, nullable=False),
        _batch_fk("item_reviews"),
        sa.PrimaryKeyConstraint("node", "impl_code", name=op.f("pk_item_reviews")),
    )
    op.create_index(op.f("ix_item_reviews_basic_code"), "item_reviews", ["basic_code"])
    op.create_index(op.f("ix_item_reviews_batch_id"), "item_reviews", ["batch_id"])
    op.create_index(op.f("ix_item_reviews_review_due"), "item_reviews", ["review_due"])
    op.create_index(op.f("ix_item_reviews_correction_due"), "item_reviews", ["correction_due"])

    op.create_table(
        "item_review_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=40), nullable=False),
        sa.Column("impl_code", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("legal", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        _batch_fk("item_review_events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_review_events")),
    )
    op.create_index(op.f("ix_item_review_events_batch_id"), "item_review_events", ["batch_id"])
    op.create_index(
        "ix_item_review_events_node_impl_code", "item_review_events", ["node", "impl_code"]
    )

    op.create_table(
        "item_deliveries",
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("from_node", sa.String(length=40), nullable=False),
        sa.Column("to_node", sa.String(length=40), nullable=False),
        sa.Column("impl_code", sa.String(length=64), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("file", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("delivered_at", _TS, nullable=False),
        sa.CheckConstraint(
            "direction IN ('up', 'down')", name=op.f("ck_item_deliveries_direction")
        ),
        _batch_fk("item_deliveries"),
        sa.PrimaryKeyConstraint(
            "direction", "from_node", "to_node", "impl_code", name=op.f("pk_item_deliveries")
        ),
    )
    op.create_index(op.f("ix_item_deliveries_batch_id"), "item_deliveries", ["batch_id"])


def downgrade() -> None:
    op.drop_table("item_deliveries")
    op.drop_table("item_review_events")
    op.drop_table("item_reviews")
    op.drop_table("item_claims")
