"""The fraud decision log (`mamori.detect.fraud.decision_log`): one row per scored payment.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fraud_decisions",
        sa.Column("decision_id", sa.String(), primary_key=True),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("event_id", sa.String(), nullable=False),
        sa.Column("time_us", sa.BigInteger(), nullable=False),
        sa.Column("scored_at_us", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("rules_version", sa.String(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("tx", sa.Text(), nullable=False),
        sa.Column("features", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.UniqueConstraint("tenant", "event_id", name="uq_fraud_decisions_event"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_fraud_decisions_tenant_time",
        "fraud_decisions",
        ["tenant", "time_us"],
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_index("ix_fraud_decisions_tenant_time", table_name="fraud_decisions")
    op.drop_table("fraud_decisions")
