"""Bearer tokens this server verified lately, looked up on the event loop.

`Identity.authenticate_token` may query the database and run argon2, so the API calls it on
a worker thread. A request whose token was verified within `ttl_s` is answered from here
instead, on the event loop: one scheduling wake-up per request instead of three (loop,
worker, loop), which is what a request waits for on a busy two-core machine. Revoking a
token through this server forgets it here at once (`forget`), as Identity forgets it in its
own memory; a revocation made by another process counts within `ttl_s`, as there.

>>> from mamori.govern.identity import Principal
>>> aiko = Principal("u1", "aiko", "bank-a", "institution", frozenset({"analyst"}), "token")
>>> recent = RecentTokens(ttl_s=60)
>>> token = "mmr_0123456789abcdef_" + "s" * 32
>>> recent.keep(token, aiko); recent.get(token).username
'aiko'
>>> recent.forget("0123456789abcdef"); recent.get(token) is None
True
"""

from __future__ import annotations

import hashlib
import threading
import time

from mamori.govern.identity import Principal

__all__ = ["RecentTokens"]


class RecentTokens:
    """Verified tokens by their SHA-256, each kept `ttl_s` seconds (at most `max_tokens`)."""

    def __init__(self, ttl_s: float, max_tokens: int = 100_000) -> None:
        self.ttl_s, self.max_tokens = ttl_s, max_tokens
        self._tokens: dict[str, tuple[Principal, float, str]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        """The caller `token` was verified as, if within `ttl_s`."""
        found = self._tokens.get(_key(token))
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def keep(self, token: str, principal: Principal) -> None:
        """Remember a token `Identity` has just verified."""
        token_id = token[4:20]  # mmr_<16 hex id>_<secret>
        with self._lock:
            if len(self._tokens) >= self.max_tokens:
                now = time.monotonic()
                self._tokens = {k: v for k, v in self._tokens.items() if v[1] >= now}
                if len(self._tokens) >= self.max_tokens:
                    self._tokens.clear()
            self._tokens[_key(token)] = (principal, time.monotonic() + self.ttl_s, token_id)

    def forget(self, token_id: str) -> None:
        """A token was revoked: forget it."""
        with self._lock:
            self._tokens = {k: v for k, v in self._tokens.items() if v[2] != token_id}


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
