"""IntelMatcher: addresses and networks, names, URLs, hashes, validity, AND, alerts, state."""

import ipaddress
from datetime import timedelta

import numpy as np
import polars as pl
import pytest

from mamori.detect.intel import IntelMatcher, load_intel
from mamori.detect.intel.addresses import parse_addresses
from mamori.detect.intel.model import indicator_frame, indicator_rows, observable
from mamori.engine.checkpoint import Checkpoint
from mamori.events.schema import ALERT
from tests.conftest import T0, batch


def intel(*specs, **meta):
    """Indicators from (id, type, value) triples, sharing `meta`."""
    rows = []
    for ident, kind, value in specs:
        found = observable(kind, value)
        assert not isinstance(found, str), found
        rows += indicator_rows([found], {"indicator_id": ident, "name": ident, **meta})
    return indicator_frame(rows)


def matched(matcher, kind, rows):
    hits = matcher.matches(batch(kind, rows))
    return sorted(set(hits["event_id"].to_list())) if hits.height else []


def flows(*destinations):
    return [{"src_ip": "10.1.1.5", "dst_ip": d} for d in destinations]


def test_a_network_holds_its_network_and_broadcast_addresses_and_nothing_beside():
    m = IntelMatcher(intel(("n", "ip", "198.51.100.0/24")))
    rows = flows(
        "198.51.99.255", "198.51.100.0", "198.51.100.128", "198.51.100.255", "198.51.101.0"
    )
    assert matched(m, "flow", rows) == ["e1", "e2", "e3"]


def test_a_slash_32_is_one_address_and_the_top_of_the_space_works():
    m = IntelMatcher(intel(("a", "ip", "203.0.113.7/32"), ("b", "ip", "255.255.255.0/24")))
    rows = flows("203.0.113.6", "203.0.113.7", "203.0.113.8", "255.255.255.255", "0.0.0.0")
    assert matched(m, "flow", rows) == ["e1", "e3"]


def test_nested_networks_and_an_address_inside_them_all_match():
    m = IntelMatcher(
        intel(
            ("wide", "ip", "10.0.0.0/8"), ("mid", "ip", "10.20.0.0/16"), ("one", "ip", "10.20.3.4")
        )
    )
    rows = [{"src_ip": "192.0.2.5", "dst_ip": d} for d in ("10.20.3.4", "10.20.9.9", "10.99.0.1")]
    hits = m.matches(batch("flow", rows))
    got = sorted(zip(hits["event_id"], hits["indicator_id"], strict=True))
    assert got == [
        ("e0", "mid"),
        ("e0", "one"),
        ("e0", "wide"),
        ("e1", "mid"),
        ("e1", "wide"),
        ("e2", "wide"),
    ]


def test_networks_broader_than_slash_8_are_refused():
    assert "too broad" in observable("ip", "0.0.0.0/0")
    assert "too broad" in observable("ip", "128.0.0.0/1")
    assert not isinstance(observable("ip", "10.0.0.0/8"), str)


def test_ipv6_addresses_and_networks_match_in_any_notation():
    m = IntelMatcher(intel(("n", "ip", "2001:db8:aa::/48"), ("a", "ip", "2001:db8::1")))
    rows = flows("2001:DB8:AA:1::5", "2001:db8:0:0:0:0:0:1", "2001:db8:ab::1", "::ffff:203.0.113.1")
    assert matched(m, "flow", rows) == ["e0", "e1"]


def test_address_parsing_agrees_with_the_standard_library():
    rng = np.random.default_rng(3)
    v4 = [str(ipaddress.IPv4Address(int(x))) for x in rng.integers(0, 2**32, 300)]
    v6 = [
        str(ipaddress.IPv6Address(int(x) << 64 | int(y)))
        for x, y in rng.integers(0, 2**63, (300, 2))
    ]
    parsed = parse_addresses(pl.Series(v4 + v6 + ["1.2.3", "1.2.3.256", "x", "1::2::3"]))
    assert parsed.height == 600
    for raw, k1, k2 in parsed.select("raw", "k1", "k2").iter_rows():
        value = int(ipaddress.ip_address(raw))
        assert (k1, k2) == ((value, 0) if ":" not in raw else (value >> 64, value & (2**64 - 1)))


