"""Health, Prometheus metrics, and the HTML report of the caller's tenant."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from mamori.api.responses import OrjsonResponse
from mamori.api.security import require
from mamori.api.services import Services, services
from mamori.govern.identity import Principal

router = APIRouter(tags=["system"])


@router.get("/healthz")
def liveness() -> OrjsonResponse:
    """The process answers."""
    return OrjsonResponse({"status": "ok"})


@router.get("/v1/health")
def readiness(found: Annotated[Services, Depends(services)]) -> OrjsonResponse:
    """The database answers and the lake folder is there (503 otherwise)."""
    checks = {"lake": found.lake.root.is_dir()}
    try:
        with found.engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        checks["database"] = True
    except sa.exc.SQLAlchemyError:
        checks["database"] = False
    ok = all(checks.values())
    return OrjsonResponse(
        {"status": "ok" if ok else "degraded", "checks": checks}, status_code=200 if ok else 503
    )


@router.get("/metrics", include_in_schema=False)
def metrics(found: Annotated[Services, Depends(services)]) -> Response:
    """Prometheus metrics (no tenant names in them)."""
    return Response(found.metrics.page(), media_type="text/plain; version=0.0.4")


@router.get("/report", response_class=HTMLResponse)
def report(
    who: Annotated[Principal, Depends(require("read"))],
    found: Annotated[Services, Depends(services)],
) -> HTMLResponse:
    """The self-contained HTML report (as ``mamori report`` writes it) of your tenant, with
    each incident's latest AI triage."""
    from mamori.analyst.archive import latest_views
    from mamori.engine.incidents import institution_level
    from mamori.web.report import render_report

    alerts = found.store.alerts(who.tenant)
    incidents = found.store.incidents(who.tenant)
    levels = institution_level(incidents) if incidents.height else []
    institution = (
        levels[0]
        if levels
        else {"tenant": who.tenant, "level": 1, "reasons": [], "incidents_by_level": {}}
    )
    institution.setdefault("events", None)
    with tempfile.TemporaryDirectory() as folder:
        page = render_report(
            alerts,
            incidents,
            found.store.incident_links(who.tenant),
            institution,
            Path(folder),
            triages=latest_views(found.store.url, [who.tenant]),
        )
        html = page.read_text(encoding="utf-8")
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
