"""The operational store: alerts, incidents, their links, and runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-01

Tables are created only where missing, so a database made by the store before it used
migrations is taken over as it is.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_COUNTS = ("events_read", "events_accepted", "events_quarantined", "alerts", "incidents")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(), primary_key=True),
        sa.Column("time", _TIME, nullable=False),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("detector", sa.String(), nullable=False),
        sa.Column("rule_id", sa.String(), nullable=False),
        sa.Column("title", sa.Text()),
        sa.Column("severity", sa.String()),
        sa.Column("score", sa.Float()),
        sa.Column("entity_type", sa.String()),
        sa.Column("entity_id", sa.String()),
        sa.Column("related", sa.Text()),
        sa.Column("stage", sa.String()),
        sa.Column("attack", sa.Text()),
        sa.Column("event_ids", sa.Text()),
        sa.Column("explanation", sa.Text()),
        if_not_exists=True,
    )
    op.create_index(
        "ix_alerts_tenant_time", "alerts", ["tenant", "time"], if_not_exists=True
    )
    op.create_table(
        "incidents",
        sa.Column("incident_id", sa.String(), primary_key=True),
        sa.Column("tenant", sa.String(), nullable=False),
        sa.Column("first_seen", _TIME, nullable=False),
        sa.Column("last_seen", _TIME, nullable=False),
        sa.Column("raised_at", _TIME),
        sa.Column("title", sa.Text()),
        sa.Column("risk", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False, server_default="open"),
        sa.Column("stages", sa.Text()),
        sa.Column("entities", sa.Text()),
        sa.Column("reasons", sa.Text()),
        sa.Column("alert_count", sa.Integer(), nullable=False),
        sa.Column("detectors", sa.Text()),
        sa.Column("updated_at", _TIME, nullable=False),
        if_not_exists=True,
    )
    op.create_index(
        "ix_incidents_tenant_risk", "incidents", ["tenant", "risk"], if_not_exists=True
    )
    op.create_table(
        "incident_alerts",
        sa.Column("incident_id", sa.String(), primary_key=True),
        sa.Column("alert_id", sa.String(), primary_key=True),
        sa.Column("tenant", sa.String(), nullable=False),
        if_not_exists=True,
    )
    op.create_index(
        "ix_incident_alerts_alert", "incident_alerts", ["alert_id"], if_not_exists=True
    )
    op.create_table(
        "runs",
        sa.Column("run_id", sa.String(), primary_key=True),
        sa.Column("started_at", _TIME, nullable=False),
        sa.Column("finished_at", _TIME),
        sa.Column("command", sa.String(), nullable=False),
        sa.Column("inputs", sa.Text()),
        *(sa.Column(name, sa.Integer()) for name in _COUNTS),
        sa.Column("status", sa.String(), nullable=False),
        if_not_exists=True,
    )


def downgrade() -> None:
    for table in ("runs", "incident_alerts", "incidents", "alerts"):
        op.drop_table(table)
