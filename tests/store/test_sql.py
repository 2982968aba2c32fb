"""The operational store: idempotent alerts, tenant isolation, round-trips, incidents, runs."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import polars as pl
import pytest

from mamori.events.schema import ALERT, INCIDENT, conform_alerts
from mamori.store.sql import OperationalStore

T0 = dt.datetime(2024, 5, 1, 9, 0, 0, 123456, tzinfo=dt.UTC)


def make_alerts(n: int, tenant: str = "bank-a", prefix: str = "a", start: int = 0) -> pl.DataFrame:
    """`n` alerts one minute apart, with list columns filled."""
    ids = [f"{prefix}{i}" for i in range(start, start + n)]
    return conform_alerts(
        pl.DataFrame(
            {
                "alert_id": ids,
                "time": [T0 + dt.timedelta(minutes=i) for i in range(start, start + n)],
                "tenant": [tenant] * n,
                "detector": ["sigma" if i % 2 else "fraud" for i in range(start, start + n)],
                "rule_id": ["r-1"] * n,
                "title": ["Suspicious thing"] * n,
                "severity": ["high"] * n,
                "score": [0.75] * n,
                "entity_type": ["host"] * n,
                "entity_id": [f"ws-{i}" for i in range(n)],
                "related": [["user:alice", 'ip:"10.0.0.1"']] * n,
                "stage": ["execution"] * n,
                "attack": [["T1059.001", "T1105"]] * n,
                "event_ids": [[f"e{i}", f"e{i + 1}"] for i in range(n)],
                "explanation": ["CommandLine contains 'ü <b>' and\nnewline"] * n,
            }
        )
    )


def make_incidents(tenant: str = "bank-a", **overrides: object) -> pl.DataFrame:
    base = {
        "incident_id": ["inc-1", "inc-2", "inc-3"],
        "tenant": [tenant] * 3,
        "first_seen": [T0, T0, T0 + dt.timedelta(hours=1)],
        "last_seen": [
            T0 + dt.timedelta(hours=1),
            T0 + dt.timedelta(hours=3),
            T0 + dt.timedelta(hours=2),
        ],
        "title": ["Ransomware precursor", "Account takeover", "Card testing"],
        "risk": [80, 80, 95],
        "level": [4, 4, 5],
        "stages": [["initial_access", "execution"], ["credential_access"], []],
        "entities": [["host:ws-0"], ["customer:c1", "device:d1"], ["card:4111"]],
        "reasons": [["kill chain of 2 stages"], ["new device then payee"], ["many declines"]],
        "alert_count": [2, 1, 0],
        "detectors": [["fraud", "sigma"], ["sigma"], []],
    }
    base.update(overrides)
    return pl.DataFrame(base)


LINKS = pl.DataFrame({"incident_id": ["inc-1", "inc-1", "inc-2"], "alert_id": ["a0", "a1", "a2"]})


@pytest.fixture
def store(store_url: str) -> Iterator[OperationalStore]:
    with OperationalStore(store_url) as opened:
        yield opened


def test_add_alerts_is_idempotent_and_counts_new_rows(store: OperationalStore) -> None:
    assert store.add_alerts(make_alerts(10)) == 10
    assert store.add_alerts(make_alerts(10)) == 0
    # overlapping batch: 5 old + 5 new, and a duplicate inside the batch itself
    overlap = pl.concat([make_alerts(10, start=5), make_alerts(1, start=14)])
    assert store.add_alerts(overlap) == 5
    assert store.alerts("bank-a").height == 15
    assert store.add_alerts(make_alerts(0)) == 0


def test_add_alerts_many_rows(store: OperationalStore) -> None:
    assert store.add_alerts(make_alerts(12_000)) == 12_000
    assert store.add_alerts(make_alerts(12_001)) == 1
    assert store.alerts("bank-a").height == 12_001


def test_alerts_round_trip_lists_and_times(store: OperationalStore) -> None:
    alerts = make_alerts(5)
    store.add_alerts(alerts)
    back = store.alerts("bank-a")
    assert back.schema == pl.Schema(ALERT)
    assert back.equals(alerts.sort("time"))
    assert back["time"][0] == T0  # microseconds and UTC survive


def test_null_lists_round_trip(store: OperationalStore) -> None:
    alerts = make_alerts(2).with_columns(
        related=pl.Series([None, []], dtype=pl.List(pl.String)), title=pl.lit(None, pl.String)
    )
    store.add_alerts(alerts)
    back = store.alerts("bank-a")
    assert back["related"].to_list() == [None, []]
    assert back["title"].to_list() == [None, None]


def test_reads_never_cross_tenants(store: OperationalStore) -> None:
    store.add_alerts(make_alerts(3, tenant="bank-a", prefix="a"))
    store.add_alerts(make_alerts(4, tenant="bank-b", prefix="b"))
    assert set(store.alerts("bank-a")["tenant"]) == {"bank-a"}
    assert store.alerts("bank-a").height == 3
    assert store.alerts("bank-b").height == 4
    assert store.alerts("bank-c").height == 0
    assert store.alerts(None).height == 7  # explicit sector-wide read
    assert store.tenants() == ["bank-a", "bank-b"]

    store.upsert_incidents(make_incidents("bank-b"), LINKS.with_columns(alert_id=pl.lit("b0")))
    assert store.incidents("bank-a").height == 0
    assert store.incident("bank-a", "inc-1") is None
    assert store.incident("bank-b", "inc-1") is not None


def test_incident_never_shows_another_tenants_alerts(store: OperationalStore) -> None:
    store.add_alerts(make_alerts(3, tenant="bank-b", prefix="a"))  # same ids the links name
    store.upsert_incidents(make_incidents("bank-a"), LINKS)
    incident = store.incident("bank-a", "inc-1")
    assert incident is not None
    assert incident["alerts"].height == 0


def test_alert_filters(store: OperationalStore) -> None:
    store.add_alerts(make_alerts(10))
    since = T0 + dt.timedelta(minutes=3)
    until = T0 + dt.timedelta(minutes=6)
    assert store.alerts("bank-a", since=since, until=until)["alert_id"].to_list() == [
        "a3",
        "a4",
        "a5",
    ]
    # a non-UTC bound means the same instant
    tokyo = dt.timezone(dt.timedelta(hours=9))
    assert store.alerts("bank-a", since=since.astimezone(tokyo)).height == 7
    assert store.alerts("bank-a", limit=2)["alert_id"].to_list() == ["a8", "a9"]
    assert set(store.alerts("bank-a", detector="sigma")["detector"]) == {"sigma"}
    assert store.alerts("bank-a", detector="sigma").height == 5


def test_incidents_sorted_and_round_trip(store: OperationalStore) -> None:
    store.upsert_incidents(make_incidents(), LINKS)
    incidents = store.incidents("bank-a")
    assert incidents.schema == pl.Schema(INCIDENT)
    # risk desc, then last_seen desc
    assert incidents["incident_id"].to_list() == ["inc-3", "inc-2", "inc-1"]
    first = incidents.row(2, named=True)
    assert first["stages"] == ["initial_access", "execution"]
    assert first["status"] == "open"
    assert first["first_seen"] == T0
    assert incidents.filter(pl.col("incident_id") == "inc-3")["stages"].to_list() == [[]]
    assert store.incidents("bank-a", min_level=5)["incident_id"].to_list() == ["inc-3"]
    assert store.incidents("bank-a", limit=1).height == 1


def test_incident_with_its_alerts(store: OperationalStore) -> None:
    store.add_alerts(make_alerts(3))
    store.upsert_incidents(make_incidents(), LINKS)
    incident = store.incident("bank-a", "inc-1")
    assert incident is not None
    assert incident["title"] == "Ransomware precursor"
    assert incident["entities"] == ["host:ws-0"]
    assert incident["alerts"]["alert_id"].to_list() == ["a0", "a1"]
    assert incident["alerts"]["attack"][0].to_list() == ["T1059.001", "T1105"]
    assert store.incident("bank-a", "nope") is None


def test_upsert_replaces_incident_and_its_links(store: OperationalStore) -> None:
    store.add_alerts(make_alerts(3))
    store.upsert_incidents(make_incidents(), LINKS)
    changed = make_incidents().filter(pl.col("incident_id") == "inc-1")
    changed = changed.with_columns(risk=pl.lit(99), status=pl.lit("triaged"))
    store.upsert_incidents(changed, pl.DataFrame({"incident_id": ["inc-1"], "alert_id": ["a2"]}))
    incidents = store.incidents("bank-a")
    assert incidents.height == 3
    assert incidents["incident_id"][0] == "inc-1"
    assert incidents["status"][0] == "triaged"
    incident = store.incident("bank-a", "inc-1")
    assert incident is not None
    assert incident["alerts"]["alert_id"].to_list() == ["a2"]
    other = store.incident("bank-a", "inc-2")
    assert other is not None
    assert other["alerts"]["alert_id"].to_list() == ["a2"]  # untouched


def test_upsert_checks_its_input(store: OperationalStore) -> None:
    with pytest.raises(ValueError, match="risk"):
        store.upsert_incidents(make_incidents(risk=[80, 80, 101]), LINKS)
    with pytest.raises(ValueError, match="not in the incidents frame"):
        store.upsert_incidents(
            make_incidents(), pl.DataFrame({"incident_id": ["inc-9"], "alert_id": ["a0"]})
        )
    assert store.incidents(None).height == 0


def test_runs(store: OperationalStore) -> None:
    first = store.start_run("run", {"paths": ["a.jsonl"], "tenant": "bank-a"})
    second = store.start_run("worker", [])
    store.finish_run(first, events_read=10, events_accepted=9, events_quarantined=1, alerts=3)
    runs = {run["run_id"]: run for run in store.runs()}
    assert set(runs) == {first, second}
    done = runs[first]
    assert done["status"] == "ok"
    assert done["inputs"] == {"paths": ["a.jsonl"], "tenant": "bank-a"}
    assert (done["events_read"], done["events_quarantined"], done["incidents"]) == (10, 1, None)
    assert done["finished_at"] >= done["started_at"]
    assert done["started_at"].utcoffset() == dt.timedelta(0)
    assert runs[second]["status"] == "running"
    assert runs[second]["finished_at"] is None
    with pytest.raises(ValueError, match="unknown run counts"):
        store.finish_run(first, bogus=1)
    with pytest.raises(KeyError):
        store.finish_run("no-such-run")


def test_data_survives_reopening(store_url: str) -> None:
    with OperationalStore(store_url) as store:
        store.add_alerts(make_alerts(3))
    with OperationalStore(store_url) as store:
        assert store.alerts("bank-a").height == 3
        assert store.add_alerts(make_alerts(3)) == 0


def test_replace_incidents_drops_the_tenants_stale_incidents_only(store):
    from datetime import UTC, datetime

    def inc(iid, tenant):
        t = datetime(2026, 11, 2, tzinfo=UTC)
        return {
            "incident_id": iid,
            "tenant": tenant,
            "first_seen": t,
            "last_seen": t,
            "risk": 50,
            "level": 3,
            "title": iid,
        }

    store.upsert_incidents(
        pl.DataFrame([inc("old", "a"), inc("b1", "b")]),
        pl.DataFrame(schema={"incident_id": pl.String, "alert_id": pl.String}),
    )
    store.replace_incidents(
        "a",
        pl.DataFrame([inc("new", "a")]),
        pl.DataFrame({"incident_id": ["new"], "alert_id": ["x"]}),
    )
    assert store.incidents("a")["incident_id"].to_list() == ["new"]
    assert store.incidents("b")["incident_id"].to_list() == ["b1"]
    assert store.incident_links("a").rows() == [("new", "x")]
    assert store.incident_links("b").height == 0
