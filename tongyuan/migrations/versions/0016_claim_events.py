"""item_claim_events: the history of each claim's status moves.

A completed claim is judged again at every push down: it re-opens when the node's item
is cancelled or no longer fits the base item (its promised limit above the base's
statutory limit). Each move is recorded with the item judged and the reason, so a
re-opened claim stays traceable. Claims stored before this revision have no history.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-14 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "item_claim_events",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("node", sa.String(length=40), nullable=False),
        sa.Column("basic_code", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("impl_code", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_item_claim_events_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_claim_events")),
    )
    op.create_index(op.f("ix_item_claim_events_batch_id"), "item_claim_events", ["batch_id"])
    op.create_index(
        "ix_item_claim_events_node_basic_code", "item_claim_events", ["node", "basic_code"]
    )


def downgrade() -> None:
    op.drop_index("ix_item_claim_events_node_basic_code", table_name="item_claim_events")
    op.drop_index(op.f("ix_item_claim_events_batch_id"), table_name="item_claim_events")
    op.drop_table("item_claim_events")
