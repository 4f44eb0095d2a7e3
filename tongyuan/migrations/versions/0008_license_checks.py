"""License verification: every check of every license, pipeline state, signature blobs.

Revision ID: 0008
Revises: 0004
Create Date: 2026-11-24 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("licenses") as batch:
        batch.add_column(sa.Column("signature_sha256", sa.String(length=64), nullable=True))
        batch.create_foreign_key(
            op.f("fk_licenses_signature_sha256_blobs"), "blobs", ["signature_sha256"], ["sha256"]
        )
    op.create_table(
        "license_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("identifier", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("checked_at", _TS, nullable=False),
        sa.Column("check_date", sa.String(length=10), nullable=False),
        sa.Column("indication", sa.String(length=32), nullable=False),
        sa.Column("subindication", sa.String(length=64), nullable=True),
        sa.Column("signer", sa.String(length=500), nullable=True),
        sa.Column("signer_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("signing_time", _TS, nullable=True),
        sa.Column("algorithm", sa.String(length=32), nullable=True),
        sa.Column("format", sa.String(length=16), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("license_status", sa.String(length=16), nullable=False),
        sa.Column("content_matches", sa.Boolean(), nullable=True),
        sa.Column("holder_matches", sa.Boolean(), nullable=True),
        sa.Column("item_exists", sa.Boolean(), nullable=True),
        sa.Column("usable", sa.Boolean(), nullable=False),
        sa.Column("issuers", JSON_DOC, nullable=False),
        sa.Column("crl_numbers", JSON_DOC, nullable=False),
        sa.Column("checks", JSON_DOC, nullable=False),
        sa.ForeignKeyConstraint(
            ["identifier"],
            ["licenses.identifier"],
            name=op.f("fk_license_checks_identifier_licenses"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_license_checks")),
    )
    op.create_index(op.f("ix_license_checks_identifier"), "license_checks", ["identifier"])
    op.create_index(op.f("ix_license_checks_run_id"), "license_checks", ["run_id"])
    op.create_index(
        op.f("ix_license_checks_signer_fingerprint"), "license_checks", ["signer_fingerprint"]
    )
    op.create_table(
        "license_verify_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("state", JSON_DOC, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_license_verify_state")),
    )


def downgrade() -> None:
    op.drop_table("license_verify_state")
    op.drop_index(op.f("ix_license_checks_signer_fingerprint"), table_name="license_checks")
    op.drop_index(op.f("ix_license_checks_run_id"), table_name="license_checks")
    op.drop_index(op.f("ix_license_checks_identifier"), table_name="license_checks")
    op.drop_table("license_checks")
    with op.batch_alter_table("licenses") as batch:
        batch.drop_constraint(op.f("fk_licenses_signature_sha256_blobs"), type_="foreignkey")
        batch.drop_column("signature_sha256")
