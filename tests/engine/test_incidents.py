from datetime import UTC, datetime, timedelta

import polars as pl

from mamori.engine.incidents import IncidentPolicy, build_incidents, institution_level, level_of
from mamori.events.schema import conform_alerts

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def alerts(rows):
    base = {
        "tenant": "bank-a",
        "detector": "rules",
        "title": "t",
        "score": 0.5,
        "attack": [],
        "event_ids": [],
        "explanation": "",
    }
    frame = []
    for i, row in enumerate(rows):
        row = {**base, "alert_id": f"a{i}", "rule_id": f"r{i}", "related": [], **row}
        row["time"] = T0 + timedelta(minutes=row.pop("minute", i))
        frame.append(row)
    return conform_alerts(pl.DataFrame(frame))


def host(stage, minute, severity="low"):
    """One alert on a host."""
    return {
        "entity_type": "host",
        "entity_id": "WS1",
        "severity": severity,
        "stage": stage,
        "minute": minute,
    }


def links(pairs):
    return pl.DataFrame({"a": [a for a, _ in pairs], "b": [b for _, b in pairs]})


ATO = [
    # credential stuffing from two addresses of one /24, then the takeover of C1
    {
        "entity_type": "ip",
        "entity_id": "203.0.113.7",
        "severity": "high",
        "stage": "credential_access",
    },
    {
        "entity_type": "ip",
        "entity_id": "203.0.113.8",
        "severity": "high",
        "stage": "credential_access",
    },
    {
        "entity_type": "customer",
        "entity_id": "C1",
        "severity": "low",
        "stage": "initial_access",
        "related": ["ip:203.0.113.8", "device:D9"],
    },
    {
        "entity_type": "customer",
        "entity_id": "C1",
        "severity": "medium",
        "stage": "account_manipulation",
        "related": ["device:D9"],
    },
    {"entity_type": "account", "entity_id": "A1", "severity": "high", "stage": "cash_out"},
]


def test_linked_alerts_form_one_incident_with_every_stage_in_order():
    incidents, members = build_incidents(alerts(ATO), links([("customer:C1", "account:A1")]))
    assert incidents.height == 1
    inc = incidents.row(0, named=True)
    assert inc["stages"] == [
        "credential_access",
        "initial_access",
        "account_manipulation",
        "cash_out",
    ]
    assert inc["alert_count"] == 5
    # 55 (worst) + 0.3 * (15 + 35 + 55) (further stages) + 7 (5 alerts)
    assert inc["risk"] == 94 and inc["level"] == 5
    assert members.height == 5
    assert inc["reasons"] == [
        "worst alert is high (+55)",
        "3 further stage(s) corroborate (+32)",
        "5 alerts (+7)",
    ]


def test_a_weak_signal_corroborates_little():
    pair = [
        {
            "entity_type": "customer",
            "entity_id": "C1",
            "severity": "low",
            "stage": "initial_access",
        },
        {"entity_type": "customer", "entity_id": "C1", "severity": "medium", "stage": "cash_out"},
    ]
    inc = build_incidents(alerts(pair))[0].row(0, named=True)
    assert inc["risk"] == 35 + 4 + 3 and inc["level"] == 2
    strong = [{**pair[0], "severity": "high"}, pair[1]]
    assert build_incidents(alerts(strong))[0]["level"].to_list() == [4]


def test_without_the_link_the_cash_out_stays_apart():
    incidents, _ = build_incidents(alerts(ATO), links([]))
    assert incidents.height == 2


def test_alerts_far_apart_in_time_are_not_grouped():
    far = alerts(
        [
            host("execution", 0),
            host("execution", 60 * 30),
        ]
    )
    assert build_incidents(far, None, IncidentPolicy(gap=timedelta(hours=24)))[0].height == 2


def test_hub_entities_do_not_glue_unrelated_alerts():
    rows = [
        {
            "entity_type": "customer",
            "entity_id": f"C{i}",
            "severity": "low",
            "stage": "cash_out",
            "related": ["account:UTILITY"],
        }
        for i in range(30)
    ]
    incidents, _ = build_incidents(alerts(rows), None, IncidentPolicy(hub_limit=25))
    assert incidents.height == 30
    incidents, _ = build_incidents(alerts(rows), None, IncidentPolicy(hub_limit=50))
    assert incidents.height == 1


def test_raised_at_is_when_the_risk_first_reached_the_raise_level():
    rows = [
        host("execution", 0),
        host("persistence", 5),
        host("credential_access", 9, "high"),
    ]
    inc = build_incidents(alerts(rows))[0].row(0, named=True)
    assert inc["raised_at"] == T0 + timedelta(minutes=9)
    assert inc["first_seen"] == T0


def test_a_lone_low_alert_stays_on_the_watch_list():
    inc = build_incidents(
        alerts(
            [{"entity_type": "host", "entity_id": "WS1", "severity": "low", "stage": "execution"}]
        )
    )[0]
    assert inc["level"].to_list() == [1]
    assert inc["raised_at"].to_list() == [None]


def test_incident_ids_are_stable():
    a = build_incidents(alerts(ATO), links([("customer:C1", "account:A1")]))[0]
    b = build_incidents(alerts(ATO).reverse(), links([("customer:C1", "account:A1")]))[0]
    assert a["incident_id"].to_list() == b["incident_id"].to_list()


def test_levels_and_institution_level():
    levels = pl.select(level_of(pl.Series([0, 24, 25, 50, 70, 85, 100]))).to_series().to_list()
    assert levels == [1, 1, 2, 3, 4, 5, 5]
    incidents, _ = build_incidents(alerts(ATO), links([("customer:C1", "account:A1")]))
    inst = institution_level(incidents)
    assert inst[0]["tenant"] == "bank-a" and inst[0]["level"] == 5
