"""A TAXII 2.1 server for the sector exchange, as a FastAPI router.

Endpoints (under the router's prefix, ``/taxii2`` by default), all answering
``application/taxii+json;version=2.1``:

- ``GET /`` discovery, ``GET /{root}/`` the API root,
- ``GET /{root}/collections/`` and ``/{root}/collections/{id}/``,
- ``GET /{root}/collections/{id}/objects/`` with ``added_after``, ``limit``, ``next``,
  ``match[id]``, ``match[type]``; ``POST`` the same path with an envelope of objects,
- ``GET /{root}/collections/{id}/objects/{object_id}/``,
- ``GET /{root}/collections/{id}/manifest/``, ``GET /{root}/status/{status_id}/``.

Callers present ``Authorization: Bearer <token>``; `authenticate` turns the token into a
`Principal` (in `mamori serve`, `govern.identity.Identity.authenticate_token`). Each
collection says which tenants may read and which may write (``*``: every authenticated
tenant); writing also needs the ``release`` permission. Who posted an object is kept by the
server (the campaign watch counts institutions with it) and never served.

TLP: an object marked TLP:RED is refused; so is one marked stricter than the collection's
`max_tlp` (a TLP:GREEN collection takes no AMBER).

>>> from fastapi import FastAPI
>>> from fastapi.testclient import TestClient
>>> from mamori.govern.identity import Principal
>>> bank = Principal("u1", "feed", "bank-a", "institution", frozenset({"admin"}), "token")
>>> server = TaxiiServer([Collection("sector", "Sector indicators")],
...     authenticate=lambda token: bank if token == "t0ken" else None)
>>> app = FastAPI(); app.include_router(taxii_router(server))
>>> client = TestClient(app, headers={"Authorization": "Bearer t0ken"})
>>> client.get("/taxii2/").json()["api_roots"]
['/taxii2/sector/']
>>> client.get("/taxii2/", headers={"Authorization": "Bearer nope"}).status_code
401
"""

from __future__ import annotations

import bisect
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
import stix2
from fastapi import APIRouter, Request, Response
from stix2.exceptions import STIXError

from mamori.govern.identity import Principal
from mamori.share.export import TLP_ORDER, object_tlp

MEDIA_TYPE = "application/taxii+json;version=2.1"
STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_CONTENT_LENGTH = 10 * 1024 * 1024

Authenticate = Callable[[str], Principal | None]
#: Called with (collection id, posting tenant, accepted objects) after each accepted POST.
Listener = Callable[[str, str, list[dict[str, Any]]], object]


class Journal(Protocol):
    """Where a server keeps its collections' objects across restarts
    (`mamori.share.hub.HubJournal`: a table of the operational database)."""

    def append(self, collection: str, entries: list[tuple[int, str, dict[str, Any]]]) -> None:
        """Keep (time added in µs, posting tenant, object) entries of a collection."""

    def load(self) -> list[tuple[str, int, str, dict[str, Any]]]:
        """Every kept (collection, time added, tenant, object), oldest first."""
        ...


@dataclass(frozen=True)
class Collection:
    """A TAXII collection and who may use it (tenant names; ``*`` for every tenant)."""

    id: str
    title: str
    description: str = ""
    readers: frozenset[str] = frozenset({"*"})
    writers: frozenset[str] = frozenset({"*"})
    max_tlp: str = "amber+strict"

    def can_read(self, who: Principal) -> bool:
        return "*" in self.readers or who.tenant in self.readers

    def can_write(self, who: Principal) -> bool:
        allowed = "*" in self.writers or who.tenant in self.writers
        return allowed and who.can("release")

    def info(self, who: Principal) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "can_read": self.can_read(who),
            "can_write": self.can_write(who),
            "media_types": [STIX_MEDIA_TYPE],
        }


