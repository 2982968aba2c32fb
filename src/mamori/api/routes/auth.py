"""Console login and logout, the caller, API tokens, and a tenant's users (admin)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from mamori.api.responses import OrjsonResponse
from mamori.api.security import CSRF_COOKIE, SESSION_COOKIE, caller, require
from mamori.api.services import Services, services
from mamori.govern.identity import ROLES, IdentityError, Principal

router = APIRouter(prefix="/v1", tags=["identity"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)

    model_config = {"extra": "forbid"}


class NewToken(BaseModel):
    """A token for yourself, or (admin) for a user of your tenant."""

    name: str = Field(min_length=1, max_length=100)
    username: str | None = Field(default=None, max_length=64)
    expires_days: int | None = Field(default=None, ge=1, le=3650)

    model_config = {"extra": "forbid"}


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    roles: list[str] = Field(min_length=1, max_length=len(ROLES))
    password: str | None = Field(default=None, min_length=10, max_length=1024)
    display_name: str | None = Field(default=None, max_length=200)

    model_config = {"extra": "forbid"}


def _me(who: Principal) -> dict[str, object]:
    return {
        "username": who.username,
        "tenant": who.tenant,
        "tenant_kind": who.tenant_kind,
        "roles": sorted(who.roles),
        "via": who.via,
    }


@router.post("/auth/login")
async def login(
    credentials: Login, request: Request, found: Annotated[Services, Depends(services)]
) -> OrjsonResponse:
    """Log in to the console: sets the session cookie (HttpOnly, SameSite=Strict) and the
    CSRF cookie; state-changing calls must echo the CSRF token in ``X-CSRF-Token``."""
    session = await run_in_threadpool(
        found.identity.login, credentials.username, credentials.password
    )
    if session is None:
        raise HTTPException(401, "wrong username or password")
    response = OrjsonResponse({**_me(session.principal), "csrf_token": session.csrf_token})
    secure = found.settings.secure_cookies
    max_age = int((session.expires_at - dt.datetime.now(dt.UTC)).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        session.cookie,
        max_age=max_age,
        httponly=True,
        secure=secure,
        samesite="strict",
    )
    response.set_cookie(
        CSRF_COOKIE, session.csrf_token, max_age=max_age, secure=secure, samesite="strict"
    )
    return response


@router.post("/auth/logout")
def logout(
    request: Request,
    who: Annotated[Principal, Depends(caller)],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """Close the console session (CSRF token required like any change)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        found.identity.logout(cookie)
    response = OrjsonResponse({"logged_out": who.username})
    response.delete_cookie(SESSION_COOKIE)
    response.delete_cookie(CSRF_COOKIE)
    return response


@router.get("/auth/me")
def me(who: Annotated[Principal, Depends(caller)]) -> OrjsonResponse:
    """Who you are: username, tenant, roles."""
    return OrjsonResponse(_me(who))


@router.get("/auth/tokens")
def list_tokens(
    who: Annotated[Principal, Depends(caller)], found: Annotated[Services, Depends(services)]
) -> OrjsonResponse:
    """Your tenant's tokens (admin), or your own; never their secrets."""
    tokens = found.identity.tokens(who.tenant)
    if not who.can("manage_users"):
        tokens = [t for t in tokens if t["user_id"] == who.user_id]
    return OrjsonResponse({"tokens": tokens})


@router.post("/auth/tokens", status_code=201)
def issue_token(
    request_body: NewToken,
    who: Annotated[Principal, Depends(caller)],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """A new API token; the token is in the answer once and never again."""
    username = request_body.username or who.username
    if username != who.username:
        if not who.can("manage_users"):
            raise HTTPException(403, "only an admin may issue tokens for other users")
        if not any(u["username"] == username for u in found.identity.users(who.tenant)):
            raise HTTPException(404, f"no user {username!r} in your tenant")
    expires = (
        None
        if request_body.expires_days is None
        else dt.timedelta(days=request_body.expires_days)
    )
    try:
        token, record = found.identity.issue_token(
            username, request_body.name, expires_in=expires
        )
    except IdentityError as error:
        raise HTTPException(422, str(error)) from error
    return OrjsonResponse({"token": token, **record}, status_code=201)


@router.delete("/auth/tokens/{token_id}")
def revoke_token(
    token_id: str,
    who: Annotated[Principal, Depends(caller)],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """Revoke a token of your tenant (admin) or your own."""
    mine = [t for t in found.identity.tokens(who.tenant) if t["token_id"] == token_id]
    if not mine or (mine[0]["user_id"] != who.user_id and not who.can("manage_users")):
        raise HTTPException(404, f"no token {token_id!r}")
    found.identity.revoke_token(who.tenant, token_id)
    found.recent_tokens.forget(token_id)
    return OrjsonResponse({"revoked": token_id})


@router.get("/users")
def list_users(
    who: Annotated[Principal, Depends(require("manage_users"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """Your tenant's users (admin)."""
    return OrjsonResponse({"users": found.identity.users(who.tenant)})


@router.post("/users", status_code=201)
def create_user(
    new: NewUser,
    who: Annotated[Principal, Depends(require("manage_users"))],
    found: Annotated[Services, Depends(services)],
) -> OrjsonResponse:
    """Add a user to your tenant (admin)."""
    try:
        user = found.identity.create_user(
            who.tenant,
            new.username,
            new.roles,
            password=new.password,
            display_name=new.display_name,
        )
    except IdentityError as error:
        raise HTTPException(422, str(error)) from error
    return OrjsonResponse(user, status_code=201)
