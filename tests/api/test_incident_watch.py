"""Alerts another process (a Kafka worker) stores become incidents the console shows."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from mamori.api.app import create_app
from mamori.api.incident_watch import IncidentWatch
from mamori.engine.incidents import build_incidents
from mamori.store.sql import OperationalStore
from tests.api.conftest import PASSWORD, settings_for_tests
from tests.store.test_sql import make_alerts


def test_alerts_a_worker_stores_become_incidents_on_the_console(tmp_path: Path) -> None:
    app = create_app(settings_for_tests(tmp_path, incident_watch_s=0.05))
    found = app.state.services
    found.identity.create_tenant("bank-w")
    found.identity.create_user("bank-w", "analyst", ["analyst"], password=PASSWORD)
    token, _ = found.identity.issue_token("analyst", "test")
    auth = {"Authorization": f"Bearer {token}"}
    with TestClient(app) as client:
        assert client.get("/v1/incidents", headers=auth).json()["count"] == 0
        # a worker: its own connection to the same database, alerts on one user
        with OperationalStore(found.settings.database) as worker:
            assert worker.add_alerts(make_alerts(3, tenant="bank-w")) == 3
        deadline = time.monotonic() + 20
        while client.get("/v1/incidents", headers=auth).json()["count"] == 0:
            assert time.monotonic() < deadline, "no incident was built"
            time.sleep(0.05)
        listed = client.get("/v1/incidents", headers=auth).json()["incidents"]
        assert len(listed) == 1  # the three alerts share user:alice
        members = found.store.incident_links("bank-w")["alert_id"].to_list()
        assert sorted(members) == ["a0", "a1", "a2"]


def test_a_tenant_with_an_engine_here_is_rebuilt_by_that_engine(tmp_path: Path) -> None:
    store = OperationalStore(f"sqlite:///{tmp_path}/m.db")
    store.add_alerts(make_alerts(2, tenant="bank-a"))
    asked: list[str] = []

    class Engine:
        def rebuild_incidents(self) -> None:
            asked.append("bank-a")

    store.add_alerts(make_alerts(2, tenant="bank-c", prefix="c"))
    built, links = build_incidents(store.alerts("bank-c"))
    store.replace_incidents("bank-c", built, links)  # as `mamori run` leaves it

    watch = IncidentWatch(store, lambda t: Engine() if t == "bank-a" else None)
    assert watch.look() == ["bank-a"]  # stored while no server ran: its alerts in no incident
    assert asked == ["bank-a"]  # its engine rebuilds it, with the links it learned
    assert watch.look() == []  # asked once per count, while the engine works

    store.add_alerts(make_alerts(2, tenant="bank-b", prefix="b"))
    assert watch.look() == ["bank-b"]  # built here from the stored alerts
    assert store.incidents("bank-b").height == 1
    assert store.grouped_alert_counts()["bank-b"] == 2
    kept = store.incident_links("bank-c").sort("alert_id")
    assert kept.equals(links.sort("alert_id"))  # what was built is left alone
    assert watch.look() == []
    store.close()
