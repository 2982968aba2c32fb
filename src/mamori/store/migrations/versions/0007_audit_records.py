"""The audit chain's table (`mamori.govern.audit`), under the store's migrations too.

The audit log creates its table itself when it runs in a database of its own; where it
shares the operational store's database, this revision puts it under Alembic like every
other table (taken over as it is where it already exists).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("recorded_at", sa.String(), nullable=False),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("provider", sa.String()),
        sa.Column("model", sa.String()),
        sa.Column("subject", sa.String()),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        if_not_exists=True,
    )
    op.create_index(
        "ix_audit_tenant_seq", "audit_records", ["tenant", "seq"], if_not_exists=True
    )


def downgrade() -> None:
    op.drop_index("ix_audit_tenant_seq", table_name="audit_records")
    op.drop_table("audit_records")
