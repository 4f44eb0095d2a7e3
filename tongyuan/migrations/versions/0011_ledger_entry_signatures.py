"""Ledger entries signed by the hub: the key id and signature beside each entry hash.

Entries written before this revision stay unsigned; ``ledger verify`` accepts them only
before the first signed entry and pinned by a checkpoint (docs/ledger.md §4).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from alembic.util import CommandError

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ledger_entries") as batch:
        batch.add_column(sa.Column("key_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("signature", sa.Text(), nullable=True))


def downgrade() -> None:
    # Signed entries cannot go back: the checkpoints written since promise every later
    # entry is signed, so without the columns the whole chain would read as forged and
    # no checkpoint could be made again. Dropping everything (``base``) is still allowed.
    target = context.get_revision_argument()
    if target not in ("base", None):
        signed = op.get_bind().execute(
            sa.text("SELECT COUNT(*) FROM ledger_entries WHERE signature IS NOT NULL")
        )
        count = signed.scalar_one()
        if count:
            raise CommandError(
                f"refusing to downgrade below 0011: {count} ledger entries are signed by the "
                "hub, and the checkpoints since promise signed entries — without the "
                "signatures `ledger verify` would report the whole chain as forged"
            )
    with op.batch_alter_table("ledger_entries") as batch:
        batch.drop_column("signature")
        batch.drop_column("key_id")
