"""Initial library schema: batches, items, cases, materials, licenses, quarantine, serials.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 06:01:12.719696
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

# One JSON type for both backends: JSONB where PostgreSQL has it.
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("read_count", sa.Integer(), nullable=False),
        sa.Column("accepted_count", sa.Integer(), nullable=False),
        sa.Column("quarantined_count", sa.Integer(), nullable=False),
        sa.Column("unchanged_count", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=True),
        sa.Column("meta", JSON_DOC, nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'committed', 'failed')", name=op.f("ck_batches_status")
        ),
        sa.CheckConstraint(
            "read_count >= 0 AND accepted_count >= 0 AND quarantined_count >= 0 "
            "AND unchanged_count >= 0",
            name=op.f("ck_batches_counts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index(op.f("ix_batches_kind"), "batches", ["kind"], unique=False)

    op.create_table(
        "blobs",
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_blobs")),
    )
    op.create_table(
        "serial_counters",
        sa.Column("impl_code", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("impl_code", "day", name=op.f("pk_serial_counters")),
    )
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("source_system", sa.String(length=64), nullable=False),
        sa.Column("dept_case_no", sa.String(length=64), nullable=False),
        sa.Column("impl_code", sa.String(length=64), nullable=False),
        sa.Column("item_name", sa.String(length=200), nullable=True),
        sa.Column("applicant_name", sa.String(length=200), nullable=False),
        sa.Column("applicant_id_type", sa.String(length=8), nullable=False),
        sa.Column("applicant_id_enc", sa.Text(), nullable=False),
        sa.Column("applicant_id_hash", sa.String(length=64), nullable=False),
        sa.Column("applicant_id_masked", sa.String(length=64), nullable=False),
        sa.Column("current_state", sa.String(length=4), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promised_deadline", sa.Date(), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_cases_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("serial", name=op.f("uq_cases_serial")),
        sa.UniqueConstraint(
            "source_system", "dept_case_no", name=op.f("uq_cases_source_system_dept_case_no")
        ),
    )
    op.create_index(
        op.f("ix_cases_applicant_id_hash"), "cases", ["applicant_id_hash"], unique=False
    )
    op.create_index(op.f("ix_cases_batch_id"), "cases", ["batch_id"], unique=False)
    op.create_index(op.f("ix_cases_current_state"), "cases", ["current_state"], unique=False)
    op.create_index(op.f("ix_cases_impl_code"), "cases", ["impl_code"], unique=False)
    op.create_index(op.f("ix_cases_region_code"), "cases", ["region_code"], unique=False)

    op.create_table(
        "item_versions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("impl_code", sa.String(length=64), nullable=False),
        sa.Column("basic_code", sa.String(length=32), nullable=False),
        sa.Column("version_no", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_tombstone", sa.Boolean(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("item_type", sa.String(length=8), nullable=False),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("exercise_level", sa.String(length=4), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("authority_uscc", sa.String(length=32), nullable=False),
        sa.Column("statutory_limit_days", sa.Integer(), nullable=False),
        sa.Column("promised_limit_days", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_item_versions_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_item_versions")),
        sa.UniqueConstraint(
            "impl_code", "version_no", name=op.f("uq_item_versions_impl_code_version_no")
        ),
    )
    op.create_index(
        op.f("ix_item_versions_authority_uscc"), "item_versions", ["authority_uscc"], unique=False
    )
    op.create_index(
        op.f("ix_item_versions_basic_code"), "item_versions", ["basic_code"], unique=False
    )
    op.create_index(op.f("ix_item_versions_batch_id"), "item_versions", ["batch_id"], unique=False)
    op.create_index(
        "ix_item_versions_current",
        "item_versions",
        ["impl_code"],
        unique=True,
        sqlite_where=sa.text("valid_to IS NULL"),
        postgresql_where=sa.text("valid_to IS NULL"),
    )
    op.create_index(
        op.f("ix_item_versions_region_code"), "item_versions", ["region_code"], unique=False
    )

    op.create_table(
        "licenses",
        sa.Column("identifier", sa.String(length=128), nullable=False),
        sa.Column("type_name", sa.String(length=200), nullable=False),
        sa.Column("type_code", sa.String(length=32), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=3), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("issuer_name", sa.String(length=200), nullable=False),
        sa.Column("issuer_code", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("region_code", sa.String(length=12), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("holder_id_type", sa.String(length=8), nullable=False),
        sa.Column("holder_id_enc", sa.Text(), nullable=False),
        sa.Column("holder_id_hash", sa.String(length=64), nullable=False),
        sa.Column("holder_id_masked", sa.String(length=64), nullable=False),
        sa.Column("item_name", sa.String(length=200), nullable=True),
        sa.Column("item_code", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("file", sa.String(length=255), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("signature_ref", sa.String(length=255), nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("indication", sa.String(length=32), nullable=True),
        sa.Column("subindication", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_licenses_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["file_sha256"], ["blobs.sha256"], name=op.f("fk_licenses_file_sha256_blobs")
        ),
        sa.PrimaryKeyConstraint("identifier", name=op.f("pk_licenses")),
    )
    op.create_index(op.f("ix_licenses_batch_id"), "licenses", ["batch_id"], unique=False)
    op.create_index(
        op.f("ix_licenses_holder_id_hash"), "licenses", ["holder_id_hash"], unique=False
    )
    op.create_index(op.f("ix_licenses_issuer_code"), "licenses", ["issuer_code"], unique=False)
    op.create_index(op.f("ix_licenses_region_code"), "licenses", ["region_code"], unique=False)
    op.create_index(op.f("ix_licenses_type_code"), "licenses", ["type_code"], unique=False)

    op.create_table(
        "materials",
        sa.Column("material_id", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("material_type", sa.String(length=64), nullable=False),
        sa.Column("holder_name", sa.String(length=200), nullable=False),
        sa.Column("holder_id_type", sa.String(length=8), nullable=False),
        sa.Column("holder_id_enc", sa.Text(), nullable=False),
        sa.Column("holder_id_hash", sa.String(length=64), nullable=False),
        sa.Column("holder_id_masked", sa.String(length=64), nullable=False),
        sa.Column("media_type", sa.String(length=127), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=True),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("source_case", sa.String(length=64), nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_materials_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["sha256"], ["blobs.sha256"], name=op.f("fk_materials_sha256_blobs")
        ),
        sa.PrimaryKeyConstraint("material_id", name=op.f("pk_materials")),
    )
    op.create_index(op.f("ix_materials_batch_id"), "materials", ["batch_id"], unique=False)
    op.create_index(
        op.f("ix_materials_holder_id_hash"), "materials", ["holder_id_hash"], unique=False
    )
    op.create_index(op.f("ix_materials_sha256"), "materials", ["sha256"], unique=False)
    op.create_index(op.f("ix_materials_source_case"), "materials", ["source_case"], unique=False)

    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("source_file", sa.String(length=1024), nullable=False),
        sa.Column("record_index", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("payload_enc", sa.Text(), nullable=False),
        sa.Column("payload_hash", sa.String(length=64), nullable=False),
        sa.Column("payload_masked", JSON_DOC, nullable=False),
        sa.Column("rules", JSON_DOC, nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("replay_count", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('open', 'replayed', 'resolved', 'discarded')",
            name=op.f("ck_quarantine_status"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_quarantine_batch_id_batches")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_batch_id"), "quarantine", ["batch_id"], unique=False)
    op.create_index(op.f("ix_quarantine_kind"), "quarantine", ["kind"], unique=False)
    op.create_index(
        op.f("ix_quarantine_payload_hash"), "quarantine", ["payload_hash"], unique=False
    )
    op.create_index(op.f("ix_quarantine_rule"), "quarantine", ["rule"], unique=False)
    op.create_index(op.f("ix_quarantine_status"), "quarantine", ["status"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=4), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_case_events_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("case_id", "seq", name=op.f("uq_case_events_case_id_seq")),
    )
    op.create_index(op.f("ix_case_events_batch_id"), "case_events", ["batch_id"], unique=False)


def downgrade() -> None:
    # Dropping a table drops its indexes; children first.
    op.drop_table("case_events")
    op.drop_table("quarantine")
    op.drop_table("materials")
    op.drop_table("licenses")
    op.drop_table("item_versions")
    op.drop_table("cases")
    op.drop_table("serial_counters")
    op.drop_table("blobs")
    op.drop_table("batches")
