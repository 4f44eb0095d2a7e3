"""Item sync: the base catalogue, each node's item copies, cross-level consistency findings.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _batch_fk(table: str, column: str = "batch_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], ["batches.id"], name=op.f(f"fk_{table}_{column}_batches")
    )


def upgrade() -> None:
    op.create_table(
        "base_catalogue",
        sa.Column("basic_code", sa.String(length=32), nullable=False),
        sa.Column("issuer", sa.String(length=12), nullable=False),
        sa.Column("owner_node", sa.String(length=40), nullable=False),
        sa.Column("owner_kind", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("elements", JSON_DOC, nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "owner_kind IN ('issuer', 'provisional', 'first_source')",
            name=op.f("ck_base_catalogue_owner_kind"),
        ),
        _batch_fk("base_catalogue"),
        sa.PrimaryKeyConstraint("basic_code", name=op.f("pk_base_catalogue")),
    )
    op.create_index(op.f("ix_base_catalogue_batch_id"), "base_catalogue", ["batch_id"])

    op.create_table(
        "node_items",
        sa.Column("node", sa.String(length=40), nullable=False),
        sa.Column("impl_code", sa.String(length=64), nullable=False),
        sa.Column("basic_code", sa.String(length=32), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("data", JSON_DOC, nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        _batch_fk("node_items"),
        sa.PrimaryKeyConstraint("node", "impl_code", name=op.f("pk_node_items")),
    )
    op.create_index(op.f("ix_node_items_basic_code"), "node_items", ["basic_code"])
    op.create_index(op.f("ix_node_items_batch_id"), "node_items", ["batch_id"])
    op.create_index("ix_node_items_impl_code", "node_items", ["impl_code"])

    op.create_table(
        "consistency_findings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("basic_code", sa.String(length=32), nullable=False),
        sa.Column("impl_code", sa.String(length=64), nullable=False),
        sa.Column("element", sa.String(length=64), nullable=False),
        sa.Column("owner_value", JSON_DOC, nullable=True),
        sa.Column("other_value", JSON_DOC, nullable=True),
        sa.Column("owner_node", sa.String(length=40), nullable=False),
        sa.Column("other_node", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("first_batch_id", sa.String(length=32), nullable=False),
        sa.Column("batch_id", sa.String(length=32), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "scope IN ('base', 'implementation', 'status')",
            name=op.f("ck_consistency_findings_scope"),
        ),
        sa.CheckConstraint(
            "status IN ('open', 'resolved')", name=op.f("ck_consistency_findings_status")
        ),
        _batch_fk("consistency_findings"),
        _batch_fk("consistency_findings", "first_batch_id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consistency_findings")),
        sa.UniqueConstraint(
            "impl_code",
            "element",
            "other_node",
            name=op.f("uq_consistency_findings_impl_code_element_other_node"),
        ),
    )
    op.create_index(
        op.f("ix_consistency_findings_basic_code"), "consistency_findings", ["basic_code"]
    )
    op.create_index(op.f("ix_consistency_findings_batch_id"), "consistency_findings", ["batch_id"])
    op.create_index(
        "ix_consistency_findings_other_node_status",
        "consistency_findings",
        ["other_node", "status"],
    )


def downgrade() -> None:
    op.drop_table("consistency_findings")
    op.drop_table("node_items")
    op.drop_table("base_catalogue")
