"""Incidents for alerts that other processes write to the store (the Kafka workers).

`mamori worker` processes store their alerts in the operational database the console
reads, but build no incidents: each sees only its own partitions. The API server does it:
every `every_s` seconds `IncidentWatch` compares how many alerts each tenant has stored
with how many of them belong to an incident (every alert does, once its tenant's
incidents are built), and rebuilds the tenants where the two differ. A tenant whose
engine runs in this server (it also ingests over HTTP) is rebuilt by that engine, on its
thread, with the entity links it learned from its events; any other tenant is rebuilt
here from its stored alerts, linked through the entities the alerts name.

Both counts are in the database, so alerts stored while no server ran get their incidents
when one starts, and what `mamori run` built (every alert grouped) is left as it is.

>>> import tempfile
>>> from mamori.store.sql import OperationalStore
>>> store = OperationalStore(f"sqlite:///{tempfile.mkdtemp()}/m.db")
>>> watch = IncidentWatch(store, engine_of=lambda tenant: None)
>>> watch.look()
[]
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

from mamori.engine.incidents import build_incidents
from mamori.store.sql import OperationalStore

__all__ = ["IncidentWatch"]

log = logging.getLogger("mamori.api.incident_watch")


class Rebuilder(Protocol):
    def rebuild_incidents(self) -> None: ...


class IncidentWatch:
    """Rebuilds incidents of tenants whose stored alerts changed (see the module text)."""

    def __init__(
        self,
        store: OperationalStore,
        engine_of: Callable[[str], Rebuilder | None],
        *,
        every_s: float = 5.0,
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.store, self.engine_of, self.every_s = store, engine_of, every_s
        self.on_change = on_change
        self.acted_at: dict[str, int] = {}  # the alert count each tenant was last rebuilt at
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def look(self) -> list[str]:
        """Rebuild (or have rebuilt) the tenants with alerts in no incident; their names."""
        counts = self.store.alert_counts()
        grouped = self.store.grouped_alert_counts()
        stale = sorted(
            t for t, n in counts.items() if grouped.get(t, 0) != n and self.acted_at.get(t) != n
        )
        for tenant in stale:
            self.acted_at[tenant] = counts[tenant]  # once per count, even if it stays apart
            engine = self.engine_of(tenant)
            if engine is not None:
                engine.rebuild_incidents()
                continue
            incidents, links = build_incidents(self.store.alerts(tenant))
            self.store.replace_incidents(tenant, incidents, links)
            if self.on_change is not None:
                self.on_change(tenant)
        return stale

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="incident-watch", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.look()
            except Exception:  # noqa: BLE001 - a database hiccup: log it, look again later
                log.exception("incident watch failed; trying again in %s s", self.every_s)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
