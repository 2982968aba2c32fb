"""Alerts of the caller's tenant: the list (newest first, with filters) and one by id."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import polars as pl
from fastapi import APIRouter, Depends, HTTPException, Query, Response

from mamori.api.listings import listing_response
from mamori.api.responses import OrjsonResponse, json_bytes, rows
from mamori.api.routes import lookup
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.govern.identity import Principal

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])

SEVERITIES = ("informational", "low", "medium", "high", "critical")


@router.get("", response_class=OrjsonResponse)
async def list_alerts(
    who: Annotated[Principal, Depends(require("read"))],
    found: Annotated[Services, Depends(services)],
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    detector: Annotated[str | None, Query(max_length=200)] = None,
    severity: Annotated[str | None, Query(pattern="^(" + "|".join(SEVERITIES) + ")$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The tenant's alerts, newest first; `since` inclusive, `until` exclusive.

    A page asked for before is answered from `found.pages` (see `mamori.api.listings`: kept
    until a write, refreshed in the background after a second); a new one is built on a
    worker thread.
    """
    query = ("alerts", since, until, detector, severity, limit)

    def build() -> bytes:
        frame = found.store.alerts(
            who.tenant,
            since=since,
            until=until,
            detector=detector,
            limit=None if severity else limit,
        )
        if severity:
            frame = frame.filter(pl.col("severity") == severity)
        frame = frame.sort(["time", "alert_id"], descending=True).head(limit)
        return json_bytes({"alerts": rows(frame), "count": frame.height})

    return await listing_response(found.pages, who.tenant, query, build)


@router.get("/{alert_id}")
def get_alert(
    alert_id: str,
    who: Annotated[Principal, Depends(require("read"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """One alert of the tenant (404 if the tenant has no such alert)."""
    record = lookup.alert(found.engine, who.tenant, alert_id)
    if record is None:
        raise HTTPException(404, f"no alert {alert_id!r}")
    return OrjsonResponse(record)
