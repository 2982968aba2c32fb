"""The guards in front of every route: body size limits, rate limits, and request metrics.

One ASGI middleware (no per-request task switching of Starlette's BaseHTTPMiddleware):

* **Size.** A body larger than the route's allowance is refused with 413, from its
  Content-Length before it is read, or while it streams in when no length is given.
* **Rate.** Each caller (its bearer token, its session cookie, else its address) has a
  token bucket of `burst` requests refilled at `rate` per second; past it, 429 with
  Retry-After.
* **Metrics.** Requests by route template, method and status, and their latency, into a
  Prometheus registry (`mamori.api.metrics`).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from mamori.api.metrics import ApiMetrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class TokenBuckets:
    """Per-caller token buckets (bounded: the idlest callers are forgotten first)."""

    def __init__(self, rate: float, burst: int, max_callers: int = 100_000) -> None:
        self.rate, self.burst, self.max_callers = rate, burst, max_callers
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, caller: str) -> float:
        """Take one request for `caller`: 0 if allowed, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            tokens, then = self._buckets.get(caller, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens < 1.0:
                self._buckets[caller] = (tokens, now)
                return (1.0 - tokens) / self.rate
            self._buckets[caller] = (tokens - 1.0, now)
            if len(self._buckets) > self.max_callers:
                oldest = sorted(self._buckets.items(), key=lambda kv: kv[1][1])
                for key, _ in oldest[: len(oldest) // 10]:
                    del self._buckets[key]
            return 0.0


class Guards:
    """The ASGI middleware (see the module text)."""

    def __init__(
        self,
        app: App,
        *,
        max_body_bytes: int,
        large_body_bytes: int,
        large_body_prefixes: tuple[str, ...],
        buckets: TokenBuckets,
        metrics: ApiMetrics,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.large_body_bytes = large_body_bytes
        self.large_body_prefixes = large_body_prefixes
        self.buckets = buckets
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self._guarded(scope, receive, send_counting)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(
                scope["method"], template, status["code"], time.perf_counter() - started
            )

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        wait = self.buckets.take(_caller(scope))
        if wait > 0:
            await _refuse(send, 429, "too many requests: slow down", math.ceil(wait))
            return
        path = scope.get("path", "")
        allowance = (
            self.large_body_bytes
            if path.startswith(self.large_body_prefixes)
            else self.max_body_bytes
        )
        length = _header(scope, b"content-length")
        if length is not None and (not length.isdigit() or int(length) > allowance):
            await _refuse(send, 413, f"the request body is over the limit of {allowance:,} bytes")
            return
        state = {"bytes": 0, "refused": False}

        async def receive_counting() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                state["bytes"] += len(message.get("body", b""))
                if state["bytes"] > allowance and not state["refused"]:
                    # answer now; whatever the app makes of the broken-off body is dropped
                    state["refused"] = True
                    await _refuse(send, 413, BodyTooLarge(allowance).args[0])
                    raise BodyTooLarge(allowance)
            return message

        async def send_unless_refused(message: Message) -> None:
            if not state["refused"]:
                await send(message)

        with contextlib.suppress(BodyTooLarge):  # answered with 413 already
            await self.app(scope, receive_counting, send_unless_refused)


class BodyTooLarge(Exception):
    """A streamed body ran past its allowance."""

    def __init__(self, allowance: int) -> None:
        super().__init__(f"the request body is over the limit of {allowance:,} bytes")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _caller(scope: Scope) -> str:
    """Who a request counts against: its credential (hashed), else its address."""
    credential = _header(scope, b"authorization")
    if credential is None:
        cookie = _header(scope, b"cookie") or ""
        credential = next(
            (p for p in cookie.split(";") if p.strip().startswith("mamori_session=")), None
        )
    if credential:
        return "c:" + hashlib.blake2b(credential.encode(), digest_size=12).hexdigest()
    client = scope.get("client") or ("unknown", 0)
    return f"a:{client[0]}"


async def _refuse(send: Send, status: int, message: str, retry_after: int | None = None) -> None:
    body = orjson.dumps({"error": {"status": status, "message": message}})
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if retry_after is not None:
        headers.append((b"retry-after", str(retry_after).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
