"""Reads by id that the store's own interface does not offer, always within one tenant."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from fastapi import HTTPException

from mamori.store.sql import ALERTS_TABLE, INCIDENTS_TABLE

_ALERT_LISTS = ("related", "attack", "event_ids")


def alert(engine: sa.Engine, tenant: str, alert_id: str) -> dict[str, Any] | None:
    """One of the tenant's alerts, or None."""
    query = sa.select(ALERTS_TABLE).where(
        ALERTS_TABLE.c.alert_id == alert_id, ALERTS_TABLE.c.tenant == tenant
    )
    with engine.connect() as connection:
        row = connection.execute(query).mappings().first()
    return None if row is None else _decoded(dict(row))


def own_incident(engine: sa.Engine, tenant: str, incident_id: str) -> None:
    """Raise 404 unless the tenant has this incident (another tenant's is "not found")."""
    query = sa.select(INCIDENTS_TABLE.c.incident_id).where(
        INCIDENTS_TABLE.c.incident_id == incident_id, INCIDENTS_TABLE.c.tenant == tenant
    )
    with engine.connect() as connection:
        if connection.execute(query).first() is None:
            raise HTTPException(404, f"no incident {incident_id!r}")


def entity_alerts(
    engine: sa.Engine, tenant: str, entity_type: str, entity_id: str, limit: int
) -> list[dict[str, Any]]:
    """The tenant's alerts about an entity (as their subject or a related party), newest
    first."""
    table = ALERTS_TABLE
    key = json.dumps(f"{entity_type}:{entity_id}")
    query = (
        sa.select(table)
        .where(
            table.c.tenant == tenant,
            sa.or_(
                sa.and_(table.c.entity_type == entity_type, table.c.entity_id == entity_id),
                table.c.related.contains(key, autoescape=True),
            ),
        )
        .order_by(table.c.time.desc(), table.c.alert_id)
        .limit(limit)
    )
    with engine.connect() as connection:
        return [_decoded(dict(r)) for r in connection.execute(query).mappings()]


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    for name in _ALERT_LISTS:
        if row.get(name) is not None:
            row[name] = json.loads(row[name])
    return row


def entity_incidents(
    engine: sa.Engine, tenant: str, entity_type: str, entity_id: str, limit: int
) -> list[dict[str, Any]]:
    """The tenant's incidents that involve an entity, newest first (summary columns)."""
    table = INCIDENTS_TABLE
    key = json.dumps(f"{entity_type}:{entity_id}")
    query = (
        sa.select(
            table.c.incident_id,
            table.c.title,
            table.c.risk,
            table.c.level,
            table.c.first_seen,
            table.c.last_seen,
        )
        .where(table.c.tenant == tenant, table.c.entities.contains(key, autoescape=True))
        .order_by(table.c.last_seen.desc(), table.c.incident_id)
        .limit(limit)
    )
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(query).mappings()]
