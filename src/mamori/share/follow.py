"""A bank's Mamori following its sector hub: what the sector shares reaches the bank by itself.

A member bank's `mamori serve` runs a `SectorFollower` when its data folder's
``mamori.toml`` has a ``[follow]`` table. Every `every_s` seconds the follower pulls what
was added to the hub's two collections since its last pull (TAXII 2.1 ``added_after``):

* ``indicators``: the indicators other members released go straight into the tenant
  engine's `SharedIntel` detector, so the bank's next events are matched against them
  (addresses, domains, URLs and hashes; salted mule accounts and devices with the sector's
  salt);
* ``early-warning``: each sector campaign, and each rise of its level, becomes an alert of
  the bank's own tenant (`campaign_alerts`: detector ``sector``, rule
  ``sector-campaign``), stored and grouped into incidents like every other alert, so it
  shows on the console and in the report without anyone pulling by hand.

Both go through the tenant engine's queue, so they are applied on the engine's thread
between event batches. Alert ids are stable, so a campaign pulled twice is stored once.
The indicators live in memory: on start the follower pulls both collections from the
beginning. The token and the salt are read from environment variables named in the
table, never from the file, and never logged::

    [follow]
    url = "https://hub.sector.example:8443"   # the hub's base URL
    tenant = "bank-a"                          # whose matching and alerts it feeds
    token_env = "MAMORI_SECTOR_TOKEN"          # the hub's bearer token for this bank
    salt_env = "MAMORI_SECTOR_SALT"            # the sector's salt for fraud indicators
    every_s = 5                                # seconds between pulls
    root = "/taxii2/sector/"                   # the hub's API root

>>> settings = FollowSettings.from_table({"url": "http://hub:8000", "tenant": "bank-a"},
...     environ={"MAMORI_SECTOR_TOKEN": "t0ken"})
>>> settings.url, settings.tenant, settings.every_s, settings.token == "t0ken"
('http://hub:8000', 'bank-a', 5.0, True)
"""

from __future__ import annotations

import logging
import os
import threading
import time
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import polars as pl

from mamori.share.campaign import MEMBER_COLLECTION, WARNING_COLLECTION, campaign_alerts
from mamori.share.client import PeerError, TaxiiPeer
from mamori.share.hub import CONFIG_FILE

__all__ = ["FollowError", "FollowSettings", "SectorFollower", "SharedIntake"]

log = logging.getLogger("mamori.share.follow")


class FollowError(ValueError):
    """A ``[follow]`` table that cannot be used."""


class SharedIntake(Protocol):
    """Where pulled objects go: the tenant engine (`mamori.api.intake.TenantEngine.share`)."""

    def share(self, objects: list[dict[str, Any]], alerts: pl.DataFrame) -> None: ...


@dataclass(frozen=True)
class FollowSettings:
    """Which hub to follow, for which tenant (see the module text)."""

    url: str
    tenant: str
    token: str = field(repr=False)
    salt: str = field(default="", repr=False)
    every_s: float = 5.0
    root: str = "/taxii2/sector/"

    @classmethod
    def from_table(
        cls, table: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> FollowSettings:
        """Settings from a ``[follow]`` table; the token and salt from the environment."""
        environ = os.environ if environ is None else environ
        missing = [key for key in ("url", "tenant") if not table.get(key)]
        if missing:
            raise FollowError(f"[follow] needs {' and '.join(missing)}")
        token_env = str(table.get("token_env", "MAMORI_SECTOR_TOKEN"))
        token = environ.get(token_env, "")
        if not token:
            raise FollowError(f"[follow]: the hub's token is not set (environment {token_env})")
        try:
            every_s = float(table.get("every_s", 5))
        except (TypeError, ValueError):
            raise FollowError(f"[follow] every_s is not a number: {table['every_s']!r}") from None
        if every_s <= 0:
            raise FollowError(f"[follow] every_s must be positive, got {every_s}")
        return cls(
            url=str(table["url"]).rstrip("/"),
            tenant=str(table["tenant"]),
            token=token,
            salt=environ.get(str(table.get("salt_env", "MAMORI_SECTOR_SALT")), ""),
            every_s=every_s,
            root=str(table.get("root", "/taxii2/sector/")),
        )

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> FollowSettings | None:
        """The ``[follow]`` table of ``DATA_DIR/mamori.toml``; None without one."""
        path = Path(data_dir) / CONFIG_FILE
        if not path.exists():
            return None
        try:
            table = tomllib.loads(path.read_text()).get("follow")
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise FollowError(f"{path}: {err}") from None
        if table is None:
            return None
        try:
            return cls.from_table(table)
        except FollowError as err:
            raise FollowError(f"{path}: {err}") from None


@dataclass
class FollowStatus:
    """What the follower has done, for the health route and the tests."""

    rounds: int = 0
    indicators: int = 0
    campaign_alerts: int = 0
    last_pull_at: float | None = None
    last_error: str | None = None
    marks: dict[str, str | None] = field(default_factory=dict)


class SectorFollower:
    """Pulls the hub's collections on a cycle into a tenant engine (see the module text)."""

    COLLECTIONS = (MEMBER_COLLECTION, WARNING_COLLECTION)

    def __init__(
        self,
        settings: FollowSettings,
        target: Callable[[], SharedIntake],
        http: httpx.Client | None = None,
    ) -> None:
        """`target()` gives the tenant engine (started on first use); `http` defaults to a
        client for `settings.url`."""
        self.settings, self.target = settings, target
        self.http = http or httpx.Client(base_url=settings.url, timeout=10)
        self.peer = TaxiiPeer(self.http, settings.token, settings.root)
        self.status = FollowStatus(marks=dict.fromkeys(self.COLLECTIONS))
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def pull_once(self) -> int:
        """One round: pull both collections from their marks, hand the new objects on.
        Returns the number of objects pulled."""
        pulled: dict[str, list[dict[str, Any]]] = {}
        marks = dict(self.status.marks)
        for collection in self.COLLECTIONS:
            pulled[collection], marks[collection] = self.peer.pull(collection, marks[collection])
        indicators, campaigns = pulled[MEMBER_COLLECTION], pulled[WARNING_COLLECTION]
        alerts = campaign_alerts(campaigns, self.settings.tenant)
        if indicators or alerts.height:
            self.target().share(indicators, alerts)
        self.status.marks = marks  # only once handed on: a failed round is pulled again
        self.status.rounds += 1
        self.status.indicators += sum(o.get("type") == "indicator" for o in indicators)
        self.status.campaign_alerts += alerts.height
        self.status.last_pull_at, self.status.last_error = time.time(), None
        return len(indicators) + len(campaigns)

    def start(self) -> None:
        """Pull every `every_s` seconds on a thread until `close`."""
        self._thread = threading.Thread(target=self._loop, name="sector-follower", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.pull_once()
            except (PeerError, httpx.HTTPError, ValueError) as error:
                # the hub is down or refused us: say so (never the token) and try again
                self.status.last_error = f"{type(error).__name__}: {error}"
                log.warning("sector follower for %s: %s", self.settings.tenant,
                            self.status.last_error)
            self._stop.wait(self.settings.every_s)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.http.close()
