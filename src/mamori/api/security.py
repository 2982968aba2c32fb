"""Who is calling, and may they: bearer tokens, console sessions with CSRF, role checks.

A request is authenticated by ``Authorization: Bearer mmr_…`` (an API token) or by the
``mamori_session`` cookie of a console login. A cookie is sent by the browser on its own,
so a state-changing request (anything but GET, HEAD, OPTIONS) that relies on it must also
carry the session's CSRF token in the ``X-CSRF-Token`` header; tokens need no such proof.
`require(permission)` is the dependency each route declares (`PERMISSIONS` says which roles
grant what); a caller without the permission gets 403.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from starlette.concurrency import run_in_threadpool

from mamori.api.services import Services, services
from mamori.govern.identity import Principal, constant_time_equal

SESSION_COOKIE = "mamori_session"
CSRF_COOKIE = "mamori_csrf"
CSRF_HEADER = "x-csrf-token"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def caller(request: Request, found: Annotated[Services, Depends(services)]) -> Principal:
    """The authenticated caller, or 401.

    A token verified lately is answered on the event loop (`mamori.api.tokens`); checking a
    new token (argon2) or a session (a query) runs on a worker thread.
    """
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer":
            raise HTTPException(401, "invalid, expired or revoked API token")
        principal = found.recent_tokens.get(token)
        if principal is None:
            principal = await run_in_threadpool(found.identity.authenticate_token, token)
            if principal is None:
                raise HTTPException(401, "invalid, expired or revoked API token")
            found.recent_tokens.keep(token, principal)
        return principal
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        session = await run_in_threadpool(found.identity.session, cookie)
        if session is None:
            raise HTTPException(401, "the console session has expired: log in again")
        if request.method not in _SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not constant_time_equal(sent, session.csrf_token):
                raise HTTPException(403, "missing or wrong CSRF token (X-CSRF-Token header)")
        return session.principal
    raise HTTPException(401, "authentication required: a bearer token or a console session")


def require(permission: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency giving the caller if one of its roles grants `permission`, else 403.

    The check is async (it does no I/O), so it costs no thread hop of its own.
    """

    async def check(who: Annotated[Principal, Depends(caller)]) -> Principal:
        if not who.can(permission):
            raise HTTPException(
                403, f"the roles {sorted(who.roles)} do not allow this ({permission})"
            )
        return who

    check.__name__ = f"require_{permission}"
    return check