def test_hashes_are_found_inside_the_sysmon_hashes_field():
    sha256, md5 = "ab" * 32, "cd" * 16
    m = IntelMatcher(intel(("s", "sha256", sha256), ("m", "md5", md5)))
    rows = [
        {
            "EventID": 1,
            "Computer": "WS1",
            "Hashes": f"SHA1={'0' * 40},MD5=11,SHA256={sha256.upper()}",
        },
        {"EventID": 1, "Computer": "WS2", "Hashes": f"MD5={md5.upper()},IMPHASH={'e' * 32}"},
        {"EventID": 1, "Computer": "WS3", "Hashes": f"SHA256={'ab' * 31}ac"},
        {"EventID": 1, "Computer": "WS4", "Hashes": f"MD5={sha256[:32]}"},  # a prefix, not the hash
    ]
    hits = m.matches(batch("winlog", rows))
    assert sorted(zip(hits["event_id"], hits["indicator_id"], strict=True)) == [
        ("e0", "s"),
        ("e1", "m"),
    ]


def test_a_domain_covers_its_subdomains_and_a_hostname_only_itself():
    m = IntelMatcher(intel(("d", "domain", "evil.example"), ("h", "hostname", "mail.bad.example")))
    rows = [
        {"src_ip": "10.1.1.5", "query": q}
        for q in [
            "evil.example",
            "a.b.Evil.Example.",
            "notevil.example",
            "mail.bad.example",
            "x.mail.bad.example",
            "https://cdn.evil.example:8443/p",
        ]
    ]
    assert matched(m, "flow", rows) == ["e0", "e1", "e3", "e5"]


def test_urls_match_without_scheme_or_trailing_slash():
    m = IntelMatcher(intel(("u", "url", "http://kit.example/Login/")))
    queries = ["https://kit.example/Login", "KIT.example/Login/", "kit.example/login"]
    assert matched(m, "flow", [{"query": q} for q in queries]) == ["e0", "e1"]


def test_addresses_and_names_in_log_lines_match():
    m = IntelMatcher(intel(("ip", "ip", "203.0.113.7"), ("d", "domain", "evil.example")))
    rows = [
        {"host": "gw", "message": "Failed password for root from 203.0.113.7 port 22 ssh2"},
        {"host": "proxy", "message": "GET http://cdn.evil.example/x.js 200"},
        {"host": "gw", "message": "Accepted password from 203.0.113.70"},
    ]
    assert matched(m, "log", rows) == ["e0", "e1"]


def test_only_indicators_valid_at_the_events_time_match():
    frame = intel(
        ("a", "ip", "203.0.113.7"),
        valid_from=T0 + timedelta(minutes=1),
        valid_until=T0 + timedelta(minutes=3),
    )
    m = IntelMatcher(frame)
    rows = [{"src_ip": "10.1.1.5", "dst_ip": "203.0.113.7", "minute": i} for i in range(5)]
    assert matched(m, "flow", rows) == ["e1", "e2"]  # from inclusive, until exclusive


def test_an_and_pattern_needs_every_value_on_the_same_event():
    md5 = "ab" * 16
    rows = []
    for ident_value in (("md5", md5), ("file", "x.exe")):
        rows += indicator_rows(
            [observable(*ident_value)], {"indicator_id": "both", "clause": 0, "need": 2}
        )
    m = IntelMatcher(indicator_frame(rows))
    events = [
        {"Computer": "WS1", "Hashes": f"MD5={md5}", "Image": "C:\\x.exe"},
        {"Computer": "WS2", "Hashes": f"MD5={md5}", "Image": "C:\\y.exe"},
        {"Computer": "WS3", "Hashes": "MD5=00", "Image": "C:\\x.exe"},
    ]
    assert matched(m, "winlog", events) == ["e0"]


