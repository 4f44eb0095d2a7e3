"""Mask again the record keys stored in quality_results.failing_keys.

Runs before this revision could store a citizen ID nearly in clear: a finding value was
cut to 40 characters before it was masked, and an ID cut after 17 digits was not known
as one (the 18th is a check digit, so the 17 give it away). The report shows only the
latest run's keys, but every run's stay in the table. Each stored key is masked again
here as current runs mask them (:func:`standards.privacy.mask_text`: every ID the masker
knows, and the digits of an ID's head right before a cut, "…").
Masking only ever stars characters, so a key already masked is left as it is; nothing
is undone on downgrade (the clear digits are gone, as they should be).

quality_results is not covered by the ledger (results are derived, recomputable data),
so rewriting them leaves ``ledger verify`` unchanged.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from tongyuan.migrations.remask import remask_column, remasked_list

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    results = sa.table(
        "quality_results", sa.column("id", sa.Integer), sa.column("failing_keys", sa.JSON)
    )
    remask_column(op.get_bind(), results, "id", "failing_keys", remasked_list)


def downgrade() -> None:
    """Nothing to undo: the keys stay masked."""
