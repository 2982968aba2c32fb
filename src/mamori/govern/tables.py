"""The audit chain's SQL table (SQLAlchemy Core), kept apart from the operational store's.

It has its own `MetaData`, so it can live in the same database as the operational store
(SQLite or PostgreSQL) without the store knowing about it.
"""

from __future__ import annotations

import sqlalchemy as sa

AUDIT_METADATA = sa.MetaData()

AUDIT_TABLE = sa.Table(
    "audit_records",
    AUDIT_METADATA,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("recorded_at", sa.String(), nullable=False),  # ISO-8601 UTC, hashed as written
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("actor", sa.String(), nullable=False),
    sa.Column("role", sa.String(), nullable=False),
    sa.Column("kind", sa.String(), nullable=False),
    sa.Column("provider", sa.String()),
    sa.Column("model", sa.String()),
    sa.Column("subject", sa.String()),  # what the record is about: an incident id, a tool
    sa.Column("body", sa.Text(), nullable=False),  # canonical JSON
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_tenant_seq", "tenant", "seq"),
)
