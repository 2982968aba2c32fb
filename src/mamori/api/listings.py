"""The listing pages analysts ask for over and over, kept as the JSON bytes sent.

A hundred analysts on the alert queue ask for the same first page of their tenant's alerts
and incidents every second or so; building it costs a few milliseconds of SQL, frame and
JSON work under the GIL. `ListingPages` keeps each answer (per tenant and query). A write
of a tenant's alerts, incidents or cases in this process calls `changed(tenant)`, which
drops the tenant's pages at once. A page older than `ttl_s` is rebuilt on a background
thread while the old one is still sent (so no request waits for the rebuild of a page that
merely aged); this bounds how stale a page can be after a write by another process
(``mamori run`` or a stream worker on the same database) to `ttl_s` plus one build, and a
page is never sent once it is `max_stale_s` old. A page being built while its tenant
changes is not kept: each tenant has a generation number, read before the build and
checked before the page is kept.

>>> pages = ListingPages(ttl_s=60)
>>> pages.page("bank-a", ("alerts", 50), lambda: b'{"count": 1}')
b'{"count": 1}'
>>> pages.cached("bank-a", ("alerts", 50)), pages.cached("bank-b", ("alerts", 50))
(b'{"count": 1}', None)
>>> pages.changed("bank-a")
>>> pages.cached("bank-a", ("alerts", 50)) is None
True
>>> pages.close()
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

__all__ = ["ListingPages", "listing_response"]

log = logging.getLogger("mamori.api.listings")


class ListingPages:
    """Answers by (tenant, query), refreshed after `ttl_s`, dropped when the tenant changes.

    At most `max_pages` are kept (the least recently used go first); ``ttl_s=0`` keeps none.
    """

    def __init__(self, ttl_s: float = 1.0, max_pages: int = 1024, max_stale_s: float = 5.0):
        self.ttl_s, self.max_pages, self.max_stale_s = ttl_s, max_pages, max_stale_s
        #: (tenant, query) -> (body, built at, generation, being rebuilt)
        self._pages: OrderedDict[tuple[str, Hashable], tuple[bytes, float, int, bool]] = (
            OrderedDict()
        )
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()
        self._rebuilder: ThreadPoolExecutor | None = None  # started when first needed

    def cached(
        self, tenant: str, query: Hashable, build: Callable[[], bytes] | None = None
    ) -> bytes | None:
        """The kept answer to `query` for `tenant`, or None (cheap: no I/O).

        Given `build`, a page older than `ttl_s` is still answered while `build` makes its
        successor on the background thread.
        """
        key = (tenant, query)
        now = time.monotonic()
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return None
            body, built, generation, rebuilding = found
            age = now - built
            current = generation == self._generations.get(tenant, 0)
            if not current or age > self.max_stale_s or (age > self.ttl_s and build is None):
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            if age > self.ttl_s and not rebuilding and build is not None:
                self._pages[key] = (body, built, generation, True)
                if self._rebuilder is None:
                    self._rebuilder = ThreadPoolExecutor(1, thread_name_prefix="listing-pages")
                self._rebuilder.submit(self._rebuild, tenant, query, build)
            return body

    def page(self, tenant: str, query: Hashable, build: Callable[[], bytes]) -> bytes:
        """The answer to `query` for `tenant`: the kept one, else `build()`'s (then kept)."""
        body = self.cached(tenant, query, build)
        if body is not None:
            return body
        return self._build(tenant, query, build)

    def changed(self, tenant: str) -> None:
        """The tenant's alerts, incidents or cases were written: forget its pages."""
        with self._lock:
            self._generations[tenant] = self._generations.get(tenant, 0) + 1

    def close(self) -> None:
        """Stop the background rebuilds (a later aged page starts them again)."""
        with self._lock:
            rebuilder, self._rebuilder = self._rebuilder, None
            self._pages.clear()
        if rebuilder is not None:
            rebuilder.shutdown(wait=False, cancel_futures=True)

    def _build(self, tenant: str, query: Hashable, build: Callable[[], bytes]) -> bytes:
        with self._lock:
            generation = self._generations.get(tenant, 0)
        built = time.monotonic()
        body = build()
        if self.ttl_s > 0:
            with self._lock:
                if generation == self._generations.get(tenant, 0):
                    self._pages[(tenant, query)] = (body, built, generation, False)
                    self._pages.move_to_end((tenant, query))
                    while len(self._pages) > self.max_pages:
                        self._pages.popitem(last=False)
        return body

    def _rebuild(self, tenant: str, query: Hashable, build: Callable[[], bytes]) -> None:
        try:
            self._build(tenant, query, build)
        except Exception:  # noqa: BLE001 - the next request builds it and sees the error
            log.exception("rebuilding a listing page of %s failed", tenant)
            with self._lock:
                self._pages.pop((tenant, query), None)


async def listing_response(
    pages: ListingPages, tenant: str, query: Hashable, build: Callable[[], bytes]
) -> Response:
    """A listing route's JSON answer: the kept page, answered on the event loop, else the
    page built (or waited for) on a worker thread."""
    body = pages.cached(tenant, query, build)
    if body is None:
        body = await run_in_threadpool(pages.page, tenant, query, build)
    return Response(body, media_type="application/json")
