"""Hunting: read-only SQL over the caller's tenant's events, with a time and a row limit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from mamori.api.hunting import QueryError, QueryTimeout, hunt
from mamori.api.responses import OrjsonResponse, rows
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.govern.identity import Principal

router = APIRouter(prefix="/v1/hunt", tags=["hunting"])


class HuntQuery(BaseModel):
    """One SELECT over the views transaction(s), flow, auth, winlog and log."""

    sql: str = Field(min_length=1, max_length=20_000)
    limit: int = Field(default=1000, ge=1, le=100_000)

    model_config = {"extra": "forbid"}


@router.post("")
def run_hunt(
    query: HuntQuery,
    who: Annotated[Principal, Depends(require("hunt"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """Run the query; at most `limit` rows (capped by the server's row limit)."""
    limit = min(query.limit, found.settings.hunt_max_rows)
    try:
        frame = hunt(
            found.lake.root,
            who.tenant,
            query.sql,
            limit=limit + 1,
            timeout_s=found.settings.hunt_timeout_s,
        )
    except QueryTimeout as error:
        raise HTTPException(408, str(error)) from error
    except QueryError as error:
        raise HTTPException(400, str(error)) from error
    truncated = frame.height > limit
    frame = frame.head(limit)
    return OrjsonResponse(
        {
            "columns": frame.columns,
            "rows": rows(frame),
            "row_count": frame.height,
            "truncated": truncated,
        }
    )
