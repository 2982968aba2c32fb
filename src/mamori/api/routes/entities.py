"""An entity (customer, account, card, device, IP, host, user) and its history in a tenant:
the alerts and incidents about it, and its latest events in the lake."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from mamori.api.hunting import hunt
from mamori.api.responses import OrjsonResponse, rows
from mamori.api.routes import lookup
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.events.schema import ENTITY_COLUMNS
from mamori.govern.identity import Principal

router = APIRouter(prefix="/v1/entities", tags=["entities"])

ENTITY_TYPES = sorted({t for columns in ENTITY_COLUMNS.values() for t in columns.values()})


@router.get("/{entity_type}/{entity_id}")
def entity_history(
    entity_type: Annotated[str, Path(pattern="^(" + "|".join(ENTITY_TYPES) + ")$")],
    entity_id: Annotated[str, Path(max_length=500)],
    who: Annotated[Principal, Depends(require("read"))],
    found: Annotated[Services, Depends(services)],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> OrjsonResponse:
    """Alerts and incidents about the entity (newest first), and its latest events by kind."""
    events: dict[str, list[dict[str, Any]]] = {}
    for kind, columns in ENTITY_COLUMNS.items():
        named = [c for c, t in columns.items() if t == entity_type]
        if not named:
            continue
        where = " OR ".join(f'"{c}" = ?' for c in named)
        frame = hunt(
            found.lake.root,
            who.tenant,
            f'SELECT * FROM "{kind}" WHERE {where} ORDER BY time DESC',
            limit=limit,
            timeout_s=found.settings.hunt_timeout_s,
            parameters=[entity_id] * len(named),
        )
        if frame.height:
            events[kind] = rows(frame)
    return OrjsonResponse(
        {
            "entity_type": entity_type,
            "entity_id": entity_id,
            "alerts": lookup.entity_alerts(found.engine, who.tenant, entity_type, entity_id, limit),
            "incidents": lookup.entity_incidents(
                found.engine, who.tenant, entity_type, entity_id, limit
            ),
            "events": events,
        }
    )
