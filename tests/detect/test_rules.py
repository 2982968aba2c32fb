from datetime import timedelta

import polars as pl
import pytest

from mamori.detect.match import RuleError
from mamori.detect.rules import Rule, RuleDetector, load_rules
from tests.conftest import batch

STUFFING = {
    "id": "T-STUFF",
    "title": "stuffing",
    "kind": "auth",
    "severity": "high",
    "stage": "credential_access",
    "scope": {"action": "login"},
    "match": {"outcome": "failure"},
    "window": "10m",
    "group_by": ["src_ip"],
    "threshold": {"count": 5, "distinct": {"user": 3}},
    "entity_type": "ip",
    "cooldown": "1h",
}


def failures(n: int, ip: str = "203.0.113.9", users: int = 5, start: int = 0, step: float = 1.0):
    return [
        {
            "user": f"C{i % users}",
            "src_ip": ip,
            "action": "login",
            "outcome": "failure",
            "minute": start + i * step,
        }
        for i in range(n)
    ]


def test_builtin_rules_load_and_have_unique_ids():
    rules = load_rules()
    assert len(rules) >= 20
    assert len({r.id for r in rules}) == len(rules)


@pytest.mark.parametrize(
    "broken, message",
    [
        ({**STUFFING, "kind": "nope"}, "unknown kind"),
        ({**STUFFING, "severity": "urgent"}, "severity"),
        ({**STUFFING, "group_by": []}, "needs group_by"),
        ({**STUFFING, "window": "ten minutes"}, "bad duration"),
        ({**STUFFING, "match": {"outcome": {"near": 1}}}, "unknown operator"),
        ({**STUFFING, "match": {"no_such_field": 1}}, "not in the auth schema"),
    ],
)
def test_bad_rules_are_refused_with_the_reason(broken, message):
    with pytest.raises(RuleError, match=message):
        Rule.from_dict(broken)


def test_window_rule_fires_once_with_evidence():
    det = RuleDetector([Rule.from_dict({**STUFFING, "related": {"user": "user"}})])
    alerts = det.process(batch("auth", failures(12)))
    assert alerts.height == 1
    alert = alerts.row(0, named=True)
    assert alert["entity_id"] == "203.0.113.9"
    assert alert["rule_id"] == "T-STUFF"
    assert alert["event_ids"] == ["e0", "e1", "e2", "e3", "e4"]
    assert (
        "5 events" in alert["explanation"]
        and "user: 5 distinct (≥ 3) within 10m for src_ip 203.0.113.9" in alert["explanation"]
    )


def test_window_rule_below_threshold_or_too_spread_is_silent():
    det = RuleDetector([Rule.from_dict(STUFFING)])
    assert det.process(batch("auth", failures(4))).height == 0
    # 6 failures but 3 minutes apart: never 5 inside 10 minutes
    det = RuleDetector([Rule.from_dict(STUFFING)])
    assert det.process(batch("auth", failures(6, step=3))).height == 0
    # enough failures but only two accounts
    det = RuleDetector([Rule.from_dict(STUFFING)])
    assert det.process(batch("auth", failures(10, users=2))).height == 0


def test_window_carries_across_batch_boundaries_with_the_same_alert():
    rows = batch("auth", failures(8))
    whole = RuleDetector([Rule.from_dict(STUFFING)]).process(rows)
    split = RuleDetector([Rule.from_dict(STUFFING)])
    parts = [split.process(rows[:3]), split.process(rows[3:])]
    assert parts[0].height == 0
    assert parts[1]["alert_id"].to_list() == whole["alert_id"].to_list()


def test_window_state_survives_snapshot_and_restore():
    rows = batch("auth", failures(8))
    first = RuleDetector([Rule.from_dict(STUFFING)])
    first.process(rows[:3])
    second = RuleDetector([Rule.from_dict(STUFFING)])
    second.restore(first.snapshot())
    assert second.process(rows[3:]).height == 1


def test_cooldown_suppresses_repeats_and_refires_later():
    det = RuleDetector([Rule.from_dict(STUFFING)])
    rows = failures(30) + failures(10, start=130)
    alerts = det.process(batch("auth", rows))
    assert alerts.height == 2


NEW_PAYEE = {
    "id": "T-NEWPAYEE",
    "title": "new payee",
    "kind": "transaction",
    "stage": "cash_out",
    "scope": {"direction": "debit"},
    "match": {"amount": {"gte": 1000}},
    "novel": ["customer", "counterparty"],
    "min_history": 3,
    "entity": "customer",
}


