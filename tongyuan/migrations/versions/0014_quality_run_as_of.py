"""quality_runs.as_of: the hub-local day a run judged timeliness and validity as of.

The auditor report counts how many working days a listed case was late as of that day
(超期工作日数); ``tongyuan quality run --as-of`` may name a day other than the run's
start, so the day is stored with the run. Runs stored before this revision have none:
the report takes the Beijing day the run started (what ``--as-of`` defaults to).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("quality_runs") as batch:
        batch.add_column(sa.Column("as_of", sa.Date(), nullable=True))


def downgrade() -> None:
    # Not batch mode: on SQLite it rebuilds quality_runs (copy, DROP, rename), and with
    # foreign keys on, dropping the old table cascades to every quality_results row.
    # SQLite ≥ 3.35 drops a column in place.
    op.drop_column("quality_runs", "as_of")