def test_an_alert_names_the_indicator_its_report_and_tlp_and_groups_repeats():
    frame = intel(
        ("indicator--c2", "ip", "203.0.113.7"),
        report="Operation Heron",
        tlp="TLP:AMBER",
        confidence=90,
    )
    m = IntelMatcher(frame)
    rows = [{"src_ip": "10.1.1.5", "dst_ip": "203.0.113.7", "minute": i} for i in range(10)]
    rows.append({"src_ip": "10.1.1.6", "dst_ip": "203.0.113.7", "minute": 11})
    alerts = m.process(batch("flow", rows))
    assert alerts.schema == pl.Schema(ALERT)
    assert alerts["entity_id"].to_list() == ["10.1.1.5", "10.1.1.6"]
    first = alerts.row(0, named=True)
    assert first["severity"] == "high" and first["score"] == pytest.approx(0.9)
    assert first["stage"] == "command_and_control" and first["related"] == ["ip:203.0.113.7"]
    assert len(first["event_ids"]) == 10
    for text in ("indicator--c2", "Operation Heron", "TLP:AMBER", "confidence 90", "dst_ip"):
        assert text in first["explanation"]
    # the same evidence again raises nothing new (cooldown) and ids are stable
    assert m.process(batch("flow", rows)).height == 0
    assert IntelMatcher(frame).process(batch("flow", rows))["alert_id"].equals(alerts["alert_id"])


def test_a_logon_from_a_listed_address_is_about_the_user():
    m = IntelMatcher(intel(("a", "ip", "203.0.113.0/24"), tlp=None))
    alerts = m.process(
        batch("auth", [{"user": "C42", "src_ip": "203.0.113.50", "outcome": "success"}])
    )
    row = alerts.row(0, named=True)
    assert (row["entity_type"], row["entity_id"], row["stage"]) == ("user", "C42", "initial_access")
    assert row["severity"] == "medium"  # a network, not one address
    assert "TLP unmarked" in row["explanation"]


def test_snapshot_and_restore_keep_the_cooldown(tmp_path):
    frame = intel(("a", "ip", "203.0.113.7"))
    rows = [{"src_ip": "10.1.1.5", "dst_ip": "203.0.113.7", "minute": i} for i in range(4)]
    a, b = IntelMatcher(frame), IntelMatcher(frame)
    assert a.process(batch("flow", rows[:2])).height == 1
    Checkpoint(tmp_path / "c").save(0, {"d": a.snapshot()})
    b.restore(Checkpoint(tmp_path / "c").load()[1]["d"])
    later = batch("flow", rows[2:])
    assert a.process(later).equals(b.process(later))
    assert b.process(later).height == 0


def test_empty_batches_and_no_indicators_give_empty_alerts():
    from mamori.events.schema import empty

    m = IntelMatcher(intel(("a", "ip", "203.0.113.7")))
    for kind in sorted(m.kinds):
        assert m.process(empty(kind)).schema == pl.Schema(ALERT)
    none = IntelMatcher(indicator_frame([]))
    assert none.process(batch("flow", flows("203.0.113.7"))).height == 0


def test_the_shared_stix_reports_match_constructed_events(data_root):
    m = IntelMatcher(load_intel([data_root / "intel" / "stix"]))
    after = T0  # every shared indicator is valid from 2015 with no end
    rows = [
        {"src_ip": "10.1.1.5", "dst_ip": "223.167.255.255", "time": after},  # APT1 223.166.0.0/15
        {"src_ip": "10.1.1.5", "dst_ip": "223.168.0.0", "time": after},  # just outside it
        {"src_ip": "10.1.1.6", "query": "www.webserver.dynssl.com", "time": after},  # Poison Ivy
        {"src_ip": "10.1.1.7", "dst_ip": "60.10.1.120", "time": after},
    ]
    alerts = m.process(batch("flow", rows))
    assert sorted(alerts["entity_id"].to_list()) == ["10.1.1.5", "10.1.1.6", "10.1.1.7"]
    titles = " ".join(alerts["title"].to_list())
    assert "APT1" in titles and "Poison Ivy" in titles