def test_novelty_needs_history_and_fires_once_per_new_pair():
    det = RuleDetector([Rule.from_dict(NEW_PAYEE)])
    known = [
        {"customer": "C1", "counterparty": f"P{i % 2}", "amount": 50.0, "direction": "debit"}
        for i in range(4)
    ]
    new = [
        {"customer": "C1", "counterparty": "X", "amount": 5000.0, "direction": "debit"},
        {"customer": "C1", "counterparty": "X", "amount": 5000.0, "direction": "debit"},
        {
            "customer": "C2",
            "counterparty": "Y",
            "amount": 5000.0,
            "direction": "debit",
        },  # no history
        {"customer": "C1", "counterparty": "Z", "amount": 10.0, "direction": "debit"},  # too small
    ]
    alerts = det.process(batch("transaction", known + new))
    assert alerts["entity_id"].to_list() == ["C1"]
    assert alerts["event_ids"].to_list() == [["e4"]]
    # the pair is known now, in a later batch too
    later = det.process(batch("transaction", new[:1], prefix="later"))
    assert later.height == 0


def test_novelty_is_per_tenant():
    det = RuleDetector([Rule.from_dict({**NEW_PAYEE, "min_history": 0})])
    a = batch(
        "transaction",
        [{"customer": "C1", "counterparty": "X", "amount": 5000.0, "direction": "debit"}],
        tenant="a",
    )
    b = batch(
        "transaction",
        [{"customer": "C1", "counterparty": "X", "amount": 5000.0, "direction": "debit"}],
        tenant="b",
    )
    assert det.process(a).height == 1
    assert det.process(b).height == 1


def test_fresh_novelty_fires_within_the_freshness_window_only():
    rule = Rule.from_dict(
        {**NEW_PAYEE, "id": "T-FRESH", "novel": ["customer", "device"], "fresh": "1h", "match": {}}
    )
    det = RuleDetector([rule])
    history = [
        {"customer": "C1", "device": "D1", "direction": "debit", "amount": 1.0, "minute": i}
        for i in range(3)
    ]
    later = [
        {"customer": "C1", "device": "D9", "direction": "debit", "amount": 1.0, "minute": 10},
        {"customer": "C1", "device": "D9", "direction": "debit", "amount": 1.0, "minute": 40},
        {"customer": "C1", "device": "D9", "direction": "debit", "amount": 1.0, "minute": 100},
    ]
    alerts = det.process(batch("transaction", history + later))
    assert alerts["event_ids"].to_list() == [["e3"], ["e4"]]
    assert rule.fresh == timedelta(hours=1)


def test_event_rule_matches_case_insensitively_on_winlog():
    rule = Rule.from_dict(
        {
            "id": "T-LSASS",
            "title": "lsass",
            "kind": "winlog",
            "stage": "credential_access",
            "match": {"EventID": 10, "TargetImage": {"endswith": "\\lsass.exe"}},
            "entity": "Computer",
            "entity_type": "host",
        }
    )
    rows = [
        {"EventID": 10, "TargetImage": "C:\\Windows\\System32\\LSASS.EXE", "Computer": "WS1"},
        {"EventID": 10, "TargetImage": "C:\\Windows\\explorer.exe", "Computer": "WS1"},
        {"EventID": 1, "TargetImage": "C:\\Windows\\System32\\lsass.exe", "Computer": "WS1"},
    ]
    alerts = RuleDetector([rule]).process(batch("winlog", rows))
    assert alerts["event_ids"].to_list() == [["e0"]]
    assert "EventID=10" in alerts["explanation"][0]


def test_alert_ids_are_stable_across_runs():
    rows = batch("auth", failures(12))
    a = RuleDetector([Rule.from_dict(STUFFING)]).process(rows)
    b = RuleDetector([Rule.from_dict(STUFFING)]).process(rows)
    assert a["alert_id"].to_list() == b["alert_id"].to_list()
    assert a.schema == pl.Schema(b.schema)


def test_window_rule_groups_by_network_to_catch_rotating_addresses():
    rule = Rule.from_dict({**STUFFING, "group_by": ["src_ip/24"], "entity_type": "net"})
    rows = [r for i in range(3) for r in failures(4, ip=f"203.0.113.{i + 1}", start=i * 0.1)]
    assert RuleDetector([Rule.from_dict(STUFFING)]).process(batch("auth", rows)).height == 0
    alerts = RuleDetector([rule]).process(batch("auth", rows))
    assert alerts["entity_id"].to_list() == ["203.0.113.0/24"]
