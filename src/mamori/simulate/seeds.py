"""Independent, reproducible random streams.

Every random draw comes from a NumPy generator keyed by (master seed, tenant, purpose, ...),
so a tenant's population does not change when another tenant is added, and one day's
attacks do not shift when the background of that day changes.
"""

from __future__ import annotations

import zlib

import numpy as np


def tenant_key(tenant: str) -> int:
    """A stable 32-bit number for a tenant name (CRC-32, identical on every platform)."""
    return zlib.crc32(tenant.encode("utf-8"))


def stream(seed: int, tenant: str, *purpose: str | int) -> np.random.Generator:
    """The random generator for one purpose of one tenant, e.g. `stream(7, "bank-a", "day", 3)`."""
    key = [tenant_key(tenant)]
    key.extend(zlib.crc32(p.encode("utf-8")) if isinstance(p, str) else int(p) for p in purpose)
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))
