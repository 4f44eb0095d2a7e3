"""Mask again the stored text that may hold a citizen ID written with other separators.

Before this revision :func:`standards.privacy.mask_text` knew an ID written in groups
only with one space, hyphen or dot between groups; ``110105  19491231  002X`` (two
spaces), ``110105 - 19491231 - 002X``, ``110105/19491231/002X``,
``110105_19491231_002X``, groups split by tabs or line ends
(``11010519491231\\n002X``) and a grouped ID glued to letters
(``ID110105 19491231 002X``) passed through it in clear. The same columns as 0015 are
masked again, for the same reasons and with the same exclusions (see there: the ledger's
rows are masked again whenever they are shown):

- ``quality_results.failing_keys``;
- ``quality_runs.error``.

Masking only stars characters (tabs and line ends are kept), so a value masked before
keeps every star it has and may get more, never fewer.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-16 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from tongyuan.migrations.remask import remask_quality_text

revision: str = "0018"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    remask_quality_text(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the clear digits are gone, as they should be, and the text stays
    masked (the older masker reads it as it is)."""
