"""The sector hub's TAXII collections (`mamori.share.hub`): one row per object kept.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sector_objects",
        sa.Column("collection", sa.String(), primary_key=True),
        sa.Column("added_us", sa.BigInteger(), primary_key=True, autoincrement=False),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("object_id", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("sector_objects")
