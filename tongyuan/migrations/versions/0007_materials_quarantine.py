"""Quarantine replay (origin of each entry, per-entry replay history) and sniffed media types.

Revision ID: 0007
Revises: 0004
Create Date: 2026-11-24 09:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("quarantine") as batch:
        batch.add_column(sa.Column("origin", JSON_DOC, nullable=True))
        batch.add_column(sa.Column("origin_enc", sa.Text(), nullable=True))
        batch.add_column(sa.Column("resolved_batch_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            op.f("fk_quarantine_resolved_batch_id_batches"),
            "batches",
            ["resolved_batch_id"],
            ["id"],
        )
    with op.batch_alter_table("blobs") as batch:
        batch.add_column(sa.Column("sniffed_media_type", sa.String(length=127), nullable=True))
    op.create_table(
        "quarantine_replays",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("rules", JSON_DOC, nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_quarantine_replays_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["quarantine.id"], name=op.f("fk_quarantine_replays_entry_id_quarantine")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine_replays")),
    )
    op.create_index(
        op.f("ix_quarantine_replays_batch_id"), "quarantine_replays", ["batch_id"], unique=False
    )
    op.create_index(
        op.f("ix_quarantine_replays_entry_id"), "quarantine_replays", ["entry_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_quarantine_replays_entry_id"), table_name="quarantine_replays")
    op.drop_index(op.f("ix_quarantine_replays_batch_id"), table_name="quarantine_replays")
    op.drop_table("quarantine_replays")
    with op.batch_alter_table("blobs") as batch:
        batch.drop_column("sniffed_media_type")
    with op.batch_alter_table("quarantine") as batch:
        batch.drop_constraint(op.f("fk_quarantine_resolved_batch_id_batches"), type_="foreignkey")
        batch.drop_column("resolved_batch_id")
        batch.drop_column("origin_enc")
        batch.drop_column("origin")
