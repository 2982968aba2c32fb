"""The response desk's SQL tables (SQLAlchemy Core): action requests and their approvals.

They have their own `MetaData`, like the audit chain's, so they live in the operational
store's database without the store knowing them. Approvals have the key (request, approver):
the database itself refuses a second approval by the same person.
"""

from __future__ import annotations

import sqlalchemy as sa

RESPOND_METADATA = sa.MetaData()

_UTC_TIME = sa.DateTime(timezone=True)

ACTION_REQUESTS_TABLE = sa.Table(
    "action_requests",
    RESPOND_METADATA,
    sa.Column("request_id", sa.String(), primary_key=True),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("action_id", sa.String(), nullable=False),
    sa.Column("target", sa.String(), nullable=False),  # "type:id" or "incident"
    sa.Column("inputs", sa.Text(), nullable=False),  # JSON object
    sa.Column("impact", sa.String(), nullable=False),
    sa.Column("approvals_needed", sa.Integer(), nullable=False),
    sa.Column("incident_id", sa.String()),
    sa.Column("playbook_run", sa.String()),  # requests proposed together by one playbook
    sa.Column("step", sa.Integer()),  # their order in the playbook
    sa.Column("undo_of", sa.String()),  # the request this one reverses
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("proposed_by", sa.String(), nullable=False),
    sa.Column("proposer_kind", sa.String(), nullable=False),  # person, rule, ai
    sa.Column("proposed_at", _UTC_TIME, nullable=False),
    sa.Column("decided_at", _UTC_TIME),
    sa.Column("executed_by", sa.String()),
    sa.Column("executed_at", _UTC_TIME),
    sa.Column("dry_run", sa.Boolean()),
    sa.Column("result", sa.Text()),  # JSON: the connector's answer
    sa.Index("ix_action_requests_tenant_status", "tenant", "status"),
    sa.Index("ix_action_requests_incident", "tenant", "incident_id"),
)

ACTION_APPROVALS_TABLE = sa.Table(
    "action_approvals",
    RESPOND_METADATA,
    sa.Column("request_id", sa.String(), primary_key=True),
    sa.Column("approver", sa.String(), primary_key=True),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("decision", sa.String(), nullable=False),  # approve, reject
    sa.Column("comment", sa.Text()),
    sa.Column("decided_at", _UTC_TIME, nullable=False),
)
