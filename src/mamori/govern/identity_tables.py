"""The SQL tables of identity (SQLAlchemy Core): tenants, users, API tokens, console sessions.

They live in the operational database beside the store's tables and are created and changed
by the same Alembic migrations (`mamori.store.migrations`). Secrets are never stored: a
password and an API token's secret are kept as argon2 hashes, a session id as its SHA-256.
"""

from __future__ import annotations

import sqlalchemy as sa

IDENTITY_METADATA = sa.MetaData()

_TIME = sa.DateTime(timezone=True)

TENANTS_TABLE = sa.Table(
    "tenants",
    IDENTITY_METADATA,
    sa.Column("tenant", sa.String(), primary_key=True),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("kind", sa.String(), nullable=False),  # institution or sector
    sa.Column("created_at", _TIME, nullable=False),
)

USERS_TABLE = sa.Table(
    "users",
    IDENTITY_METADATA,
    sa.Column("user_id", sa.String(), primary_key=True),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("username", sa.String(), nullable=False, unique=True),
    sa.Column("display_name", sa.String()),
    sa.Column("roles", sa.String(), nullable=False),  # comma-separated
    sa.Column("password_hash", sa.String()),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Index("ix_users_tenant", "tenant"),
)

API_TOKENS_TABLE = sa.Table(
    "api_tokens",
    IDENTITY_METADATA,
    sa.Column("token_id", sa.String(), primary_key=True),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("user_id", sa.String(), nullable=False),
    sa.Column("name", sa.String(), nullable=False),
    sa.Column("secret_hash", sa.String(), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("expires_at", _TIME),
    sa.Column("revoked_at", _TIME),
    sa.Index("ix_api_tokens_tenant", "tenant"),
)

SESSIONS_TABLE = sa.Table(
    "sessions",
    IDENTITY_METADATA,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(), nullable=False),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("csrf_token", sa.String(), nullable=False),
    sa.Column("created_at", _TIME, nullable=False),
    sa.Column("expires_at", _TIME, nullable=False),
)
