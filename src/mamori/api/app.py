"""The FastAPI application: `create_app(settings)` builds it, `mamori serve` runs it.

Versioned under ``/v1``, OpenAPI at ``/openapi.json`` (docs at ``/docs``). Every route but
``/healthz``, ``/v1/health``, ``/metrics`` and the login reads the caller from a bearer token
or a console session (`mamori.api.security`) and works within the caller's tenant only.
Errors are JSON: ``{"error": {"status": 404, "message": "no incident 'x'"}}``.

Routers of other capabilities (the console, response playbooks, fraud scoring …) plug in
through `CAPABILITY_ROUTERS`: each names a module with a ``router``; a module that is not
there (yet) is skipped.

>>> import tempfile
>>> from fastapi.testclient import TestClient
>>> app = create_app(ApiSettings(Path(tempfile.mkdtemp())))
>>> with TestClient(app) as client:
...     client.get("/healthz").json(), client.get("/v1/alerts").json()["error"]["status"]
({'status': 'ok'}, 401)
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from mamori.api.guards import Guards, TokenBuckets
from mamori.api.responses import OrjsonResponse, error_body
from mamori.api.routes import alerts, auth, entities, hunting, incidents, ingest, sector, system
from mamori.api.services import open_services
from mamori.api.settings import ApiSettings
from mamori.share.hub import HubSettings, open_hub
from mamori.share.taxii import taxii_router

__all__ = ["CAPABILITY_ROUTERS", "ApiSettings", "create_app"]

log = logging.getLogger("mamori.api")

#: Modules of other capabilities that expose a FastAPI ``router`` to include, when present.
#: Add a line here to plug one in, e.g. "mamori.detect.fraud.api" for fraud scoring's
#: POST /v1/score/transaction.
CAPABILITY_ROUTERS: tuple[str, ...] = (
    "mamori.api.console",  # the web console's pages (it includes the response actions)
    "mamori.api.scoring",  # fraud scoring: POST /v1/score/transaction(s), decisions, replay
    "mamori.api.routes.triage",  # POST/GET /v1/incidents/{id}/triage: the AI analyst
    "mamori.api.routes.audit",  # GET /v1/audit, /v1/audit/verify: the audit chain
)


def create_app(settings: ApiSettings) -> FastAPI:
    """The API application over `settings.data_dir` (see the module text)."""
    found = open_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        found.intake.resume()  # replay batches spooled before a stop
        found.incident_watch.start()  # incidents for alerts the Kafka workers store
        if found.follower is not None:
            found.follower.start()  # pull what the sector hub shares, on a cycle
        yield
        found.close()

    app = FastAPI(
        title="Mamori API",
        version="1",
        description="Cyber-defence and fraud early warning for banks: ingest, alerts, "
        "incidents, entities, hunting, identity.",
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
    )
    app.state.services = found
    for module in (system, auth, ingest, alerts, incidents, entities, hunting, sector):
        app.include_router(module.router)
    for name in CAPABILITY_ROUTERS:
        if _module_exists(name):
            app.include_router(importlib.import_module(name).router)
    # The sector hub's TAXII 2.1 server at /taxii2 (collections kept in the store).
    hub_settings = HubSettings.from_data_dir(settings.data_dir)
    app.state.sector_hub = open_hub(found.engine, found.identity.authenticate_token, hub_settings)
    app.include_router(taxii_router(app.state.sector_hub))
    _add_error_handlers(app)
    app.add_middleware(
        Guards,
        max_body_bytes=settings.max_body_bytes,
        large_body_bytes=settings.max_ingest_bytes,
        # the TAXII server holds posts to the 10 MiB its API root advertises itself
        large_body_prefixes=("/v1/ingest", "/taxii2/"),
        buckets=TokenBuckets(settings.rate_per_s, settings.rate_burst),
        metrics=found.metrics,
    )
    return app


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> OrjsonResponse:
        return OrjsonResponse(
            error_body(error.status_code, str(error.detail)),
            status_code=error.status_code,
            headers=getattr(error, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> OrjsonResponse:
        problems = [
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}"
            for e in error.errors()
        ]
        body = error_body(422, "; ".join(problems) or "invalid request")
        body["error"]["problems"] = problems
        return OrjsonResponse(body, status_code=422)

    @app.exception_handler(Exception)
    async def server_error(request: Request, error: Exception) -> OrjsonResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return OrjsonResponse(error_body(500, "internal error; see the server log"), 500)


def app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory mamori.api.app:app_from_environment`` (MAMORI_DATA_DIR,
    MAMORI_DATABASE_URL)."""
    import os

    return create_app(
        ApiSettings(
            Path(os.environ.get("MAMORI_DATA_DIR", "data")),
            database_url=os.environ.get("MAMORI_DATABASE_URL"),
            secure_cookies=os.environ.get("MAMORI_INSECURE_COOKIES") != "1",
        )
    )
