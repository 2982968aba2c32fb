"""What every route works with: the store, the lake, identity, cases, ingest, and the sector
hub the bank follows."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from fastapi import Request

from mamori.api.cases import CaseBook
from mamori.api.incident_watch import IncidentWatch
from mamori.api.intake import Intake
from mamori.api.listings import ListingPages
from mamori.api.metrics import ApiMetrics
from mamori.api.settings import ApiSettings
from mamori.api.tokens import RecentTokens
from mamori.govern.identity import Identity
from mamori.share.follow import FollowSettings, SectorFollower
from mamori.store.lake import EventLake
from mamori.store.sql import OperationalStore


@dataclass
class Services:
    """One API server's collaborators, built once by `open_services`."""

    settings: ApiSettings
    store: OperationalStore
    lake: EventLake
    engine: sa.Engine
    identity: Identity
    cases: CaseBook
    intake: Intake
    metrics: ApiMetrics
    pages: ListingPages
    recent_tokens: RecentTokens
    incident_watch: IncidentWatch
    follower: SectorFollower | None = None  # the sector hub this bank follows, if any

    def close(self) -> None:
        if self.follower is not None:
            self.follower.close()
        self.incident_watch.close()
        self.intake.close()
        self.pages.close()
        self.store.close()
        self.engine.dispose()


def open_services(settings: ApiSettings) -> Services:
    """Open the data folder: the store (its schema migrated), the lake, identity, ingest."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = OperationalStore(settings.database)  # runs the Alembic migrations
    engine = sa.create_engine(settings.database)
    lake = EventLake(settings.data_dir / "lake")
    pages = ListingPages(ttl_s=settings.listing_cache_s)
    hasher = PasswordHasher(
        time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
    )
    follow = FollowSettings.from_data_dir(settings.data_dir)
    intake = Intake(
        settings.data_dir,
        store,
        lake,
        batch_rows=settings.engine_batch_rows,
        incident_every_s=settings.incident_every_s,
        checkpoint_every_s=settings.checkpoint_every_s,
        max_pending_events=settings.max_pending_events,
        on_change=pages.changed,
        followers={follow.tenant: follow.salt} if follow else None,
    )
    return Services(
        settings=settings,
        store=store,
        lake=lake,
        engine=engine,
        identity=Identity(engine, hasher=hasher, token_cache_s=settings.token_cache_s),
        cases=CaseBook(engine, on_change=pages.changed),
        intake=intake,
        metrics=ApiMetrics(),
        pages=pages,
        recent_tokens=RecentTokens(ttl_s=settings.token_cache_s),
        incident_watch=IncidentWatch(
            store, intake.running, every_s=settings.incident_watch_s, on_change=pages.changed
        ),
        follower=SectorFollower(follow, lambda: intake.engine(follow.tenant)) if follow else None,
    )


async def services(request: Request) -> Services:
    """The app's services (a FastAPI dependency; async: no thread hop for an attribute)."""
    found: Services = request.app.state.services
    return found
