"""The sector hub inside `mamori serve`: its settings, and its collections kept in the
operational database so that a restart keeps what members shared and the campaigns raised.

Settings come from the ``[sector]`` table of ``mamori.toml`` in the data folder (all keys
optional; without the file the defaults hold)::

    [sector]
    name = "jp-banks"          # the sector's name (campaign objects are created by it)
    k = 3                      # institutions that make a sector campaign
    window_days = 3            # within this window of event time
    consent = ["bank-a"]       # institutions that agreed to be named in campaigns

Every object the hub accepts or issues is one row of ``sector_objects`` (collection, time
added in µs, posting tenant, the object as JSON), written before the server answers. On
start the hub reads them back and rebuilds its campaign watch from what members posted.

>>> import tempfile, sqlalchemy as sa
>>> from mamori.store.migrations import upgrade
>>> engine = sa.create_engine(f"sqlite:///{tempfile.mkdtemp()}/hub.db"); _ = upgrade(engine)
>>> HubJournal(engine).append("indicators", [(1, "bank-a", {"id": "indicator--1"})])
>>> HubJournal(engine).load()
[('indicators', 1, 'bank-a', {'id': 'indicator--1'})]
>>> sector_status(HubJournal(engine), HubSettings())["level"]
1
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from mamori.share.campaign import CampaignWatch, sector_hub
from mamori.share.taxii import Authenticate, TaxiiServer

__all__ = ["CONFIG_FILE", "SECTOR_OBJECTS_TABLE", "HubJournal", "HubSettings", "open_hub",
           "sector_status"]

#: The file in the data folder whose ``[sector]`` table configures the hub.
CONFIG_FILE = "mamori.toml"

SECTOR_OBJECTS_TABLE = sa.Table(
    "sector_objects",
    sa.MetaData(),
    sa.Column("collection", sa.String(), primary_key=True),
    sa.Column("added_us", sa.BigInteger(), primary_key=True, autoincrement=False),
    sa.Column("tenant", sa.String(), nullable=False),
    sa.Column("object_id", sa.String(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
)


class HubError(ValueError):
    """A ``[sector]`` configuration that cannot be used."""


@dataclass(frozen=True)
class HubSettings:
    """How the hub raises sector campaigns (see the module text)."""

    sector: str = "sector"
    k: int = 3
    window: timedelta = timedelta(days=3)
    consent: frozenset[str] = frozenset()

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> HubSettings:
        """The ``[sector]`` table of ``DATA_DIR/mamori.toml``; defaults without one."""
        path = Path(data_dir) / CONFIG_FILE
        if not path.exists():
            return cls()
        try:
            table = tomllib.loads(path.read_text()).get("sector", {})
            settings = cls(
                sector=str(table.get("name", "sector")),
                k=int(table.get("k", 3)),
                window=timedelta(days=float(table.get("window_days", 3))),
                consent=frozenset(str(t) for t in table.get("consent", ())),
            )
        except (OSError, tomllib.TOMLDecodeError, TypeError, ValueError) as err:
            raise HubError(f"{path}: bad [sector] table ({err})") from None
        if settings.k < 2:
            raise HubError(f"{path}: [sector] k must be at least 2, got {settings.k}")
        return settings


class HubJournal:
    """The hub's collections in the ``sector_objects`` table (the `Journal` of the server)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def append(self, collection: str, entries: list[tuple[int, str, dict[str, Any]]]) -> None:
        rows = [
            {"collection": collection, "added_us": added, "tenant": tenant,
             "object_id": str(obj.get("id", "")), "body": orjson.dumps(obj).decode()}
            for added, tenant, obj in entries
        ]
        if rows:
            with self.engine.begin() as connection:
                connection.execute(SECTOR_OBJECTS_TABLE.insert(), rows)

    def load(self) -> list[tuple[str, int, str, dict[str, Any]]]:
        table = SECTOR_OBJECTS_TABLE
        query = sa.select(table.c.collection, table.c.added_us, table.c.tenant, table.c.body)
        with self.engine.connect() as connection:
            found = connection.execute(query.order_by(table.c.collection, table.c.added_us))
            return [(c, int(added), t, orjson.loads(body)) for c, added, t, body in found]


def open_hub(engine: sa.Engine, authenticate: Authenticate, settings: HubSettings) -> TaxiiServer:
    """The sector hub over the operational database (its table migrated already)."""
    return sector_hub(authenticate, k=settings.k, window=settings.window,
                      consent=settings.consent, sector=settings.sector,
                      journal=HubJournal(engine))


def watch_status(watch: CampaignWatch) -> dict[str, Any]:
    """The sector early-warning level and the campaigns as members may see them (affected
    institutions counted, named only where they agreed), highest level first."""
    campaigns = sorted(watch.campaigns(), key=lambda c: (-c.level, -c.institutions, c.label))
    return {
        "sector": watch.sector,
        "k": watch.k,
        "window_days": watch.window / timedelta(days=1),
        "level": max((c.level for c in campaigns), default=1),
        "campaigns": [c.public() for c in campaigns],
    }


def sector_status(journal: HubJournal, settings: HubSettings) -> dict[str, Any]:
    """`watch_status` of the hub kept in `journal`, rebuilt offline (no server needed)."""
    server = sector_hub(lambda token: None, k=settings.k, window=settings.window,
                        consent=settings.consent, sector=settings.sector, journal=journal)
    return watch_status(server.watch)
