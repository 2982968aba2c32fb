"""Identity: tenants (institutions), users with roles, API tokens, and console sessions.

A *tenant* is an institution (a bank) or the sector (the CERT or regulator that sees what
institutions release). A *user* belongs to one tenant and holds one or more roles from
`ROLES`; what each role may do is `PERMISSIONS`. Machines call the API with an *API token*
(``mmr_<id>_<secret>``, shown once, stored as an argon2 hash); people log in to the console
with a password (argon2) and get a *session* (a random cookie value, stored as its SHA-256)
with its own CSRF token.

A successful token check is remembered for `token_cache_s` seconds (keyed by the token's
SHA-256), so a busy client pays argon2 once, not on every call; revoking a token clears it
from this process's memory at once and from other processes' within that time.

>>> import tempfile, sqlalchemy as sa
>>> from mamori.store.migrations import upgrade
>>> engine = sa.create_engine(f"sqlite:///{tempfile.mkdtemp()}/id.db"); _ = upgrade(engine)
>>> ids = Identity(engine, hasher=FAST_HASHER)
>>> ids.create_tenant("bank-a", "Bank A")["kind"]
'institution'
>>> _ = ids.create_user("bank-a", "aiko", ["analyst"], password="correct horse")
>>> token, _ = ids.issue_token("aiko", "siem feed")
>>> who = ids.authenticate_token(token)
>>> who.tenant, who.username, who.can("hunt"), who.can("manage_users")
('bank-a', 'aiko', True, False)
>>> ids.login("aiko", "wrong") is None
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from mamori.govern.identity_tables import (
    API_TOKENS_TABLE,
    SESSIONS_TABLE,
    TENANTS_TABLE,
    USERS_TABLE,
)
from mamori.govern.policy import ROLES

__all__ = [
    "FAST_HASHER",
    "PERMISSIONS",
    "ROLES",
    "TENANT_KINDS",
    "ConsoleSession",
    "Identity",
    "IdentityError",
    "Principal",
    "constant_time_equal",
]

TENANT_KINDS = ("institution", "sector")

#: What each role may do. Reading is everyone's; changing a case, hunting and ingesting is
#: the analysts' and responders'; releasing to the sector and managing users is the admin's;
#: the audit trail is the auditor's (and the admin's).
PERMISSIONS: dict[str, frozenset[str]] = {
    "read": frozenset(ROLES),
    "work_cases": frozenset({"analyst", "responder", "admin"}),
    "hunt": frozenset({"analyst", "responder", "admin"}),
    "ingest": frozenset({"analyst", "responder", "admin"}),
    "release": frozenset({"responder", "admin"}),
    "manage_users": frozenset({"admin"}),
    "read_audit": frozenset({"auditor", "admin"}),
}

#: Argon2 at its cheapest, for tests and doctests only.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_TOKEN = re.compile(r"^mmr_([0-9a-f]{16})_([A-Za-z0-9_-]{20,100})$")
_SESSION_HOURS = 8


class IdentityError(ValueError):
    """A request to the identity store that cannot be done (unknown tenant, bad role …)."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user of a tenant with roles, by token or by console session."""

    user_id: str
    username: str
    tenant: str
    tenant_kind: str
    roles: frozenset[str]
    via: str  # "token" or "session"

    def can(self, permission: str) -> bool:
        """Whether one of the caller's roles grants `permission` (see `PERMISSIONS`)."""
        return bool(self.roles & PERMISSIONS[permission])

    @property
    def is_sector(self) -> bool:
        return self.tenant_kind == "sector"


@dataclass(frozen=True)
class ConsoleSession:
    """A logged-in console session: the cookie value (secret) and its CSRF token."""

    cookie: str
    csrf_token: str
    principal: Principal
    expires_at: dt.datetime


