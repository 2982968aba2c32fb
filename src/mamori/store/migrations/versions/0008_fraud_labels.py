"""Confirmed fraud labels fed back to the scorers (`mamori.detect.fraud.decision_log`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fraud_labels",
        sa.Column("tenant", sa.String(), primary_key=True),
        sa.Column("event_id", sa.String(), primary_key=True),
        sa.Column("known_at_us", sa.BigInteger(), primary_key=True),
        sa.Column("fraud", sa.Boolean(), nullable=False),
        sa.Column("received_at_us", sa.BigInteger(), nullable=False),
        if_not_exists=True,  # a database whose tables were dropped keeps no version table
    )


def downgrade() -> None:
    op.drop_table("fraud_labels", if_exists=True)
