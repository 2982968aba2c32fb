"""Each behavioural network detector on a constructed positive and its benign look-alike."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl

from mamori.detect.network import (
    Beaconing,
    BruteForce,
    DnsTunnel,
    ExfiltrationBaseline,
    NewInternalPeers,
    ScanDetector,
    SourceFlood,
)
from tests.conftest import batch


def _in_two(detector, kind, rows, cut):
    """Process rows in two batches split at `cut`; all alerts."""
    whole = batch(kind, rows)
    return pl.concat([detector.process(whole[:cut]), detector.process(whole[cut:])])


# --- scans ---------------------------------------------------------------------------------


def test_internal_port_scan_across_batches_is_one_high_alert_naming_the_target():
    probes = [
        {
            "src_ip": "10.1.2.3",
            "dst_ip": "10.9.0.1",
            "dst_port": p,
            "state": "rejected",
            "minute": p * 0.2,
        }
        for p in range(1, 41)
    ]
    alerts = _in_two(ScanDetector(), "flow", probes, 15)
    assert alerts["rule_id"].to_list() == ["NET-SCAN-PORT"]
    assert alerts["severity"][0] == "high" and alerts["related"][0].to_list() == ["ip:10.9.0.1"]
    assert alerts["explanation"][0].startswith("25 distinct ports")


def test_answered_connections_to_many_ports_are_not_a_scan():
    # a monitoring server checking 40 services that all answer
    checks = [
        {
            "src_ip": "10.0.0.99",
            "dst_ip": "10.9.0.1",
            "dst_port": p,
            "state": "established",
            "bytes_in": 900,
            "minute": p * 0.2,
        }
        for p in range(1, 41)
    ]
    assert ScanDetector().process(batch("flow", checks)).height == 0


def test_host_sweep_from_internet_is_low_severity_reconnaissance():
    sweep = [
        {
            "src_ip": "198.51.100.4",
            "dst_ip": f"203.0.113.{i}",
            "dst_port": 22,
            "bytes_in": 0,
            "minute": i * 0.1,
        }
        for i in range(30)
    ]
    alerts = ScanDetector().process(batch("flow", sweep))
    assert alerts["rule_id"].to_list() == ["NET-SCAN-SWEEP"]
    assert alerts["severity"][0] == "low" and alerts["stage"][0] == "reconnaissance"


# --- brute force ---------------------------------------------------------------------------


def _login(user, ip, outcome, minute):
    return {"user": user, "src_ip": ip, "action": "login", "outcome": outcome, "minute": minute}


def test_guessing_then_success_is_high():
    rows = [_login("alice", "203.0.113.5", "failure", i * 0.5) for i in range(12)]
    rows.append(_login("alice", "203.0.113.5", "success", 7))
    alerts = BruteForce().process(batch("auth", rows))
    assert alerts.sort("severity")["rule_id"].to_list() == ["NET-BRUTE-SUCCESS", "NET-BRUTE-GUESS"]


def test_slow_spray_over_an_hour_fires_once():
    rows = [_login(f"u{i}", "198.51.100.9", "failure", 3 * i) for i in range(20)]
    alerts = _in_two(BruteForce(), "auth", rows, 10)
    assert alerts["rule_id"].to_list() == ["NET-BRUTE-SPRAY"]
    assert "15 distinct accounts" in alerts["explanation"][0]


def test_busy_gateway_with_a_few_typos_is_not_spraying():
    rng = np.random.default_rng(0)
    rows = [
        _login(f"u{i}", "10.20.0.1", "failure" if rng.random() < 0.05 else "success", i * 0.1)
        for i in range(600)
    ]
    assert BruteForce().process(batch("auth", rows)).height == 0


# --- single-source flood -------------------------------------------------------------------


def test_syn_flood_from_one_source_is_high():
    flood = [
        {
            "src_ip": "203.0.113.66",
            "dst_ip": "10.0.0.80",
            "dst_port": 443,
            "state": "syn_only",
            "minute": 0.002 * i,
        }
        for i in range(400)
    ]
    alerts = SourceFlood().process(batch("flow", flood))
    assert alerts["severity"].to_list() == ["high"]
    assert "400 flows in one minute" in alerts["explanation"][0]


def test_steady_busy_backend_pair_is_learned_not_flagged():
    # an application server talking to its database 400 times a minute, every minute
    rows = [
        {
            "src_ip": "10.0.0.5",
            "dst_ip": "10.0.0.6",
            "dst_port": 1433,
            "bytes_in": 5000,
            "minute": i / 400,
        }
        for i in range(400 * 30)
    ]
    assert SourceFlood().process(batch("flow", rows)).height == 0


# --- beaconing -----------------------------------------------------------------------------


def _calls(src, dst, period_min, n, jitter, rng):
    return [
        {
            "src_ip": src,
            "dst_ip": dst,
            "dst_port": 443,
            "src_host": "WS7",
            "minute": period_min * i + rng.uniform(-jitter, jitter) * period_min,
        }
        for i in range(n)
    ]


def test_jittered_beacon_to_a_rare_address_is_found_across_batches():
    rng = np.random.default_rng(1)
    rows = _calls("10.2.0.7", "198.51.100.20", 5, 30, 0.1, rng)
    alerts = _in_two(Beaconing(), "flow", rows, 12)
    assert alerts["rule_id"].to_list() == ["NET-BEACON"]
    assert alerts["related"][0].to_list() == ["ip:198.51.100.20", "host:WS7"]
    assert len(alerts["event_ids"][0]) >= 8


def test_update_polling_shared_by_many_hosts_is_not_beaconing():
    rng = np.random.default_rng(2)
    rows = [r for h in range(10) for r in _calls(f"10.2.0.{h}", "198.51.100.80", 5, 20, 0, rng)]
    rows.sort(key=lambda r: r["minute"])
    assert Beaconing().process(batch("flow", rows)).height == 0


def test_irregular_browsing_to_one_site_is_not_beaconing():
    rng = np.random.default_rng(3)
    minutes = np.cumsum(rng.exponential(5, 40))
    rows = [
        {"src_ip": "10.2.0.7", "dst_ip": "198.51.100.30", "dst_port": 443, "minute": m}
        for m in minutes
    ]
    assert Beaconing().process(batch("flow", rows)).height == 0


# --- exfiltration --------------------------------------------------------------------------


def _upload(src, dst, size, minute):
    return {"src_ip": src, "dst_ip": dst, "bytes_out": size, "minute": minute}


def test_off_hours_upload_far_above_the_hosts_baseline_is_high():
    # T0 is 09:00; a normal working day of small uploads, then 2 GB at 02:00 next day
    usual = [_upload("10.3.0.9", "198.51.100.7", 20_000, 10 * i) for i in range(60)]
    theft = [_upload("10.3.0.9", "203.0.113.77", 700_000_000, 17 * 60 + i) for i in range(3)]
    alerts = _in_two(ExfiltrationBaseline(), "flow", usual + theft, 60)
    assert alerts["rule_id"].to_list() == ["NET-EXFIL-BASELINE"]
    assert alerts["severity"][0] == "high" and "2100.0 MB" in alerts["explanation"][0]


def test_nightly_backup_and_a_busy_transfer_server_are_not_exfiltration():
    backup = [_upload("10.0.0.11", "10.0.0.50", 900_000_000, 17 * 60 + i) for i in range(3)]
    # a file-transfer server sending 200 MB every hour to a partner, for a day
    partner = [_upload("10.0.0.12", "198.51.100.90", 200_000_000, 60 * i) for i in range(30)]
    rows = sorted(backup + partner, key=lambda r: r["minute"])
    det = ExfiltrationBaseline()
    alerts = pl.concat([det.process(batch("flow", [r])) for r in rows])
    assert "10.0.0.11" not in alerts["entity_id"].to_list()
    # at most the very first hour, before the transfer server has any baseline
    assert alerts.height <= 1 and all(t.hour == 9 for t in alerts["time"].to_list())


# --- DNS tunnelling ------------------------------------------------------------------------


def test_many_long_random_names_under_one_domain_is_tunnelling():
    rng = np.random.default_rng(4)
    names = ["".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz234567"), 40)) for _ in range(30)]
    rows = [
        {
            "src_ip": "10.4.0.2",
            "dst_port": 53,
            "service": "dns",
            "query": f"{n}.t.exfil-c2.net",
            "minute": i * 0.1,
        }
        for i, n in enumerate(names)
    ]
    alerts = DnsTunnel().process(batch("flow", rows))
    assert alerts["rule_id"].to_list() == ["NET-DNS-TUNNEL"]
    assert alerts["related"][0].to_list() == ["domain:exfil-c2.net"]


def test_cdn_names_and_reverse_lookups_are_not_tunnelling():
    cdn = [
        "d1a2b3c4d5e6f7.cloudfront.net",
        "e12345.dscx.akamaiedge.net",
        "my-load-balancer-1234567890.eu-west-1.elb.amazonaws.com",
    ]
    rows = [
        {"src_ip": "10.4.0.3", "dst_port": 53, "query": cdn[i % 3], "minute": i * 0.05}
        for i in range(300)
    ]
    rows += [
        {
            "src_ip": "10.4.0.3",
            "dst_port": 53,
            "query": f"{i}.113.0.203.in-addr.arpa",
            "minute": 15 + i * 0.01,
        }
        for i in range(250)
    ]
    assert DnsTunnel().process(batch("flow", rows)).height == 0


# --- lateral movement ----------------------------------------------------------------------


def _smb(src, dst, minute):
    return {"src_ip": src, "dst_ip": dst, "dst_port": 445, "minute": minute}


def test_workstation_reaching_three_new_servers_over_smb_is_high():
    habit = [_smb("10.5.0.9", "10.0.0.10", 60 * i) for i in range(30)]
    moves = [_smb("10.5.0.9", f"10.0.1.{i}", 60 * 30 + 10 * i) for i in range(3)]
    alerts = NewInternalPeers(warmup=timedelta(hours=12)).process(batch("flow", habit + moves))
    assert alerts["severity"].to_list() == ["medium", "high"]
    assert "10.0.1.2" in alerts["explanation"][1]


def test_admin_jump_host_reaching_new_servers_is_one_step_lower():
    habit = [_smb("10.5.0.1", f"10.0.0.{i}", 60 * i) for i in range(1, 11)]
    moves = [_smb("10.5.0.1", f"10.0.1.{i}", 60 * 20 + 10 * i) for i in range(3)]
    det = NewInternalPeers(warmup=timedelta(hours=12))
    det.process(batch("flow", habit))
    alerts = det.process(batch("flow", moves, prefix="m"))
    assert alerts["severity"].to_list() == ["low", "medium"]


def test_no_alerts_while_warming_up_and_state_is_capped():
    moves = [_smb("10.5.0.9", f"10.0.1.{i}", i) for i in range(10)]
    det = NewInternalPeers(max_pairs=4)
    assert det.process(batch("flow", moves)).height == 0
    assert det.frames["pairs"].height == 4 and det.evicted == 6
