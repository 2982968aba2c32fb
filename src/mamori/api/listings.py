"""The listing pages analysts ask for over and over, kept as the JSON bytes sent.

A hundred analysts on the alert queue ask for the same first page of their tenant's alerts
and incidents every second or so; building it costs a few milliseconds of SQL, frame and
JSON work under the GIL. `ListingPages` keeps each answer (per tenant and query) for at
most `ttl_s` seconds. A write of a tenant's alerts, incidents or cases in this process calls
`changed(tenant)`, which drops the tenant's pages at once; the time limit bounds how stale a
page can be after a write by another process (``mamori run`` or a stream worker on the same
database). A page being built while its tenant changes is not kept: each tenant has a
generation number, read before the build and checked before the page is kept.

>>> pages = ListingPages(ttl_s=60)
>>> pages.page("bank-a", ("alerts", 50), lambda: b'{"count": 1}')
b'{"count": 1}'
>>> pages.cached("bank-a", ("alerts", 50)), pages.cached("bank-b", ("alerts", 50))
(b'{"count": 1}', None)
>>> pages.changed("bank-a")
>>> pages.cached("bank-a", ("alerts", 50)) is None
True
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

__all__ = ["ListingPages"]


class ListingPages:
    """Answers by (tenant, query), each kept `ttl_s` seconds or until the tenant changes.

    At most `max_pages` are kept (the least recently used go first); ``ttl_s=0`` keeps none.
    """

    def __init__(self, ttl_s: float = 1.0, max_pages: int = 1024) -> None:
        self.ttl_s, self.max_pages = ttl_s, max_pages
        self._pages: OrderedDict[tuple[str, Hashable], tuple[bytes, float, int]] = OrderedDict()
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()

    def cached(self, tenant: str, query: Hashable) -> bytes | None:
        """The kept answer to `query` for `tenant`, if it is fresh (cheap: no I/O)."""
        key = (tenant, query)
        with self._lock:
            found = self._pages.get(key)
            if found is None:
                return None
            body, expires, generation = found
            if expires < time.monotonic() or generation != self._generations.get(tenant, 0):
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return body

    def page(self, tenant: str, query: Hashable, build: Callable[[], bytes]) -> bytes:
        """The answer to `query` for `tenant`: the kept one, else `build()`'s (then kept)."""
        body = self.cached(tenant, query)
        if body is not None:
            return body
        with self._lock:
            generation = self._generations.get(tenant, 0)
        body = build()
        if self.ttl_s > 0:
            with self._lock:
                if generation == self._generations.get(tenant, 0):
                    self._pages[(tenant, query)] = (body, time.monotonic() + self.ttl_s, generation)
                    self._pages.move_to_end((tenant, query))
                    while len(self._pages) > self.max_pages:
                        self._pages.popitem(last=False)
        return body

    def changed(self, tenant: str) -> None:
        """The tenant's alerts, incidents or cases were written: forget its pages."""
        with self._lock:
            self._generations[tenant] = self._generations.get(tenant, 0) + 1
