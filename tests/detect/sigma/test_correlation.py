"""Sigma v2 correlations: windows across batches, the four types, aliases, chaining, bounds."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from mamori.detect.sigma.correlation import SigmaCorrelator
from mamori.engine.checkpoint import Checkpoint
from tests.conftest import batch

BASE = """
title: Failed logon
name: failed_logon
id: 00000000-0000-0000-0000-000000000001
status: test
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4625}
  condition: selection
---
title: Successful logon
name: logon
id: 00000000-0000-0000-0000-000000000002
status: test
logsource: {product: windows, service: security}
detection:
  selection: {EventID: 4624}
  condition: selection
---
title: Service installed
name: service
id: 00000000-0000-0000-0000-000000000003
status: test
logsource: {product: windows, service: system}
detection:
  selection: {EventID: 7045}
  condition: selection
"""


def correlator(tmp_path: Path, correlation: str, max_groups: int = 1000) -> SigmaCorrelator:
    (tmp_path / "rules.yml").write_text(BASE + "---\n" + correlation)
    return SigmaCorrelator.from_paths(tmp_path, max_groups=max_groups)


def events(rows):
    out = []
    for row in rows:
        eid = row.get("EventID")
        channel = "System" if eid == 7045 else "Security"
        out.append({"Channel": channel, "Computer": "DC01", **row})
    return batch("winlog", out)


BRUTE = """
title: Brute force
id: 00000000-0000-0000-0000-0000000000a1
status: test
level: high
tags: [attack.credential-access, attack.t1110]
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [TargetUserName]
  timespan: 10m
  condition: {gte: 5}
"""


def failures(n, user="alice", start=0, step=1):
    return [{"EventID": 4625, "TargetUserName": user, "minute": start + i * step} for i in range(n)]


def test_event_count_fires_once_per_group_and_window(tmp_path):
    det = correlator(tmp_path, BRUTE)
    alerts = det.process(events(failures(7) + failures(4, user="bob")))
    assert alerts["entity_id"].to_list() == ["alice"]
    row = alerts.row(0, named=True)
    assert row["severity"] == "high" and row["stage"] == "credential_access"
    assert row["attack"] == ["T1110"] and len(row["event_ids"]) == 5
    assert "5 matching events" in row["explanation"]


def test_event_count_window_carries_across_batches_and_restarts(tmp_path):
    rows = events(failures(6))
    whole = correlator(tmp_path, BRUTE).process(rows)
    first = correlator(tmp_path, BRUTE)
    assert first.process(rows[:3]).height == 0
    Checkpoint(tmp_path / "cp").save(0, {"d": first.snapshot()})
    second = correlator(tmp_path, BRUTE)
    second.restore(Checkpoint(tmp_path / "cp").load()[1]["d"])
    assert second.process(rows[3:])["alert_id"].to_list() == whole["alert_id"].to_list()


def test_events_spread_wider_than_the_timespan_do_not_fire(tmp_path):
    assert correlator(tmp_path, BRUTE).process(events(failures(8, step=3))).height == 0


def test_value_count_with_an_alias_per_rule(tmp_path):
    spray = """
title: Password spray
id: 00000000-0000-0000-0000-0000000000a2
status: test
level: medium
correlation:
  type: value_count
  rules: [failed_logon]
  group-by: [source]
  timespan: 10m
  aliases:
    source:
      failed_logon: IpAddress
  condition: {gte: 4, field: TargetUserName}
"""
    rows = [
        {"EventID": 4625, "TargetUserName": f"u{i % 4}", "IpAddress": "10.0.0.9", "minute": i}
        for i in range(4)
    ] + [
        {"EventID": 4625, "TargetUserName": "u0", "IpAddress": "10.0.0.7", "minute": i}
        for i in range(6)
    ]
    alerts = correlator(tmp_path, spray).process(events(rows))
    assert alerts["entity_id"].to_list() == ["10.0.0.9"]
    assert "4 distinct TargetUserName" in alerts["explanation"][0]


TEMPORAL = """
title: Logon then service
id: 00000000-0000-0000-0000-0000000000a3
status: test
level: high
correlation:
  type: {type}
  rules: [logon, service]
  group-by: [Computer]
  timespan: 30m
"""


@pytest.mark.parametrize(
    "kind, order, fires",
    [
        ("temporal", ["logon", "service"], True),
        ("temporal", ["service", "logon"], True),
        ("temporal_ordered", ["logon", "service"], True),
        ("temporal_ordered", ["service", "logon"], False),
    ],
)
def test_temporal_and_ordered(tmp_path, kind, order, fires):
    ids = {"logon": 4624, "service": 7045}
    rows = [{"EventID": ids[name], "minute": 5 * i} for i, name in enumerate(order)]
    alerts = correlator(tmp_path, TEMPORAL.replace("{type}", kind)).process(events(rows))
    assert (alerts.height == 1) is fires


def test_temporal_ordered_respects_the_timespan(tmp_path):
    rows = [{"EventID": 4624, "minute": 0}, {"EventID": 7045, "minute": 45}]
    det = correlator(tmp_path, TEMPORAL.replace("{type}", "temporal_ordered"))
    assert det.process(events(rows)).height == 0


def test_chained_correlation(tmp_path):
    chained = (
        BRUTE
        + """---
title: Brute force then logon
id: 00000000-0000-0000-0000-0000000000a4
status: test
level: critical
correlation:
  type: temporal_ordered
  rules: [00000000-0000-0000-0000-0000000000a1, logon]
  group-by: [TargetUserName]
  timespan: 30m
"""
    )
    rows = failures(6) + [{"EventID": 4624, "TargetUserName": "alice", "minute": 8}]
    alerts = correlator(tmp_path, chained).process(events(rows))
    assert sorted(alerts["severity"].to_list()) == ["critical", "high"]


def test_groups_are_bounded_and_evictions_counted(tmp_path):
    det = correlator(tmp_path, BRUTE, max_groups=3)
    det.process(
        events([{"EventID": 4625, "TargetUserName": f"u{i}", "minute": i} for i in range(10)])
    )
    tail = next(iter(det.tails.values()))
    assert tail["TargetUserName"].n_unique() == 3 and det.evicted == 7


def test_unknown_reference_is_refused(tmp_path):
    broken = BRUTE.replace("[failed_logon]", "[no_such_rule]")
    with pytest.raises(Exception, match="no_such_rule"):
        correlator(tmp_path, broken)


def test_schema_of_alerts(tmp_path):
    alerts = correlator(tmp_path, BRUTE).process(events(failures(5)))
    assert isinstance(alerts, pl.DataFrame) and alerts["detector"].to_list() == [
        "sigma_correlation"
    ]
