"""Response actions over HTTP (``/v1/actions``): propose, approve, reject, execute, undo.

The routes are thin: every rule (roles, four eyes, no self-approval, playbook order, dry
run, the audit trail) lives in `mamori.respond.desk`. The desk and its audit chain are opened
once per app from the API's services (`response_context`); the connector is a signed
webhook when ``MAMORI_RESPONSE_WEBHOOK_URL`` and ``MAMORI_RESPONSE_WEBHOOK_SECRET`` are set,
live only when ``MAMORI_RESPONSE_LIVE=1``, otherwise every execution is a dry run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from mamori.api.responses import OrjsonResponse
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.govern.audit import AuditLog
from mamori.govern.identity import Principal
from mamori.respond.catalogue import CATALOGUE, UNDO_ACTIONS, CatalogueError
from mamori.respond.connectors import Connector, WebhookConnector
from mamori.respond.desk import (
    APPROVER_ROLES,
    PROPOSER_ROLES,
    STATUSES,
    NotAllowed,
    RequestNotFound,
    ResponseDesk,
    ResponseError,
)
from mamori.respond.playbooks import PLAYBOOKS

__all__ = ["ResponseContext", "acting_role", "response_context", "router"]

router = APIRouter(prefix="/v1/actions", tags=["actions"])

#: Looks up an incident's AI triage for the console: (tenant, incident id) -> triage or None.
TriageLookup = Callable[[str, str], dict[str, Any] | None]


@dataclass
class ResponseContext:
    """The response desk and audit chain of one API server."""

    desk: ResponseDesk
    audit: AuditLog
    triage: TriageLookup | None = None


_OPENING = threading.Lock()


def _connector() -> Connector | None:
    url = os.environ.get("MAMORI_RESPONSE_WEBHOOK_URL")
    secret = os.environ.get("MAMORI_RESPONSE_WEBHOOK_SECRET")
    if not url or not secret:
        return None
    live = os.environ.get("MAMORI_RESPONSE_LIVE") == "1"
    return WebhookConnector(url, secret.encode(), dry_run=not live)


def response_context(
    request: Request, found: Annotated[Services, Depends(services)]
) -> ResponseContext:
    """The app's `ResponseContext` (``app.state.response``), opened on first use."""
    state = request.app.state
    with _OPENING:
        context: ResponseContext | None = getattr(state, "response", None)
        if context is None:
            url = found.settings.database
            audit = AuditLog(url)
            context = ResponseContext(ResponseDesk(url, audit, _connector()), audit)
            state.response = context
    return context


def acting_role(who: Principal, allowed: Iterable[str]) -> str:
    """The caller's role that allows a step (its first, by name, or any role it has)."""
    fitting = sorted(who.roles & frozenset(allowed))
    return fitting[0] if fitting else sorted(who.roles)[0]


def desk_errors(err: Exception) -> HTTPException:
    """The HTTP error for a desk refusal."""
    if isinstance(err, RequestNotFound):
        return HTTPException(404, str(err))
    if isinstance(err, NotAllowed):
        return HTTPException(403, str(err))
    if isinstance(err, CatalogueError):
        return HTTPException(422, str(err))
    return HTTPException(409, str(err))


class Proposal(BaseModel):
    action: str = Field(max_length=64)
    target: str = Field(max_length=300, description='"type:id", or "incident"')
    reason: str = Field(min_length=1, max_length=2000)
    inputs: dict[str, str | int] = Field(default_factory=dict)
    incident_id: str | None = Field(default=None, max_length=128)

    model_config = {"extra": "forbid"}


class PlaybookProposal(BaseModel):
    incident_id: str = Field(max_length=128)
    reason: str = Field(min_length=1, max_length=2000)

    model_config = {"extra": "forbid"}


class Decision(BaseModel):
    comment: str = Field(default="", max_length=2000)

    model_config = {"extra": "forbid"}


class UndoProposal(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)

    model_config = {"extra": "forbid"}


Reader = Annotated[Principal, Depends(require("read"))]
Worker = Annotated[Principal, Depends(require("work_cases"))]
Context = Annotated[ResponseContext, Depends(response_context)]


@router.get("/catalogue")
def catalogue(who: Reader) -> OrjsonResponse:
    """Every action (impact, inputs, undo) and every playbook."""
    actions = [
        {
            "action": a.action_id,
            "title": a.title,
            "entity_types": list(a.entity_types),
            "impact": a.impact,
            "description": a.description,
            "undo": a.undo,
            "inputs": [
                {
                    "name": i.name,
                    "label": i.label,
                    "kind": i.kind,
                    "required": i.required,
                    "default": i.default,
                    "choices": list(i.choices),
                }
                for i in a.inputs
            ],
        }
        for a in (*CATALOGUE.values(), *UNDO_ACTIONS.values())
    ]
    playbooks = [
        {
            "playbook": p.playbook_id,
            "title": p.title,
            "description": p.description,
            "steps": [{"action": s.action_id, "entity_type": s.entity_type} for s in p.steps],
        }
        for p in PLAYBOOKS.values()
    ]
    return OrjsonResponse({"actions": actions, "playbooks": playbooks})


