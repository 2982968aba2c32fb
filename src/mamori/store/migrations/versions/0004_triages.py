"""The AI analyst's stored triages (`mamori.analyst.archive`).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "triages",
        sa.Column("triage_id", sa.String(), primary_key=True),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider", sa.String(), nullable=False),
        sa.Column("model", sa.String()),
        sa.Column("requested_provider", sa.String(), nullable=False),
        sa.Column("fell_back", sa.Boolean(), nullable=False),
        sa.Column("fallback_reason", sa.Text()),
        sa.Column("verdict", sa.String(), nullable=False),
        sa.Column("severity", sa.String(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("triage", sa.Text(), nullable=False),
        sa.Column("consistency", sa.Text()),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        if_not_exists=True,
    )
    op.create_index(
        "ix_triages_tenant_incident",
        "triages",
        ["tenant", "incident_id", "created_at"],
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_triages_tenant_incident", table_name="triages")
    op.drop_table("triages")
