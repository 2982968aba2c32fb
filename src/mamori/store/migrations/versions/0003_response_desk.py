"""The response desk: action requests and their approvals (`mamori.respond.tables`).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "action_requests",
        sa.Column("request_id", sa.String(), primary_key=True),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("action_id", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("impact", sa.String(), nullable=False),
        sa.Column("approvals_needed", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.String()),
        sa.Column("playbook_run", sa.String()),
        sa.Column("step", sa.Integer()),
        sa.Column("undo_of", sa.String()),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("proposed_by", sa.String(), nullable=False),
        sa.Column("proposer_kind", sa.String(), nullable=False),
        sa.Column("proposed_at", _TIME, nullable=False),
        sa.Column("decided_at", _TIME),
        sa.Column("executed_by", sa.String()),
        sa.Column("executed_at", _TIME),
        sa.Column("dry_run", sa.Boolean()),
        sa.Column("result", sa.Text()),
        if_not_exists=True,
    )
    op.create_index(
        "ix_action_requests_tenant_status",
        "action_requests",
        ["tenant", "status"],
        if_not_exists=True,
    )
    op.create_index(
        "ix_action_requests_incident",
        "action_requests",
        ["tenant", "incident_id"],
        if_not_exists=True,
    )
    op.create_table(
        "action_approvals",
        sa.Column("request_id", sa.String(), primary_key=True),
        sa.Column("approver", sa.String(), primary_key=True),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("decision", sa.String(), nullable=False),
        sa.Column("comment", sa.Text()),
        sa.Column("decided_at", _TIME, nullable=False),
        if_not_exists=True,
    )


def downgrade() -> None:
    op.drop_table("action_approvals")
    op.drop_table("action_requests")
