"""AI triage of an incident over HTTP: ``POST`` runs the analyst gateway, ``GET`` reads the
latest stored triage.

``POST /v1/incidents/{id}/triage`` (analyst, responder, admin: ``work_cases``) does what
``mamori triage`` does, for the caller's tenant: the trust policy and providers come from
``DATA_DIR/trust.toml`` (read on every request, so a policy change needs no restart; without
the file, everyone gets the offline analyst only), the redaction directory from
``DATA_DIR/reference/customers.parquet`` when present, and the gateway
(`mamori.analyst.gateway.Gateway`) records every request, response, refusal and the
decision in the audit chain and stores the triage in the ``triages`` table. The route is a
plain function, so FastAPI runs it on a worker thread: a provider called over the network
never holds the event loop. The caller's role given to the policy is the first (by name) of
its roles that may triage.

The answer is the stored triage as the console shows it (`StoredTriage.view`: the fields,
``claims`` with their citations, ``provider``, ``model``, ``fell_back``) with what the
gateway saw on the way: ``tier``, ``rejected`` answers, ``tool_calls``, ``flagged_text``,
``requests_sent``. A policy refusal is 403 with its reason (and is itself audited); another
tenant's incident, or one that does not exist, is 404 and nothing is recorded.

``GET /v1/incidents/{id}/triage`` (``read``) answers the latest stored triage of the
incident in the same form (without the gateway's extras); 204 (no body) when the incident
was never triaged, 404 when the caller's tenant has no such incident (another tenant's
included).
"""

from __future__ import annotations

import threading
import tomllib
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from mamori.analyst.archive import TRIAGES_TABLE, TriageArchive, _stored
from mamori.analyst.commands import DEFAULT_POLICY, _directory
from mamori.analyst.evidence import gather_evidence
from mamori.analyst.gateway import OFFLINE, Gateway, PolicyRefused
from mamori.analyst.providers import ProviderError, provider_from_config
from mamori.api.actions import ResponseContext, acting_role, response_context
from mamori.api.responses import OrjsonResponse
from mamori.api.routes import lookup
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.govern.identity import PERMISSIONS, Principal
from mamori.govern.policy import TrustPolicy

__all__ = ["TriageRequest", "router"]

router = APIRouter(prefix="/v1/incidents", tags=["triage"])

_OPENING = threading.Lock()


class TriageRequest(BaseModel):
    """Which provider to ask (a name the trust policy's file configures)."""

    provider: str = Field(default=OFFLINE, min_length=1, max_length=64)

    model_config = {"extra": "forbid"}


def _archive(request: Request, found: Services) -> TriageArchive:
    """The app's triage archive (``app.state.triage_archive``), opened on first use."""
    state = request.app.state
    with _OPENING:
        archive: TriageArchive | None = getattr(state, "triage_archive", None)
        if archive is None:
            archive = TriageArchive(found.settings.database)
            state.triage_archive = archive
    return archive


def _gateway_setup(data_dir: Path, provider: str) -> tuple[TrustPolicy, dict[str, Any]]:
    """The trust policy of ``DATA_DIR/trust.toml`` (else offline only) and the provider asked
    for, built from the file's ``[providers]`` (as ``mamori triage`` does)."""
    path = data_dir / "trust.toml"
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else DEFAULT_POLICY
        config = tomllib.loads(text)
        policy = TrustPolicy.from_dict(config)
        providers = {
            name: provider_from_config(name, spec)
            for name, spec in (config.get("providers") or {}).items()
            if name == provider
        }
    except (OSError, tomllib.TOMLDecodeError, ValueError, ProviderError) as err:
        raise HTTPException(503, f"the trust policy (trust.toml) cannot be used: {err}") from err
    return policy, providers


def _stored_view(found: Services, tenant: str, triage_id: str) -> dict[str, Any]:
    query = sa.select(TRIAGES_TABLE).where(
        TRIAGES_TABLE.c.triage_id == triage_id, TRIAGES_TABLE.c.tenant == tenant
    )
    with found.engine.connect() as connection:
        row = connection.execute(query).mappings().one()
    return _stored(row).view()


@router.post("/{incident_id}/triage")
def triage_incident(
    incident_id: str,
    request: Request,
    who: Annotated[Principal, Depends(require("work_cases"))],
    found: Annotated[Services, Depends(services)],
    context: Annotated[ResponseContext, Depends(response_context)],
    asked: Annotated[TriageRequest | None, Body()] = None,
) -> OrjsonResponse:
    """Triage one of the tenant's incidents through the governed gateway (see the module)."""
    provider = (asked or TriageRequest()).provider
    try:
        evidence = gather_evidence(found.store, who.tenant, incident_id)
    except KeyError as err:
        raise HTTPException(404, f"no incident {incident_id!r}") from err
    data_dir = found.settings.data_dir
    policy, providers = _gateway_setup(data_dir, provider)
    customers = data_dir / "reference" / "customers.parquet"
    gateway = Gateway(
        policy,
        context.audit,
        providers,
        source=found.store,
        directory=_directory(customers if customers.is_file() else None),
        archive=_archive(request, found),
    )
    role = acting_role(who, PERMISSIONS["work_cases"])
    try:
        result = gateway.triage(evidence, actor=who.username, role=role, provider=provider)
    except PolicyRefused as err:
        raise HTTPException(403, f"refused by the trust policy: {err}") from err
    answer = _stored_view(found, who.tenant, str(result.triage_id))  # the gateway stored it
    answer.update(
        tier=result.tier,
        rejected=result.rejected,
        tool_calls=result.tool_calls,
        flagged_text=result.flagged_text,
        requests_sent=result.requests_sent,
    )
    return OrjsonResponse(answer)


@router.get(
    "/{incident_id}/triage",
    responses={204: {"description": "The incident was never triaged"}},
)
def latest_triage(
    incident_id: str,
    request: Request,
    who: Annotated[Principal, Depends(require("read"))],
    found: Annotated[Services, Depends(services)],
) -> Response:
    """The latest stored triage of one of the tenant's incidents; 204 when it was never
    triaged, 404 when the tenant has no such incident."""
    stored = _archive(request, found).latest(who.tenant, incident_id)
    if stored is not None:
        return OrjsonResponse(stored.view())
    lookup.own_incident(found.engine, who.tenant, incident_id)
    return Response(status_code=204)

