"""The demo's bank on the console: its tenant and one user per duty, with fresh passwords.

`mamori demo` (``make demo``) simulates a bank, detects into a data folder, then serves the
API and the console over it. Before serving it calls `open_demo_bank`, which makes the
simulated bank's tenant and five users (an analyst, two responders so that a high-impact
action can get its four eyes, an admin and an auditor), each with a random password that
is printed once and stored only as its argon2 hash.

>>> import tempfile
>>> from mamori.govern.identity import FAST_HASHER
>>> users = open_demo_bank(Path(tempfile.mkdtemp()), hasher=FAST_HASHER)
>>> [(u.username, u.role) for u in users][:3]
[('analyst', 'analyst'), ('responder1', 'responder'), ('responder2', 'responder')]
>>> len({u.password for u in users}), min(len(u.password) for u in users) >= 16
(5, True)
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from argon2 import PasswordHasher

from mamori.api.settings import ApiSettings
from mamori.govern.identity import Identity
from mamori.store.migrations import upgrade

__all__ = ["DEMO_TENANT", "DemoUser", "open_demo_bank"]

#: The tenant the simulator's bank writes its events and alerts under.
DEMO_TENANT = "bank-a"

#: (username, role, display name) of the demo's users.
_USERS = (
    ("analyst", "analyst", "Aiko Sato (SOC analyst)"),
    ("responder1", "responder", "Kenji Mori (responder)"),
    ("responder2", "responder", "Yui Tanaka (responder)"),
    ("admin", "admin", "Hiro Ito (administrator)"),
    ("auditor", "auditor", "Emi Kato (internal audit)"),
)

@dataclass(frozen=True)
class DemoUser:
    """A demo user and the password it was given (shown once)."""

    username: str
    role: str
    display_name: str
    password: str


def open_demo_bank(data_dir: Path, *, hasher: PasswordHasher | None = None) -> list[DemoUser]:
    """Create the demo bank's tenant and users in `data_dir`'s database; their passwords.

    The folder must not hold them yet (the demo starts from an empty folder).
    """
    engine = sa.create_engine(ApiSettings(data_dir).database)
    try:
        upgrade(engine)
        identity = Identity(engine, hasher=hasher)
        identity.create_tenant(DEMO_TENANT, "Bank A (simulated)")
        made = []
        for username, role, display_name in _USERS:
            password = secrets.token_urlsafe(12)
            identity.create_user(
                DEMO_TENANT, username, [role], password=password, display_name=display_name
            )
            made.append(DemoUser(username, role, display_name, password))
        return made
    finally:
        engine.dispose()
