"""Mask again the stored text that may hold a citizen ID written in groups.

Before this revision :func:`standards.privacy.mask_text` knew an ID written in groups
only as 6-8-4 (``440305 19850312 001X``); ``110105 1949 1231 002X``,
``1101 0519 4912 3100 2X`` or ``110105.1949.1231.002X`` passed through it in clear, and
a legacy 15-digit number in groups too. Every place the hub stores text it has masked
with mask_text, outside the ledger, is masked again here with the masker that knows
them:

- ``quality_results.failing_keys`` (record keys, masked when a run is stored; 0013 did
  this once before, for IDs cut before they were masked);
- ``quality_runs.error`` (a failed run's error, masked when stored).

Not rewritten, on purpose:

- ``quarantine`` (``message``, ``rules`` messages, ``payload_masked``) and
  ``quarantine_replays`` (``message``): the ledger vouches for these rows
  (:mod:`tongyuan.ledger.digests`), and a row changed outside a batch fails
  ``ledger verify``. What shows them masks them again as it shows them
  (:mod:`tongyuan.quarantine.views` with ``displayed_payload``: ``quarantine list`` and
  ``quarantine show``), so no listing shows what they hold in clear; the quality report
  does not read these tables.
- ``consistency_findings`` values and ``batches.meta``: not text the hub masked before
  storing it (element values are compared with the systems' values on every sync, and
  are masked where they are shown; a failed batch's ``meta.error`` is stored as the
  failure said it).

Masking only stars characters, so a value masked before keeps every star it has; it may
get more (mask_text is not idempotent: another pass can star what the first left), never
fewer. Rows are
read 500 at a time in key order and only changed rows are written, on SQLite and
PostgreSQL alike. quality_* tables are derived, recomputable data not covered by the
ledger.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-13 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from tongyuan.migrations.remask import remask_quality_text

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    remask_quality_text(op.get_bind())


def downgrade() -> None:
    """Nothing to undo: the clear digits are gone, as they should be, and the text stays
    masked (the older masker reads it as it is)."""
