"""item_claims.judged_key: what a claim was last judged on.

A completed claim is judged again only when one of its inputs changed since: the
node's copies of the item (content hash, status), the library's current versions of
them, or the base item's elements a claim is judged against. The key is a hash of
those inputs; claims stored before this revision have none and are judged once more.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-15 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("item_claims") as batch:
        batch.add_column(sa.Column("judged_key", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("item_claims") as batch:
        batch.drop_column("judged_key")