def timestamp(micros: int) -> str:
    """A TAXII timestamp (UTC, microseconds) from µs since the epoch."""
    moment = datetime.fromtimestamp(micros / 1_000_000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(text: str) -> int:
    """µs since the epoch from a TAXII/STIX timestamp; ValueError if it is not one."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000)


@dataclass
class _Entry:
    added: int  # µs, strictly increasing within a collection
    obj: dict[str, Any]
    tenant: str


@dataclass
class ObjectStore:
    """The objects of one collection, append-only, in the order they were added."""

    entries: list[_Entry] = field(default_factory=list)

    def stamp(self, objects: list[dict[str, Any]], tenant: str) -> list[_Entry]:
        """Entries for objects about to be added, with strictly increasing times (µs)."""
        last = self.entries[-1].added if self.entries else 0
        stamped = []
        for obj in objects:
            last = max(time.time_ns() // 1000, last + 1)
            stamped.append(_Entry(last, obj, tenant))
        return stamped

    def after(self, added_after: int | None) -> int:
        """Index of the first entry added strictly after `added_after`."""
        if added_after is None:
            return 0
        return bisect.bisect_right([e.added for e in self.entries], added_after)


class TaxiiServer:
    """Collections, their objects and statuses, behind `taxii_router`."""

    def __init__(
        self,
        collections: list[Collection],
        authenticate: Authenticate,
        root: str = "sector",
        title: str = "Mamori sector exchange",
        journal: Journal | None = None,
    ) -> None:
        self.collections = {c.id: c for c in collections}
        self.stores = {c.id: ObjectStore() for c in collections}
        self.authenticate, self.root, self.title = authenticate, root, title
        self.statuses: dict[str, dict[str, Any]] = {}
        self.listeners: list[Listener] = []
        self.journal = journal
        #: The sector hub's campaign watch (`mamori.share.campaign.sector_hub` sets it).
        self.watch: Any = None
        self._lock = threading.Lock()
        if journal is not None:
            for collection, added, tenant, obj in journal.load():
                if collection in self.stores:
                    self.stores[collection].entries.append(_Entry(added, obj, tenant))

    def _add(self, collection: str, objects: list[dict[str, Any]], tenant: str) -> list[int]:
        """Store objects (in the journal first, when there is one); their times added."""
        with self._lock:
            stamped = self.stores[collection].stamp(objects, tenant)
            if self.journal is not None:
                self.journal.append(collection, [(e.added, e.tenant, e.obj) for e in stamped])
            self.stores[collection].entries += stamped
        return [e.added for e in stamped]

    def accept(
        self, collection: Collection, who: Principal, objects: list[Any]
    ) -> dict[str, Any]:
        """Check and store posted objects; the TAXII status resource of the request."""
        failures, accepted = [], []
        for position, obj in enumerate(objects):
            ident = obj.get("id", f"objects[{position}]") if isinstance(obj, dict) else "?"
            problem = self._refusal(collection, obj)
            if problem:
                failures.append({"id": ident, "version": _version(obj), "message": problem})
            else:
                accepted.append(obj)
        added = self._add(collection.id, accepted, who.tenant) if accepted else []
        successes = [
            {"id": obj["id"], "version": _version(obj), "date_added": timestamp(when)}
            for obj, when in zip(accepted, added, strict=True)
        ]
        status_id = str(uuid.uuid4())
        status: dict[str, Any] = {
            "id": status_id,
            "status": "complete",
            "request_timestamp": timestamp(time.time_ns() // 1000),
            "total_count": len(objects),
            "success_count": len(successes),
            "failure_count": len(failures),
            "pending_count": 0,
            "successes": successes,
            "failures": failures,
        }
        self.statuses[status_id] = status
        if accepted:
            for listener in self.listeners:
                listener(collection.id, who.tenant, accepted)
        return status

    def publish(self, collection: str, objects: list[dict[str, Any]], by: str = "sector") -> None:
        """Store objects the hub itself issues (sector campaigns) into a collection."""
        self._add(collection, objects, by)

    @staticmethod
    def _refusal(collection: Collection, obj: Any) -> str | None:
        if not isinstance(obj, dict):
            return "not a STIX object"
        try:
            stix2.parse(obj, allow_custom=True)
        except (STIXError, ValueError, TypeError, KeyError, AttributeError, IndexError) as err:
            return f"invalid STIX 2.1 object: {err}"
        level = object_tlp(obj)
        if level == "red":
            return "TLP:RED objects are never shared"
        if level and TLP_ORDER.index(level) > TLP_ORDER.index(collection.max_tlp):
            ceiling = collection.max_tlp.upper()
            return f"TLP:{level.upper()} is above this collection's TLP:{ceiling}"
        return None

    def page(
        self,
        collection: str,
        added_after: int | None,
        limit: int,
        start: int | None,
        ids: set[str],
        types: set[str],
    ) -> tuple[list[_Entry], int | None]:
        """Entries of one page, and the index the next page starts at (None: no more)."""
        with self._lock:
            entries = self.stores[collection].entries
            index = start if start is not None else self.stores[collection].after(added_after)
            found: list[_Entry] = []
            while index < len(entries) and len(found) < limit:
                entry = entries[index]
                index += 1
                if ids and entry.obj.get("id") not in ids:
                    continue
                if types and entry.obj.get("type") not in types:
                    continue
                found.append(entry)
            more = index < len(entries)
        return found, (index if more else None)


def _version(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    return obj.get("modified") or obj.get("created")


def _reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers=headers, media_type=MEDIA_TYPE)


def _error(status: int, title: str, description: str = "") -> Response:
    body = {"title": title, "description": description, "http_status": str(status)}
    headers = {"WWW-Authenticate": 'Bearer realm="taxii"'} if status == 401 else None
    return _reply(body, status, headers)


def taxii_router(server: TaxiiServer, prefix: str = "/taxii2") -> APIRouter:
    """The TAXII 2.1 endpoints of `server` (see the module text)."""
    router = APIRouter(prefix=prefix, tags=["taxii"])
    root_path = f"{prefix}/{server.root}/"

    def caller(request: Request) -> Principal | Response:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        who = server.authenticate(token.strip()) if scheme.lower() == "bearer" else None
        if who is None:
            return _error(401, "Unauthorized", "a valid bearer token is required")
        accept = request.headers.get("accept", "*/*")
        if not any(m in accept for m in ("application/taxii+json", "*/*", "application/*")):
            return _error(406, "Not Acceptable", f"this server answers {MEDIA_TYPE}")
        return who

    def collection(
        request: Request, root: str, ident: str, write: bool = False
    ) -> tuple[Principal, Collection] | Response:
        who = caller(request)
        if isinstance(who, Response):
            return who
        found = server.collections.get(ident)
        if root != server.root or found is None:
            return _error(404, "Not Found", f"no collection {ident!r}")
        allowed = found.can_write(who) if write else found.can_read(who)
        if not allowed:
            action = "write to" if write else "read"
            return _error(403, "Forbidden", f"{who.tenant} may not {action} {ident!r}")
        return who, found

    @router.get("/")
    def discovery(request: Request) -> Response:
        who = caller(request)
        if isinstance(who, Response):
            return who
        return _reply({"title": server.title, "default": root_path, "api_roots": [root_path]})

    @router.get("/{root}/")
    def api_root(request: Request, root: str) -> Response:
        who = caller(request)
        if isinstance(who, Response):
            return who
        if root != server.root:
            return _error(404, "Not Found", f"no API root {root!r}")
        return _reply({"title": server.title, "versions": [MEDIA_TYPE],
                       "max_content_length": MAX_CONTENT_LENGTH})

    @router.get("/{root}/collections/")
    def collections(request: Request, root: str) -> Response:
        who = caller(request)
        if isinstance(who, Response):
            return who
        if root != server.root:
            return _error(404, "Not Found", f"no API root {root!r}")
        visible = [c.info(who) for c in server.collections.values() if c.can_read(who)
                   or c.can_write(who)]
        return _reply({"collections": visible})

    @router.get("/{root}/collections/{ident}/")
    def one_collection(request: Request, root: str, ident: str) -> Response:
        found = collection(request, root, ident)
        return found if isinstance(found, Response) else _reply(found[1].info(found[0]))

    def listing(request: Request, root: str, ident: str, manifest: bool,
                object_id: str | None = None) -> Response:
        found = collection(request, root, ident)
        if isinstance(found, Response):
            return found
        query = request.query_params
        try:
            after = query.get("added_after")
            added_after = parse_timestamp(after) if after else None
            limit = min(int(query.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
            start = int(query["next"]) if "next" in query else None
        except ValueError as err:
            return _error(400, "Bad Request", f"bad added_after, limit or next: {err}")
        if limit < 1 or (start is not None and start < 0):
            return _error(400, "Bad Request", "limit must be at least 1, next at least 0")
        ids = {object_id} if object_id else set(_split(query.get("match[id]")))
        types = set(_split(query.get("match[type]")))
        entries, following = server.page(ident, added_after, limit, start, ids, types)
        if object_id and not entries and start is None:
            return _error(404, "Not Found", f"no object {object_id!r}")
        body: dict[str, Any] = {"more": following is not None}
        if following is not None:
            body["next"] = str(following)
        if manifest:
            body["objects"] = [
                {"id": e.obj.get("id"), "date_added": timestamp(e.added),
                 "version": _version(e.obj), "media_type": STIX_MEDIA_TYPE}
                for e in entries
            ]
        else:
            body["objects"] = [e.obj for e in entries]
        headers = {}
        if entries:
            headers["X-TAXII-Date-Added-First"] = timestamp(entries[0].added)
            headers["X-TAXII-Date-Added-Last"] = timestamp(entries[-1].added)
        return _reply(body, headers=headers)

    @router.get("/{root}/collections/{ident}/objects/")
    def get_objects(request: Request, root: str, ident: str) -> Response:
        return listing(request, root, ident, manifest=False)

    @router.get("/{root}/collections/{ident}/objects/{object_id}/")
    def get_object(request: Request, root: str, ident: str, object_id: str) -> Response:
        return listing(request, root, ident, manifest=False, object_id=object_id)

    @router.get("/{root}/collections/{ident}/manifest/")
    def get_manifest(request: Request, root: str, ident: str) -> Response:
        return listing(request, root, ident, manifest=True)

    @router.post("/{root}/collections/{ident}/objects/")
    async def add_objects(request: Request, root: str, ident: str) -> Response:
        found = collection(request, root, ident, write=True)
        if isinstance(found, Response):
            return found
        if not request.headers.get("content-type", "").startswith("application/taxii+json"):
            return _error(415, "Unsupported Media Type", f"send {MEDIA_TYPE}")
        raw = await request.body()
        if len(raw) > MAX_CONTENT_LENGTH:
            return _error(413, "Payload Too Large", f"at most {MAX_CONTENT_LENGTH} bytes")
        try:
            envelope = orjson.loads(raw)
        except orjson.JSONDecodeError as err:
            return _error(400, "Bad Request", f"not JSON: {err}")
        objects = envelope.get("objects") if isinstance(envelope, dict) else None
        if not isinstance(objects, list):
            return _error(400, "Bad Request", "the body must be an envelope with `objects`")
        who, target = found
        return _reply(server.accept(target, who, objects), 202)

    @router.get("/{root}/status/{status_id}/")
    def get_status(request: Request, root: str, status_id: str) -> Response:
        who = caller(request)
        if isinstance(who, Response):
            return who
        status = server.statuses.get(status_id)
        if root != server.root or status is None:
            return _error(404, "Not Found", f"no status {status_id!r}")
        return _reply(status)

    return router


def _split(value: str | None) -> list[str]:
    return [v for v in (value or "").split(",") if v]
