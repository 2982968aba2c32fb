"""Sample incidents for the analyst's evaluations and tests: an account takeover, card
testing, a host intrusion, an alert that is most likely benign, and one big incident of any
number of alerts. Built as alerts and grouped by the engine's own incident builder.

Their explanations carry what real alerts carry: user agents, URLs, command lines, file
names, e-mail subjects, and personal data (a customer's name, card number, e-mail and phone)
that must not leave the bank unredacted.

>>> alerts, incidents, links = sample_incidents()
>>> incidents.height, sorted(incidents["level"].to_list())
(4, [1, 4, 5, 5])
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from mamori.engine.incidents import build_incidents
from mamori.events.schema import conform_alerts

__all__ = ["CUSTOMER_DIRECTORY", "T0", "big_incident_alerts", "sample_alerts", "sample_incidents"]

T0 = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)

#: The personal data the bank holds on the sample customers (value -> redaction label).
CUSTOMER_DIRECTORY = {
    "Haruto Sato": "NAME",
    "佐藤 陽翔": "NAME",
    "3-12-5 Shibuya, Tokyo": "ADDRESS",
    "Yui Tanaka": "NAME",
    "田中 結衣": "NAME",
}


def _alert(i: int, minute: int, **row: Any) -> dict[str, Any]:
    base = {
        "alert_id": f"al-{i:04d}",
        "time": T0 + dt.timedelta(minutes=minute),
        "detector": "rules",
        "rule_id": f"r-{i}",
        "title": "alert",
        "severity": "medium",
        "score": 0.5,
        "entity_type": "host",
        "entity_id": "WS01",
        "related": [],
        "stage": None,
        "attack": [],
        "event_ids": [f"ev-{i:04d}a", f"ev-{i:04d}b"],
        "explanation": "",
    }
    return base | row


def sample_alerts(tenant: str = "bank-a") -> pl.DataFrame:
    """The alerts of the four sample incidents."""
    rows = [
        # account takeover of C000123 (Haruto Sato)
        _alert(
            1,
            0,
            detector="rules",
            title="Credential stuffing from one address",
            severity="high",
            score=0.9,
            entity_type="ip",
            entity_id="203.0.113.7",
            stage="credential_access",
            attack=["T1110.004"],
            related=["customer:C000123"],
            explanation="212 failed logins in 10 min; user_agent=python-requests/2.31",
        ),
        _alert(
            2,
            14,
            detector="fraud",
            title="New device then new payee",
            severity="high",
            score=0.85,
            entity_type="customer",
            entity_id="C000123",
            stage="account_manipulation",
            attack=["T1098"],
            related=["ip:203.0.113.7", "device:dv-88f1"],
            explanation="Customer Haruto Sato (haruto.sato@example.jp, 090-1234-5678) "
            "added payee 0005-1234567 from device dv-88f1",
        ),
        _alert(
            3,
            31,
            detector="fraud",
            title="Transfer to new payee",
            severity="critical",
            score=0.95,
            entity_type="account",
            entity_id="0001-0012345",
            stage="cash_out",
            related=["customer:C000123"],
            explanation="JPY 1,950,000 to a payee added 17 min earlier, card 4111 1111 1111 "
            "1111 on file",
        ),
        # card testing
        _alert(
            10,
            120,
            detector="fraud",
            title="Card testing: many small declines",
            severity="medium",
            score=0.6,
            entity_type="card",
            entity_id="5500005555555559",
            stage="card_testing",
            related=["customer:C000777"],
            explanation="14 declines of JPY 100 at merchant m-88 via "
            "https://shop.example.com/pay?ref=abc",
        ),
        _alert(
            11,
            125,
            detector="fraud",
            title="Card used abroad after testing",
            severity="high",
            score=0.8,
            entity_type="card",
            entity_id="5500005555555559",
            stage="card_fraud",
            related=["customer:C000777"],
            explanation="Card of Yui Tanaka used in RO for JPY 98,000",
        ),
        # host intrusion
        _alert(
            20,
            200,
            detector="sigma",
            title="Office application spawned PowerShell",
            severity="high",
            score=0.8,
            entity_type="host",
            entity_id="WS-FIN-07",
            stage="execution",
            attack=["T1059.001"],
            related=["user:u.kimura"],
            explanation="CommandLine: powershell -enc SQBFAFgA... ParentImage: WINWORD.EXE; "
            "TargetFilename: invoice_2026-11.docm; subject: 'Invoice overdue'",
        ),
        _alert(
            21,
            230,
            detector="sigma",
            title="Remote service creation",
            severity="high",
            score=0.8,
            entity_type="host",
            entity_id="WS-FIN-07",
            stage="lateral_movement",
            attack=["T1021.002"],
            related=["host:FS01"],
            explanation="Service created on FS01 (10.20.1.15) by u.kimura",
        ),
        _alert(
            22,
            260,
            detector="network",
            title="Large upload to a rare domain",
            severity="medium",
            score=0.6,
            entity_type="host",
            entity_id="WS-FIN-07",
            stage="exfiltration",
            attack=["T1041"],
            related=["ip:198.51.100.23"],
            explanation="2.1 GB to files.example.net (198.51.100.23) over 40 min",
        ),
        # most likely benign
        _alert(
            30,
            400,
            detector="rules",
            title="Login from a new browser",
            severity="low",
            score=0.2,
            entity_type="user",
            entity_id="s.ito",
            stage="initial_access",
            explanation="user_agent=Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/132.0",
        ),
    ]
    return conform_alerts(pl.DataFrame([r | {"tenant": tenant} for r in rows]))


def sample_incidents(
    tenant: str = "bank-a",
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(alerts, incidents, links) of the four sample incidents."""
    alerts = sample_alerts(tenant)
    incidents, links = build_incidents(alerts)
    return alerts, incidents, links


def big_incident_alerts(n: int, tenant: str = "bank-a") -> pl.DataFrame:
    """`n` alerts on one host and the users and addresses around it: one incident."""
    stages = ["initial_access", "execution", "persistence", "lateral_movement", "exfiltration"]
    severities = ["low", "medium", "high", "medium", "critical"]
    rows = [
        _alert(
            1000 + i,
            i,
            detector=("sigma", "network", "rules")[i % 3],
            title=f"Detection {i % 17}",
            severity=severities[i % 5],
            score=0.5,
            entity_type="host",
            entity_id="SRV-CORE-01",
            stage=stages[i % 5],
            attack=[f"T10{59 + i % 7}"],
            related=[f"user:svc{i % 9}", f"ip:198.51.100.{i % 50}"],
            explanation=f"event {i}: CommandLine=cmd.exe /c whoami #{i}",
        )
        for i in range(n)
    ]
    return conform_alerts(pl.DataFrame([r | {"tenant": tenant} for r in rows]))
