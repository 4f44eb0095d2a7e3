"""signed_deliveries: every signed manifest the hub accepted, to refuse replays.

A department's old signed delivery put back byte for byte verified again and rolled its
cases back. Each accepted delivery is now remembered per department (the sha256 of its
signature envelope, which covers the manifest and the signing time; the signing time;
the batch); one accepted before, or signed no later than the last accepted one, is
refused. Deliveries accepted before this revision are not known: the first signed
delivery after the upgrade is accepted on its own merits and sets the department's mark.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-17 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "signed_deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("department", sa.String(length=32), nullable=False),
        sa.Column("envelope_sha256", sa.String(length=64), nullable=False),
        sa.Column("signing_time", _TS, nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("accepted_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_signed_deliveries_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signed_deliveries")),
        sa.UniqueConstraint(
            "department",
            "envelope_sha256",
            name=op.f("uq_signed_deliveries_department_envelope_sha256"),
        ),
    )
    op.create_index(op.f("ix_signed_deliveries_department"), "signed_deliveries", ["department"])
    op.create_index(op.f("ix_signed_deliveries_batch_id"), "signed_deliveries", ["batch_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_signed_deliveries_batch_id"), table_name="signed_deliveries")
    op.drop_index(op.f("ix_signed_deliveries_department"), table_name="signed_deliveries")
    op.drop_table("signed_deliveries")