@router.get("")
def list_actions(
    who: Reader,
    context: Context,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(STATUSES) + ")$")] = None,
    incident_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> OrjsonResponse:
    """The tenant's action requests, newest first."""
    found = context.desk.requests(who.tenant, status=status, incident_id=incident_id, limit=limit)
    return OrjsonResponse({"actions": found})


@router.get("/{request_id}")
def get_action(request_id: str, who: Reader, context: Context) -> OrjsonResponse:
    try:
        return OrjsonResponse(context.desk.request(who.tenant, request_id))
    except ResponseError as err:
        raise desk_errors(err) from None


@router.post("", status_code=201)
def propose(
    body: Proposal, who: Worker, context: Context, found: Annotated[Services, Depends(services)]
) -> OrjsonResponse:
    """Propose one action on an entity (of one of the tenant's incidents, when given)."""
    _check_incident(found, who, body.incident_id)
    try:
        made = context.desk.propose(
            who.tenant,
            body.action,
            body.target,
            actor=who.username,
            role=acting_role(who, PROPOSER_ROLES),
            reason=body.reason,
            inputs=body.inputs,
            incident_id=body.incident_id,
        )
    except (ResponseError, CatalogueError) as err:
        raise desk_errors(err) from None
    return OrjsonResponse(made, status_code=201)


@router.post("/playbooks/{playbook_id}", status_code=201)
def propose_playbook(
    playbook_id: str,
    body: PlaybookProposal,
    who: Worker,
    context: Context,
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """Propose every step of a playbook for one of the tenant's incidents."""
    playbook = PLAYBOOKS.get(playbook_id)
    if playbook is None:
        raise HTTPException(404, f"no playbook {playbook_id!r}")
    incident = _check_incident(found, who, body.incident_id)
    assert incident is not None
    try:
        made = context.desk.propose_playbook(
            who.tenant,
            playbook,
            incident["entities"] or [],
            actor=who.username,
            role=acting_role(who, PROPOSER_ROLES),
            reason=body.reason,
            incident_id=body.incident_id,
        )
    except (ResponseError, CatalogueError) as err:
        raise desk_errors(err) from None
    return OrjsonResponse({"actions": made}, status_code=201)


@router.post("/{request_id}/approve")
def approve(request_id: str, body: Decision, who: Reader, context: Context) -> OrjsonResponse:
    return _step(
        lambda role: context.desk.approve(
            who.tenant, request_id, actor=who.username, role=role, comment=body.comment
        ),
        who,
    )


@router.post("/{request_id}/reject")
def reject(request_id: str, body: Decision, who: Reader, context: Context) -> OrjsonResponse:
    return _step(
        lambda role: context.desk.reject(
            who.tenant, request_id, actor=who.username, role=role, comment=body.comment
        ),
        who,
    )


@router.post("/{request_id}/execute")
def execute(request_id: str, who: Reader, context: Context) -> OrjsonResponse:
    return _step(
        lambda role: context.desk.execute(who.tenant, request_id, actor=who.username, role=role),
        who,
    )


@router.post("/{request_id}/undo", status_code=201)
def undo(request_id: str, body: UndoProposal, who: Worker, context: Context) -> OrjsonResponse:
    try:
        made = context.desk.propose_undo(
            who.tenant,
            request_id,
            actor=who.username,
            role=acting_role(who, PROPOSER_ROLES),
            reason=body.reason,
        )
    except (ResponseError, CatalogueError) as err:
        raise desk_errors(err) from None
    return OrjsonResponse(made, status_code=201)


def _step(run: Callable[[str], dict[str, Any]], who: Principal) -> OrjsonResponse:
    """Run a responder's step with the caller's responder role (the desk refuses others)."""
    try:
        return OrjsonResponse(run(acting_role(who, APPROVER_ROLES)))
    except (ResponseError, CatalogueError) as err:
        raise desk_errors(err) from None


def _check_incident(
    found: Services, who: Principal, incident_id: str | None
) -> dict[str, Any] | None:
    """The tenant's incident, 404 when it has none of that id (None when none was named)."""
    if incident_id is None:
        return None
    incident = found.store.incident(who.tenant, incident_id)
    if incident is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return incident
