"""Incidents of the caller's tenant, with their case: status, assignee, release, comments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Response
from pydantic import BaseModel, Field

from mamori.api.cases import STATUSES
from mamori.api.listings import listing_response
from mamori.api.responses import OrjsonResponse, json_bytes, rows
from mamori.api.routes import lookup
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.govern.identity import Principal

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])

_STATUS = "^(" + "|".join(STATUSES) + ")$"


class CaseChange(BaseModel):
    """Fields to change on an incident's case; those left out stay as they are."""

    status: str | None = Field(default=None, pattern=_STATUS)
    assignee: str | None = Field(default=None, max_length=64)
    released: bool | None = None

    model_config = {"extra": "forbid"}


class NewComment(BaseModel):
    body: str = Field(min_length=1, max_length=10_000)

    model_config = {"extra": "forbid"}


def _with_case(incident: dict[str, Any], case: dict[str, Any] | None) -> dict[str, Any]:
    incident["assignee"] = None if case is None else case["assignee"]
    incident["released"] = False if case is None else bool(case["released"])
    if case is not None and case["status"]:
        incident["status"] = case["status"]
    return incident


@router.get("", response_class=OrjsonResponse)
async def list_incidents(
    who: Annotated[Principal, Depends(require("read"))],
    found: Annotated[Services, Depends(services)],
    min_level: Annotated[int, Query(ge=1, le=5)] = 1,
    status: Annotated[str | None, Query(pattern=_STATUS)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The tenant's incidents, riskiest first, each with its case fields.

    A page asked for before is answered from `found.pages` (see `mamori.api.listings`: kept
    until a write, refreshed in the background after a second); a new one is built on a
    worker thread.
    """
    query = ("incidents", min_level, status, limit)

    def build() -> bytes:
        frame = found.store.incidents(
            who.tenant, min_level=min_level, limit=None if status else limit
        )
        listed = rows(frame)
        cases = found.cases.cases(who.tenant, [i["incident_id"] for i in listed])
        listed = [_with_case(i, cases.get(i["incident_id"])) for i in listed]
        if status:
            listed = [i for i in listed if i["status"] == status][:limit]
        return json_bytes({"incidents": listed, "count": len(listed)})

    return await listing_response(found.pages, who.tenant, query, build)


@router.get("/{incident_id}")
def get_incident(
    incident_id: str,
    who: Annotated[Principal, Depends(require("read"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """One incident with its alerts (time order), case and comments."""
    record = found.store.incident(who.tenant, incident_id)
    if record is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    record["alerts"] = rows(record["alerts"])
    record = _with_case(record, found.cases.cases(who.tenant, [incident_id]).get(incident_id))
    record["comments"] = found.cases.comments(who.tenant, incident_id)
    return OrjsonResponse(record)


@router.patch("/{incident_id}")
def change_case(
    incident_id: str,
    change: CaseChange,
    who: Annotated[Principal, Depends(require("work_cases"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """Set an incident's status, assignee, or release to the sector (responder, admin)."""
    lookup.own_incident(found.engine, who.tenant, incident_id)
    given = change.model_dump(exclude_unset=True)
    if "released" in given and not who.can("release"):
        raise HTTPException(403, "releasing to the sector needs the responder or admin role")
    if given.get("released") is None:
        given.pop("released", None)
    case = found.cases.update(who.tenant, incident_id, who.username, **given)
    return OrjsonResponse(case)


@router.get("/{incident_id}/comments")
def list_comments(
    incident_id: str,
    who: Annotated[Principal, Depends(require("read"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """An incident's comments, oldest first."""
    lookup.own_incident(found.engine, who.tenant, incident_id)
    return OrjsonResponse({"comments": found.cases.comments(who.tenant, incident_id)})


@router.post("/{incident_id}/comments", status_code=201)
def add_comment(
    incident_id: str,
    comment: NewComment,
    who: Annotated[Principal, Depends(require("work_cases"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """Comment on an incident's case."""
    lookup.own_incident(found.engine, who.tenant, incident_id)
    made = found.cases.comment(who.tenant, incident_id, who.username, comment.body)
    return OrjsonResponse(made, status_code=201)
