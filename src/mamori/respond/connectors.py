"""Connectors carry an approved action to the systems that perform it.

The one built in is a webhook: the action goes as JSON in a POST whose body is signed with
HMAC-SHA256 under a secret shared with the receiver (the firewall manager, the core banking
system's fraud API, the ticketing system …). The header reads
``X-Mamori-Signature: t=<unix seconds>,v1=<hex>`` and the MAC covers ``"<t>." + body``, so a
receiver can reject a forged, altered or replayed request with `verify_signature`.

Connectors are *dry-run by default*: a dry run builds and signs exactly the request that
would be sent and returns it as the result, without sending anything. A bank switches a
connector to live on purpose (``dry_run=False``).

>>> body = b'{"action":"block_ip"}'
>>> header = sign(b"s3cret", body, timestamp=1_700_000_000)
>>> header
't=1700000000,v1=6185f5560090294404b1f1532570920df18b0f094d26760ebda72dd57c26e3b4'
>>> verify_signature(b"s3cret", header, body, now=1_700_000_100)
True
>>> verify_signature(b"s3cret", header, b'{"action":"unblock_ip"}', now=1_700_000_100)
False
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

__all__ = [
    "SIGNATURE_HEADER",
    "Connector",
    "Delivery",
    "DryRunConnector",
    "WebhookConnector",
    "sign",
    "verify_signature",
]

SIGNATURE_HEADER = "X-Mamori-Signature"


@dataclass(frozen=True)
class Delivery:
    """What a connector did with one action."""

    ok: bool
    dry_run: bool
    detail: dict[str, Any]


class Connector(Protocol):
    """Carries out one approved action (`payload` is its JSON description)."""

    dry_run: bool

    def deliver(self, payload: dict[str, Any]) -> Delivery: ...


class DryRunConnector:
    """The connector of a desk that has none configured: records what would be done."""

    dry_run = True

    def deliver(self, payload: dict[str, Any]) -> Delivery:
        return Delivery(True, True, {"would_send": payload, "connector": "none configured"})


def sign(secret: bytes, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for `body`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={mac}"


def verify_signature(
    secret: bytes, header: str, body: bytes, now: float | None = None, tolerance_s: int = 300
) -> bool:
    """Whether `header` signs `body` under `secret`, within `tolerance_s` of `now`."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        stamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance_s:
        return False
    expected = hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


class WebhookConnector:
    """POSTs signed JSON to `url`; dry-run (nothing sent) unless `dry_run=False`."""

    def __init__(
        self, url: str, secret: bytes, *, dry_run: bool = True, timeout_s: float = 10.0
    ) -> None:
        if not secret:
            raise ValueError("a webhook connector needs a non-empty signing secret")
        self.url = url
        self.dry_run = dry_run
        self._secret = secret
        self._timeout_s = timeout_s

    def __repr__(self) -> str:
        mode = "dry-run" if self.dry_run else "live"
        return f"WebhookConnector({self.url!r}, {mode})"

    def deliver(self, payload: dict[str, Any]) -> Delivery:
        body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
        signature = sign(self._secret, body)
        if self.dry_run:
            would = {"would_post_to": self.url, "signature": signature, "body": payload}
            return Delivery(True, True, would)
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        try:
            response = httpx.post(self.url, content=body, headers=headers, timeout=self._timeout_s)
        except httpx.HTTPError as err:
            return Delivery(False, False, {"url": self.url, "error": str(err)})
        detail: dict[str, Any] = {"url": self.url, "status": response.status_code}
        try:
            detail["response"] = response.json()
        except ValueError:
            detail["response"] = response.text[:2000]
        return Delivery(response.is_success, False, detail)
