"""The SOC console: server-rendered pages, live updates over server-sent events, and the
response-action routes (``/v1/actions``, from `mamori.api.actions`).

Pages live under ``/console``; a visitor without a session is sent to the login page. The
console logs in through `mamori.govern.identity` (the same users, sessions and CSRF tokens
as the API) and its buttons call the JSON API with the session's CSRF token, so every rule
is enforced in one place. Pages carry a Content-Security-Policy that allows only this
server's own scripts and styles: nothing comes from a CDN.

Live updates: ``/console/live`` streams an ``incident`` event for every incident of the
tenant created or changed since the client's cursor (the ``Last-Event-ID`` the browser sends
back on reconnecting), so an incident raised by ingest appears without a reload.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import quote

import jinja2
import polars as pl
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)

from mamori.analyst.archive import TriageArchive
from mamori.api import actions
from mamori.api.actions import ResponseContext, TriageLookup, response_context
from mamori.api.hunting import QueryError, hunt
from mamori.api.security import CSRF_COOKIE, SESSION_COOKIE
from mamori.api.services import Services, services
from mamori.engine.incidents import RAISE_LEVEL
from mamori.govern.identity import ConsoleSession, constant_time_equal
from mamori.respond.catalogue import CATALOGUE
from mamori.respond.playbooks import PLAYBOOKS
from mamori.share.hub import watch_status
from mamori.web.console import LANGUAGES, STATIC, TEMPLATES, translate
from mamori.web.console.charts import TYPE_COLOURS, bars, entity_graph, trend

__all__ = ["LANGUAGE_COOKIE", "router"]

router = APIRouter()
router.include_router(actions.router)

LANGUAGE_COOKIE = "mamori_lang"
#: Seconds between the live stream's looks at the store, and the longest a stream stays
#: open before the browser reconnects (with its cursor, so nothing is missed).
LIVE_POLL_S = 1.0
LIVE_MAX_S = 300.0
#: Rows the alert queue and entity pages show at most.
ALERT_ROWS = 500

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
_CLOSED = ("resolved", "false_positive")
_SEVERITIES = ("critical", "high", "medium", "low", "informational")

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


_STATIC_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}
#: The console's own assets, by name (nothing else under the folder is served).
_ASSETS = {p.name: p for p in STATIC.iterdir() if p.suffix in _STATIC_TYPES}


@router.get("/console/static/{name}", include_in_schema=False)
def static_asset(name: str) -> Response:
    """One of the console's CSS, JS or SVG files (cached for an hour)."""
    path = _ASSETS.get(name)
    if path is None:
        return Response(status_code=404)
    return FileResponse(
        path,
        media_type=_STATIC_TYPES[path.suffix],
        headers={"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


Found = Annotated[Services, Depends(services)]
Context = Annotated[ResponseContext, Depends(response_context)]


# --- sessions, language, rendering ----------------------------------------------------------


def _language(request: Request) -> str:
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    accept = request.headers.get("accept-language", "")
    return "ja" if accept.lower().startswith("ja") else "en"


def _session(request: Request, found: Services) -> ConsoleSession | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return found.identity.session(cookie) if cookie else None


def _render(
    request: Request,
    template: str,
    session: ConsoleSession | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    language = _language(request)

    def t(key: str, **fill: Any) -> str:
        return translate(language, key, **fill)

    who = session.principal if session is not None else None
    html = _ENV.get_template(template).render(
        t=t,
        lang=language,
        who=who,
        csrf=session.csrf_token if session is not None else "",
        path=request.url.path,
        level_name=lambda level: t(f"level.{level}"),
        quote=lambda s: quote(str(s), safe=""),
        fmt_time=_fmt_time,
        **values,
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def _to_login(request: Request) -> RedirectResponse:
    return RedirectResponse(f"/console/login?next={quote(request.url.path)}", status_code=303)


def _forbidden(request: Request, session: ConsoleSession) -> HTMLResponse:
    return _render(request, "message.html.j2", session, 403, message_key="error.forbidden")


def _fmt_time(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return str(value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S"))


# --- login ----------------------------------------------------------------------------------


@router.get("/console/login", include_in_schema=False)
def login_page(request: Request, found: Found, next: str = "/console/") -> Response:
    if _session(request, found) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return _render(request, "login.html.j2", None, next=_safe_next(next), failed=False)


@router.post("/console/login", include_in_schema=False)
def login(
    request: Request,
    found: Found,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=256)],
    next: Annotated[str, Form(max_length=512)] = "/console/",
) -> Response:
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return _render(request, "login.html.j2", None, 403, next="/console/", failed=True)
    session = found.identity.login(username, password)
    if session is None:
        return _render(request, "login.html.j2", None, 401, next=_safe_next(next), failed=True)
    response = RedirectResponse(_safe_next(next), status_code=303)
    secure = found.settings.secure_cookies
    age = int((session.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        session.cookie,
        max_age=age,
        httponly=True,
        secure=secure,
        samesite="strict",
        path="/",
    )
    response.set_cookie(
        CSRF_COOKIE,
        session.csrf_token,
        max_age=age,
        httponly=False,
        secure=secure,
        samesite="strict",
        path="/",
    )
    return response


@router.post("/console/logout", include_in_schema=False)
def logout(request: Request, found: Found, csrf_token: Annotated[str, Form()] = "") -> Response:
    session = _session(request, found)
    if session is not None and constant_time_equal(csrf_token, session.csrf_token):
        found.identity.logout(session.cookie)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/console/language/{language}", include_in_schema=False)
def set_language(language: str, next: str = "/console/") -> Response:
    response = RedirectResponse(_safe_next(next), status_code=303)
    if language in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


def _safe_next(target: str) -> str:
    """Only a path inside the console (never another site) is a place to go back to."""
    if target.startswith("/console/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/"


# --- pages ----------------------------------------------------------------------------------


def _incidents_with_cases(found: Services, tenant: str) -> pl.DataFrame:
    incidents = found.store.incidents(tenant)
    if incidents.height == 0:
        return incidents
    cases = found.cases.cases(tenant, incidents["incident_id"].to_list())
    if cases:
        override = pl.DataFrame(
            {"incident_id": list(cases), "_case": [c["status"] for c in cases.values()]},
            schema={"incident_id": pl.String, "_case": pl.String},
        )
        incidents = (
            incidents.join(override, on="incident_id", how="left")
            .with_columns(pl.coalesce("_case", "status").alias("status"))
            .drop("_case")
        )
    return incidents


@router.get("/console/", include_in_schema=False)
def overview(request: Request, found: Found, context: Context) -> Response:
    session = _session(request, found)
    if session is None:
        return _to_login(request)
    tenant = session.principal.tenant
    incidents = _incidents_with_cases(found, tenant)
    alerts = found.store.alerts(tenant, limit=50_000)
    open_ = incidents.filter(~pl.col("status").is_in(_CLOSED))
    anchor = incidents["last_seen"].max() if incidents.height else None
    recent = (
        open_.filter(pl.col("last_seen") >= anchor - dt.timedelta(hours=24))  # type: ignore[operator]
        if anchor is not None
        else open_
    )
    level = int(recent["level"].max() or 1) if recent.height else 1  # type: ignore[arg-type]
    days = (
        incidents.group_by(pl.col("last_seen").dt.date().alias("day"))
        .agg(pl.col("level").max())
        .sort("day")
        .tail(14)
    )
    entities = (
        open_.select("entities", "risk", "incident_id")
        .explode("entities")
        .drop_nulls("entities")
        .group_by("entities")
        .agg(pl.col("risk").max(), pl.col("incident_id").n_unique().alias("incidents"))
        .sort(["risk", "incidents", "entities"], descending=[True, True, False])
        .head(10)
    )
    by_detector = dict(alerts.group_by("detector").len().iter_rows()) if alerts.height else {}
    pending = context.desk.requests(tenant, status="proposed", limit=10)
    return _render(
        request,
        "overview.html.j2",
        session,
        level=level,
        open_count=open_.height,
        raised_count=open_.filter(pl.col("level") >= RAISE_LEVEL).height,
        alert_count=alerts.height,
        trend=trend([(str(d), int(v)) for d, v in days.iter_rows()]),
        top_entities=entities.rows(named=True),
        detector_bars=bars(by_detector),
        incidents=open_.head(12).rows(named=True),
        pending=pending,
    )


@router.get("/console/incidents", include_in_schema=False)
def incidents_page(
    request: Request, found: Found, min_level: Annotated[int, Query(ge=1, le=5)] = 1
) -> Response:
    session = _session(request, found)
    if session is None:
        return _to_login(request)
    incidents = _incidents_with_cases(found, session.principal.tenant)
    shown = incidents.filter(pl.col("level") >= min_level).head(500)
    return _render(
        request,
        "incidents.html.j2",
        session,
        incidents=shown.rows(named=True),
        min_level=min_level,
    )


@router.get("/console/alerts", include_in_schema=False)
def alerts_page(
    request: Request,
    found: Found,
    severity: Annotated[str, Query(max_length=20)] = "",
    detector: Annotated[str, Query(max_length=64)] = "",
    entity: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    session = _session(request, found)
    if session is None:
        return _to_login(request)
    tenant = session.principal.tenant
    every = found.store.alerts(tenant, limit=50_000)
    detectors = sorted(every["detector"].unique().to_list()) if every.height else []
    shown = every
    if severity in _SEVERITIES:
        shown = shown.filter(pl.col("severity") == severity)
    if detector:
        shown = shown.filter(pl.col("detector") == detector)
    if entity:
        key = pl.concat_str("entity_type", pl.lit(":"), "entity_id")
        shown = shown.filter(key.str.contains(entity, literal=True))
    shown = shown.sort("time", descending=True).head(ALERT_ROWS)
    return _render(
        request,
        "alerts.html.j2",
        session,
        alerts=shown.rows(named=True),
        severities=_SEVERITIES,
        detectors=detectors,
        chosen={"severity": severity, "detector": detector, "entity": entity},
    )


@router.get("/console/incidents/{incident_id}", include_in_schema=False)
def incident_page(request: Request, incident_id: str, found: Found, context: Context) -> Response:
    session = _session(request, found)
    if session is None:
        return _to_login(request)
    tenant = session.principal.tenant
    incident = found.store.incident(tenant, incident_id)
    if incident is None:
        return _render(request, "message.html.j2", session, 404, message_key="error.not_found")
    case = found.cases.cases(tenant, [incident_id]).get(incident_id)
    if case is not None and case["status"]:
        incident["status"] = case["status"]
    alerts: pl.DataFrame = incident.pop("alerts")
    rows = alerts.rows(named=True)
    edges: list[tuple[str, str]] = []
    for row in rows:
        own = f"{row['entity_type']}:{row['entity_id']}"
        edges.extend((own, other) for other in row["related"] or [])
    triage = _triage_lookup(context, found)(tenant, incident_id)
    requests = context.desk.requests(tenant, incident_id=incident_id)
    entities = incident["entities"] or []
    proposable = [
        {
            "action": a,
            "targets": [e for e in entities if e.split(":", 1)[0] in a.entity_types]
            + (["incident"] if "incident" in a.entity_types else []),
        }
        for a in CATALOGUE.values()
    ]
    return _render(
        request,
        "incident.html.j2",
        session,
        incident=incident,
        alerts=rows,
        graph=entity_graph(edges),
        type_colours=TYPE_COLOURS,
        triage=triage,
        requests=requests,
        proposable=[p for p in proposable if p["targets"]],
        playbooks=list(PLAYBOOKS.values()),
        alert_ids={r["alert_id"] for r in rows},
    )


def _triage_lookup(context: ResponseContext, found: Services) -> TriageLookup:
    """The app's triage lookup: unless one was set, the latest stored triage of the tenant's
    incident (`mamori.analyst.archive`), opened on first use."""
    if context.triage is None:
        archive = TriageArchive(found.settings.database)

        def latest(tenant: str, incident_id: str) -> dict[str, Any] | None:
            stored = archive.latest(tenant, incident_id)
            return None if stored is None else stored.view()

        context.triage = latest
    return context.triage


@router.get("/console/entities/{entity_type}/{entity_id}", include_in_schema=False)
def entity_page(request: Request, entity_type: str, entity_id: str, found: Found) -> Response:
    session = _session(request, found)
    if session is None:
        return _to_login(request)
    tenant = session.principal.tenant
    key = f"{entity_type}:{entity_id}"
    alerts = found.store.alerts(tenant, limit=50_000).filter(
        ((pl.col("entity_type") == entity_type) & (pl.col("entity_id") == entity_id))
        | pl.col("related").list.contains(key)
    )
    incidents = _incidents_with_cases(found, tenant)
    naming = (
        incidents.filter(pl.col("entities").list.contains(key)) if incidents.height else incidents
    )
    return _render(
        request,
        "entity.html.j2",
        session,
        key=key,
        entity_type=entity_type,
        entity_id=entity_id,
        alerts=alerts.sort("time", descending=True).head(ALERT_ROWS).rows(named=True),
        incidents=naming.rows(named=True),
    )


@router.get("/console/actions", include_in_schema=False)
def actions_page(request: Request, found: Found, context: Context) -> Response:
    session = _session(request, found)
    if session is None:
        return _to_login(request)
    tenant = session.principal.tenant
    return _render(
        request,
        "actions.html.j2",
        session,
        pending=context.desk.requests(tenant, status="proposed"),
        recent=[r for r in context.desk.requests(tenant, limit=100) if r["status"] != "proposed"],
    )


@router.api_route("/console/hunt", methods=["GET", "POST"], include_in_schema=False)
async def hunt_page(request: Request, found: Found) -> Response:
    session = await run_in_threadpool(_session, request, found)
    if session is None:
        return _to_login(request)
    if not session.principal.can("hunt"):
        return _forbidden(request, session)
    sql, result, error = "SELECT kind, count(*) AS events FROM flow GROUP BY 1", None, None
    if request.method == "POST":
        form = await request.form()
        sent = str(form.get("csrf_token", ""))
        sql = str(form.get("sql", ""))[:20_000]
        if not constant_time_equal(sent, session.csrf_token):
            return _forbidden(request, session)
        settings = found.settings
        try:
            frame = await run_in_threadpool(
                hunt,
                found.lake.root,
                session.principal.tenant,
                sql,
                limit=min(settings.hunt_max_rows, 1000),
                timeout_s=settings.hunt_timeout_s,
            )
            result = {"columns": frame.columns, "rows": frame.rows()}
        except QueryError as err:
            error = str(err)
    return _render(request, "hunt.html.j2", session, sql=sql, result=result, error=error)


@router.get("/console/audit", include_in_schema=False)
def audit_page(request: Request, found: Found, context: Context) -> Response:
    session = _session(request, found)
    if session is None:
        return _to_login(request)
    if not session.principal.can("read_audit"):
        return _forbidden(request, session)
    records = context.audit.records(tenant=session.principal.tenant)[-300:][::-1]
    return _render(
        request,
        "audit.html.j2",
        session,
        records=records,
        chain=context.audit.verify(),
    )


@router.get("/console/sector", include_in_schema=False)
def sector_page(request: Request, found: Found) -> Response:
    session = _session(request, found)
    if session is None:
        return _to_login(request)
    if not session.principal.is_sector:
        return _forbidden(request, session)
    released = found.cases.released()
    aliases = {t: f"#{i + 1}" for i, t in enumerate(sorted({t for t, _ in released}))}
    shown = []
    for tenant, incident_id in released:
        incident = found.store.incident(tenant, incident_id)
        if incident is not None:
            incident.pop("alerts")
            incident["institution"] = aliases[tenant]
            shown.append(incident)
    shown.sort(key=lambda i: (-i["risk"], i["incident_id"]))
    level = max((i["level"] for i in shown), default=1)
    hub = getattr(request.app.state, "sector_hub", None)
    warning = watch_status(hub.watch) if hub is not None else None  # institutions unnamed
    return _render(
        request, "sector.html.j2", session, incidents=shown, level=level, warning=warning
    )


# --- live updates ---------------------------------------------------------------------------


@router.get("/console/live", include_in_schema=False)
async def live(request: Request, found: Found) -> Response:
    session = await run_in_threadpool(_session, request, found)
    if session is None:
        return Response(status_code=401)
    tenant = session.principal.tenant
    cursor = _parse_cursor(request.headers.get("last-event-id"))
    return StreamingResponse(
        _incident_events(request, found, tenant, cursor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _incident_events(
    request: Request, found: Services, tenant: str, cursor: dt.datetime | None
) -> AsyncIterator[str]:
    """Incidents changed after `cursor` (all of them after now when there is none)."""
    since = cursor or dt.datetime.now(dt.UTC)
    loop = asyncio.get_running_loop()
    started = loop.time()
    yield f"retry: 2000\nid: {since.isoformat()}\nevent: hello\ndata: {{}}\n\n"
    while loop.time() - started < LIVE_MAX_S and not await request.is_disconnected():
        changed = await run_in_threadpool(_changed_since, found, tenant, since)
        for incident in changed:
            since = max(since, incident["updated_at"])
            data = json.dumps(incident, default=str, ensure_ascii=False)
            yield f"id: {since.isoformat()}\nevent: incident\ndata: {data}\n\n"
        await asyncio.sleep(LIVE_POLL_S)


def _changed_since(found: Services, tenant: str, since: dt.datetime) -> list[dict[str, Any]]:
    incidents = found.store.incidents(tenant)
    changed = incidents.filter(pl.col("updated_at") > since).sort("updated_at")
    return [
        {
            "incident_id": r["incident_id"],
            "title": r["title"],
            "risk": r["risk"],
            "level": r["level"],
            "status": r["status"],
            "alert_count": r["alert_count"],
            "last_seen": r["last_seen"].isoformat(),
            "updated_at": r["updated_at"],
        }
        for r in changed.head(100).rows(named=True)
    ]


def _parse_cursor(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
