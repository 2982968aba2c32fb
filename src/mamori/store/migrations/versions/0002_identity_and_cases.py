"""Identity (tenants, users, API tokens, console sessions) and case work on incidents
(status, assignee, release to the sector, comments).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "users",
        sa.Column("user_id", sa.String(), primary_key=True),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("username", sa.String(), nullable=False, unique=True),
        sa.Column("display_name", sa.String()),
        sa.Column("roles", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String()),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        if_not_exists=True,
    )
    op.create_index("ix_users_tenant", "users", ["tenant"], if_not_exists=True)
    op.create_table(
        "api_tokens",
        sa.Column("token_id", sa.String(), primary_key=True),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("secret_hash", sa.String(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME),
        sa.Column("revoked_at", _TIME),
        if_not_exists=True,
    )
    op.create_index("ix_api_tokens_tenant", "api_tokens", ["tenant"], if_not_exists=True)
    op.create_table(
        "sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(), nullable=False),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("csrf_token", sa.String(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "incident_cases",
        sa.Column("tenant", sa.String(), primary_key=True),
        sa.Column("incident_id", sa.String(), primary_key=True),
        sa.Column("status", sa.String()),
        sa.Column("assignee", sa.String()),
        sa.Column("released", sa.Boolean(), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.Column("updated_by", sa.String(), nullable=False),
        if_not_exists=True,
    )
    op.create_table(
        "incident_comments",
        sa.Column("comment_id", sa.String(), primary_key=True),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("incident_id", sa.String(), nullable=False),
        sa.Column("author", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        if_not_exists=True,
    )
    op.create_index(
        "ix_incident_comments_incident",
        "incident_comments",
        ["tenant", "incident_id"],
        if_not_exists=True,
    )


def downgrade() -> None:
    for table in (
        "incident_comments",
        "incident_cases",
        "sessions",
        "api_tokens",
        "users",
        "tenants",
    ):
        op.drop_table(table)
