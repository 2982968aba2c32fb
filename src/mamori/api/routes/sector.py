"""The sector view: incidents the institutions released, for a sector tenant's users.

Only what an institution released is shown, and without naming the institution or the
entities (customers, accounts, hosts) involved: the shape of the threat, not its victims.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException

from mamori.api.responses import OrjsonResponse, rows
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.govern.identity import Principal

router = APIRouter(prefix="/v1/sector", tags=["sector"])

SHARED_FIELDS = (
    "incident_id",
    "title",
    "risk",
    "level",
    "stages",
    "detectors",
    "alert_count",
    "first_seen",
    "last_seen",
)


@router.get("/incidents")
def released_incidents(
    who: Annotated[Principal, Depends(require("read"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """Released incidents of every institution, riskiest first (sector tenants only)."""
    if not who.is_sector:
        raise HTTPException(403, "the sector view is for users of a sector tenant")
    by_tenant: dict[str, set[str]] = defaultdict(set)
    for tenant, incident_id in found.cases.released():
        by_tenant[tenant].add(incident_id)
    shared = []
    for tenant, ids in by_tenant.items():
        frame = found.store.incidents(tenant)
        for incident in rows(frame.filter(frame["incident_id"].is_in(list(ids)))):
            shared.append({k: incident[k] for k in SHARED_FIELDS})
    shared.sort(key=lambda i: (-i["risk"], i["incident_id"]))
    return OrjsonResponse({"incidents": shared, "count": len(shared)})