class Identity:
    """Tenants, users, tokens and sessions in the operational database."""

    def __init__(
        self,
        engine: sa.Engine,
        *,
        hasher: PasswordHasher | None = None,
        token_cache_s: float = 30.0,
    ) -> None:
        self._engine = engine
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        self._token_cache_s = token_cache_s
        self._token_cache: dict[str, tuple[Principal, float, str]] = {}
        self._lock = threading.Lock()

    # --- tenants ----------------------------------------------------------------------------

    def create_tenant(
        self, tenant: str, name: str | None = None, kind: str = "institution"
    ) -> dict[str, Any]:
        """Add a tenant (institution or sector); an existing one is an error."""
        _check_name("tenant", tenant)
        if kind not in TENANT_KINDS:
            raise IdentityError(f"tenant kind must be one of {', '.join(TENANT_KINDS)}")
        row = {"tenant": tenant, "name": name or tenant, "kind": kind, "created_at": _now()}
        with self._engine.begin() as connection:
            if connection.execute(
                sa.select(TENANTS_TABLE.c.tenant).where(TENANTS_TABLE.c.tenant == tenant)
            ).first():
                raise IdentityError(f"tenant {tenant!r} exists already")
            connection.execute(TENANTS_TABLE.insert(), row)
        return row

    def tenants(self) -> list[dict[str, Any]]:
        """Every tenant, by id."""
        with self._engine.connect() as connection:
            rows = connection.execute(sa.select(TENANTS_TABLE).order_by(TENANTS_TABLE.c.tenant))
            return [dict(r) for r in rows.mappings()]

    def tenant_kind(self, tenant: str) -> str | None:
        """"institution", "sector", or None for an unknown tenant."""
        with self._engine.connect() as connection:
            return connection.execute(
                sa.select(TENANTS_TABLE.c.kind).where(TENANTS_TABLE.c.tenant == tenant)
            ).scalar()

    # --- users ------------------------------------------------------------------------------

    def create_user(
        self,
        tenant: str,
        username: str,
        roles: Iterable[str],
        *,
        password: str | None = None,
        display_name: str | None = None,
    ) -> dict[str, Any]:
        """Add a user to a tenant; usernames are unique across tenants (they log in by it)."""
        _check_name("username", username)
        chosen = _roles(roles)
        if self.tenant_kind(tenant) is None:
            raise IdentityError(f"no tenant {tenant!r}; create it first")
        if password is not None:
            _check_password(password)
        row = {
            "user_id": secrets.token_hex(8),
            "tenant": tenant,
            "username": username,
            "display_name": display_name or username,
            "roles": ",".join(sorted(chosen)),
            "password_hash": None if password is None else self._hasher.hash(password),
            "active": True,
            "created_at": _now(),
        }
        with self._engine.begin() as connection:
            if self._user_row(connection, username) is not None:
                raise IdentityError(f"username {username!r} is taken")
            connection.execute(USERS_TABLE.insert(), row)
        return _public_user(row)

    def users(self, tenant: str) -> list[dict[str, Any]]:
        """A tenant's users (without their password hashes)."""
        query = (
            sa.select(USERS_TABLE)
            .where(USERS_TABLE.c.tenant == tenant)
            .order_by(USERS_TABLE.c.username)
        )
        with self._engine.connect() as connection:
            return [_public_user(dict(r)) for r in connection.execute(query).mappings()]

    def set_password(self, username: str, password: str) -> None:
        """Set a user's console password."""
        _check_password(password)
        with self._engine.begin() as connection:
            done = connection.execute(
                USERS_TABLE.update()
                .where(USERS_TABLE.c.username == username)
                .values(password_hash=self._hasher.hash(password))
            )
            if done.rowcount == 0:
                raise IdentityError(f"no user {username!r}")

    def deactivate_user(self, tenant: str, username: str) -> bool:
        """Switch a tenant's user off (tokens and sessions stop working); False if unknown."""
        with self._engine.begin() as connection:
            done = connection.execute(
                USERS_TABLE.update()
                .where(USERS_TABLE.c.username == username, USERS_TABLE.c.tenant == tenant)
                .values(active=False)
            )
        self._forget_tokens(lambda p: p.username == username)
        return done.rowcount > 0

    # --- API tokens -------------------------------------------------------------------------

    def issue_token(
        self, username: str, name: str, *, expires_in: dt.timedelta | None = None
    ) -> tuple[str, dict[str, Any]]:
        """A new API token for a user: the token itself (shown once) and its record."""
        with self._engine.begin() as connection:
            user = self._user_row(connection, username)
            if user is None or not user["active"]:
                raise IdentityError(f"no active user {username!r}")
            token_id = secrets.token_hex(8)
            secret = secrets.token_urlsafe(32)
            created = _now()
            row = {
                "token_id": token_id,
                "tenant": user["tenant"],
                "user_id": user["user_id"],
                "name": name,
                "secret_hash": self._hasher.hash(secret),
                "created_at": created,
                "expires_at": None if expires_in is None else created + expires_in,
                "revoked_at": None,
            }
            connection.execute(API_TOKENS_TABLE.insert(), row)
        record = {k: v for k, v in row.items() if k != "secret_hash"}
        return f"mmr_{token_id}_{secret}", record

    def tokens(self, tenant: str) -> list[dict[str, Any]]:
        """A tenant's tokens (never their secrets), newest first."""
        table = API_TOKENS_TABLE
        query = (
            sa.select(*(c for c in table.c if c.name != "secret_hash"))
            .where(table.c.tenant == tenant)
            .order_by(table.c.created_at.desc())
        )
        with self._engine.connect() as connection:
            return [dict(r) for r in connection.execute(query).mappings()]

    def revoke_token(self, tenant: str, token_id: str) -> bool:
        """Revoke one of a tenant's tokens; False if the tenant has no such token."""
        table = API_TOKENS_TABLE
        with self._engine.begin() as connection:
            done = connection.execute(
                table.update()
                .where(
                    table.c.token_id == token_id,
                    table.c.tenant == tenant,
                    table.c.revoked_at.is_(None),
                )
                .values(revoked_at=_now())
            )
        with self._lock:
            for key in [k for k, v in self._token_cache.items() if v[2] == token_id]:
                del self._token_cache[key]
        return done.rowcount > 0

    def authenticate_token(self, token: str) -> Principal | None:
        """The caller a bearer token stands for; None if it is malformed, unknown, expired,
        revoked, or its user is switched off."""
        key = hashlib.sha256(token.encode()).hexdigest()
        with self._lock:
            cached = self._token_cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        match = _TOKEN.match(token)
        if match is None:
            return None
        token_id, secret = match.groups()
        table, users, tenants = API_TOKENS_TABLE, USERS_TABLE, TENANTS_TABLE
        query = (
            sa.select(table.c.secret_hash, table.c.expires_at, table.c.revoked_at, *_who())
            .join(users, users.c.user_id == table.c.user_id)
            .join(tenants, tenants.c.tenant == users.c.tenant)
            .where(table.c.token_id == token_id)
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            self._verify(self._dummy_hash, secret)
            return None
        if not self._verify(row["secret_hash"], secret):
            return None
        expired = row["expires_at"] is not None and _utc(row["expires_at"]) <= _now()
        if row["revoked_at"] is not None or expired or not row["active"]:
            return None
        principal = _principal(row, "token")
        with self._lock:
            self._token_cache[key] = (principal, time.monotonic() + self._token_cache_s, token_id)
        return principal

    # --- console sessions -------------------------------------------------------------------

    def login(self, username: str, password: str) -> ConsoleSession | None:
        """Check a password and open a session; None if they do not match an active user."""
        with self._engine.connect() as connection:
            row = connection.execute(
                sa.select(USERS_TABLE.c.password_hash, *_who())
                .join(TENANTS_TABLE, TENANTS_TABLE.c.tenant == USERS_TABLE.c.tenant)
                .where(USERS_TABLE.c.username == username)
            ).mappings().first()
        stored = None if row is None else row["password_hash"]
        if not self._verify(stored or self._dummy_hash, password) or stored is None:
            return None
        assert row is not None
        if not row["active"]:
            return None
        cookie, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        created = _now()
        expires = created + dt.timedelta(hours=_SESSION_HOURS)
        with self._engine.begin() as connection:
            connection.execute(
                SESSIONS_TABLE.insert(),
                {
                    "session_hash": _sha256(cookie),
                    "user_id": row["user_id"],
                    "tenant": row["tenant"],
                    "csrf_token": csrf,
                    "created_at": created,
                    "expires_at": expires,
                },
            )
        return ConsoleSession(cookie, csrf, _principal(row, "session"), expires)

    def session(self, cookie: str) -> ConsoleSession | None:
        """The open session a cookie value stands for, or None."""
        table = SESSIONS_TABLE
        query = (
            sa.select(table.c.csrf_token, table.c.expires_at, *_who())
            .join(USERS_TABLE, USERS_TABLE.c.user_id == table.c.user_id)
            .join(TENANTS_TABLE, TENANTS_TABLE.c.tenant == USERS_TABLE.c.tenant)
            .where(table.c.session_hash == _sha256(cookie))
        )
        with self._engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None or not row["active"] or _utc(row["expires_at"]) <= _now():
            return None
        return ConsoleSession(
            cookie, row["csrf_token"], _principal(row, "session"), _utc(row["expires_at"])
        )

    def logout(self, cookie: str) -> None:
        """Close a session."""
        with self._engine.begin() as connection:
            connection.execute(
                SESSIONS_TABLE.delete().where(SESSIONS_TABLE.c.session_hash == _sha256(cookie))
            )

    # --- helpers ----------------------------------------------------------------------------

    def _verify(self, stored: str, secret: str) -> bool:
        try:
            return self._hasher.verify(stored, secret)
        except (VerificationError, InvalidHashError):
            return False

    def _forget_tokens(self, which: Any) -> None:
        with self._lock:
            for key in [k for k, v in self._token_cache.items() if which(v[0])]:
                del self._token_cache[key]

    @staticmethod
    def _user_row(connection: sa.Connection, username: str) -> dict[str, Any] | None:
        row = (
            connection.execute(sa.select(USERS_TABLE).where(USERS_TABLE.c.username == username))
            .mappings()
            .first()
        )
        return None if row is None else dict(row)


def _who() -> tuple[sa.ColumnElement[Any], ...]:
    """The columns a `Principal` is made of (users joined with tenants)."""
    u = USERS_TABLE.c
    return (u.user_id, u.username, u.tenant, u.roles, u.active, TENANTS_TABLE.c.kind)


def _principal(row: Any, via: str) -> Principal:
    return Principal(
        user_id=row["user_id"],
        username=row["username"],
        tenant=row["tenant"],
        tenant_kind=row["kind"],
        roles=frozenset(r for r in row["roles"].split(",") if r),
        via=via,
    )


def _public_user(row: dict[str, Any]) -> dict[str, Any]:
    user = {k: v for k, v in row.items() if k != "password_hash"}
    user["roles"] = [r for r in row["roles"].split(",") if r]
    user["has_password"] = row["password_hash"] is not None
    return user


def _roles(roles: Iterable[str]) -> set[str]:
    chosen = set(roles)
    unknown = sorted(chosen - set(ROLES))
    if unknown or not chosen:
        raise IdentityError(f"roles must be some of {', '.join(ROLES)} (got {sorted(chosen)})")
    return chosen


def _check_name(what: str, value: str) -> None:
    if not _NAME.match(value):
        raise IdentityError(
            f"{what} {value!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit"
        )


def _check_password(password: str) -> None:
    if len(password) < 10:
        raise IdentityError("a password needs at least 10 characters")


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    """Compare two secrets (e.g. CSRF tokens) without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment
