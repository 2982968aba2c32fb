"""What an API server needs to know: where its data is and how much it accepts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mamori.store.sql import data_dir_url


@dataclass(frozen=True)
class ApiSettings:
    """Settings of one API server.

    `data_dir` holds the event lake (``lake/``), the ingest spool (``spool/``), quarantine
    files and the engines' checkpoints; the operational database is `database_url`, by
    default the SQLite file ``data_dir/mamori.db``.
    """

    data_dir: Path
    database_url: str | None = None
    #: Largest request body in bytes, and the larger allowance of the ingest route.
    max_body_bytes: int = 1 << 20
    max_ingest_bytes: int = 64 << 20
    #: Requests per second each caller (token, session or address) may make, and its burst.
    rate_per_s: float = 200.0
    rate_burst: int = 400
    #: Hunting: seconds a query may run, and rows it may return at most.
    hunt_timeout_s: float = 10.0
    hunt_max_rows: int = 10_000
    #: Console cookies carry the Secure flag (turn off only for plain-HTTP development).
    secure_cookies: bool = True
    #: Engine: rows per micro-batch, seconds between incident rebuilds and checkpoints, and
    #: events waiting for the engine beyond which ingest answers 503 (retry later).
    engine_batch_rows: int = 250_000
    incident_every_s: float = 2.0
    checkpoint_every_s: float = 5.0
    max_pending_events: int = 5_000_000
    #: Seconds between looks for alerts other processes (the Kafka workers) stored, whose
    #: tenants' incidents are then rebuilt (`mamori.api.incident_watch`).
    incident_watch_s: float = 5.0
    #: Seconds a verified API token is remembered: argon2 (tens of ms of CPU) is paid once
    #: per token per this period. Revoking a token or switching off its user through this
    #: server takes effect at once; a token's expiry, or a change made by another process,
    #: within this time.
    token_cache_s: float = 300.0
    #: Seconds the first pages of a tenant's alert and incident listings are kept
    #: (`mamori.api.listings`; a write through this server drops them at once; 0: never).
    listing_cache_s: float = 1.0
    #: Argon2 parameters (time cost, memory KiB); tests lower them.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536

    @property
    def database(self) -> str:
        return self.database_url or data_dir_url(self.data_dir)
