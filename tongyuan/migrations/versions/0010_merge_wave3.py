"""Join the libraries added side by side: ledger, ingest, materials and quarantine,
licence checks, quality history.

Revision ID: 0010
Revises: 0005, 0006, 0007, 0008, 0009
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0010"
down_revision: str | Sequence[str] | None = ("0005", "0006", "0007", "0008", "0009")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the branches touch different tables; this only joins them."""


def downgrade() -> None:
    """Back to the five heads."""
