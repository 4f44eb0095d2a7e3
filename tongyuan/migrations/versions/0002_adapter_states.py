"""Adapter stream states: incremental cursors stored with the data they describe.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 06:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "adapter_states",
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("state", JSON_DOC, nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_adapter_states_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("source", "stream", name=op.f("pk_adapter_states")),
    )


def downgrade() -> None:
    op.drop_table("adapter_states")
