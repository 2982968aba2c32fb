"""Ingest over HTTP: JSON lines or a JSON array of events of any stream kind."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from mamori.api.intake import EngineBusy, IngestRefused
from mamori.api.responses import OrjsonResponse
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.events.schema import KINDS
from mamori.govern.identity import Principal

router = APIRouter(prefix="/v1/ingest", tags=["ingest"])

_LINES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "text/plain"}
_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-ndjson": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
        },
    }
}


@router.post("", status_code=202, openapi_extra=_BODY)
async def ingest(
    request: Request,
    who: Annotated[Principal, Depends(require("ingest"))],
    found: Annotated[Services, Depends(services)],
    kind: Annotated[str | None, Query(pattern="^(" + "|".join(sorted(KINDS)) + ")$")] = None,
) -> OrjsonResponse:
    """Validate a batch, quarantine what does not fit, queue the rest for detection.

    The answer counts the records read, accepted and quarantined (by reason); detection
    follows on the tenant's engine (see ``GET /v1/ingest/status``).
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and media not in _LINES:
        raise HTTPException(415, "send application/x-ndjson (JSON lines) or application/json")
    body = await request.body()
    try:
        result = await run_in_threadpool(
            found.intake.ingest,
            who.tenant,
            body,
            kind=kind,
            json_array=media == "application/json",
        )
    except IngestRefused as error:
        raise HTTPException(422, str(error)) from error
    except EngineBusy as error:
        raise HTTPException(503, str(error), headers={"Retry-After": "2"}) from error
    found.metrics.ingest(result.accepted, result.quarantined)
    return OrjsonResponse(result.as_dict(), status_code=202)


@router.get("/status")
def ingest_status(
    who: Annotated[Principal, Depends(require("ingest"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """The tenant's engine: events waiting, processed, alerts stored, incidents, errors."""
    return OrjsonResponse(found.intake.status(who.tenant).__dict__)
