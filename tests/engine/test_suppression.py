from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from mamori.engine.suppression import AllowEntry, Suppression, SuppressionError, load_allow_list
from mamori.events.schema import conform_alerts

T0 = datetime(2026, 11, 2, 9, tzinfo=UTC)


def alerts(rows):
    base = {"tenant": "bank-a", "detector": "rules", "title": "t", "severity": "low", "score": 0.5}
    frame = [
        {**base, "alert_id": f"a{i}", "time": T0 + timedelta(minutes=r.pop("minute", i)), **r}
        for i, r in enumerate(rows)
    ]
    return conform_alerts(pl.DataFrame(frame))


ROWS = [
    {"rule_id": "MR-NET-001", "entity_type": "ip", "entity_id": "10.20.0.5"},
    {"rule_id": "MR-NET-002", "entity_type": "ip", "entity_id": "10.20.0.6"},
    {"rule_id": "MR-WIN-008", "entity_type": "host", "entity_id": "DC01"},
]


def test_allow_list_silences_what_it_names_and_counts_it():
    s = Suppression([AllowEntry(rule="MR-NET-*", entity="ip:10.20.0.5", reason="backup")])
    kept, counts = s.apply(alerts([dict(r) for r in ROWS]))
    assert kept["alert_id"].to_list() == ["a1", "a2"]
    assert counts == {"allow-list: backup": 1}


def test_allow_entries_lapse_and_respect_the_tenant():
    expired = AllowEntry(rule="*", reason="old", until=datetime(2026, 11, 1, tzinfo=UTC))
    other = AllowEntry(rule="*", reason="other bank", tenant="bank-b")
    kept, counts = Suppression([expired, other]).apply(alerts([dict(r) for r in ROWS]))
    assert kept.height == 3 and not counts


def test_repeats_within_the_window_are_counted_not_kept():
    rows = [
        {"rule_id": "R", "entity_type": "host", "entity_id": "WS1", "minute": m}
        for m in (0, 5, 50, 70)
    ]
    s = Suppression(repeat_window=timedelta(hours=1))
    kept, counts = s.apply(alerts(rows[:2]))
    assert kept["alert_id"].to_list() == ["a0"] and sum(counts.values()) == 1
    later, _ = s.apply(alerts(rows[2:]))  # minute 50 is in the 09:00 bucket already used
    assert later["alert_id"].to_list() == ["a1"]  # the 10:10 alert, re-indexed a1 in this frame


def test_allow_list_file(tmp_path):
    good = tmp_path / "allow.toml"
    good.write_text(
        '[[allow]]\nrule = "MR-NET-001"\nentity = "ip:10.*"\n'
        'until = 2026-12-31\nreason = "DR sync"\n'
    )
    (entry,) = load_allow_list(good)
    assert entry.until == datetime(2026, 12, 31, tzinfo=UTC) and entry.entity == "ip:10.*"
    bad = tmp_path / "bad.toml"
    bad.write_text('[[allow]]\nrule = "MR-NET-001"\n')
    with pytest.raises(SuppressionError, match="needs a rule and a reason"):
        load_allow_list(bad)
