"""STIX 2.1: pattern forms, what is left out and why, bundles, markings, and bad input."""

import json

import pytest

from mamori.detect.intel import IntelFormatError, UnsupportedPattern, load_intel, pattern_clauses
from mamori.detect.intel.stix import load_stix


def values(pattern):
    clauses, notes = pattern_clauses(pattern)
    return [[(o.type, o.value) for o in clause] for clause in clauses], notes


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ipv4-addr:value = '198.51.100.7']", [("ipv4", "198.51.100.7")]),
        ("[ipv4-addr:value = '198.51.100.0/24']", [("ipv4", "198.51.100.0/24")]),
        ("[ipv4-addr:value ISSUBSET '198.51.100.0/24']", [("ipv4", "198.51.100.0/24")]),
        ("[ipv4-addr:value = '198.51.100.7/32']", [("ipv4", "198.51.100.7")]),
        ("[ipv6-addr:value = '2001:DB8::1']", [("ipv6", "2001:db8::1")]),
        ("[domain-name:value = 'Evil.Example.']", [("domain", "evil.example")]),
        ("[url:value = 'https://Evil.example/Login/']", [("url", "evil.example/Login")]),
        ("[file:hashes.'SHA-256' = '" + "AB" * 32 + "']", [("sha256", "ab" * 32)]),
        ("[file:hashes.MD5 = '" + "0f" * 16 + "']", [("md5", "0f" * 16)]),
        ("[file:hashes.'SHA-1' = '" + "1" * 40 + "']", [("sha1", "1" * 40)]),
        ("[file:name = 'Dropper.EXE']", [("file", "dropper.exe")]),
        ("[network-traffic:dst_ref.value = '203.0.113.5']", [("ipv4", "203.0.113.5")]),
    ],
)
def test_each_supported_form_gives_its_normalised_value(pattern, expected):
    clauses, notes = values(pattern)
    assert clauses == [expected] and notes == []


def test_or_at_both_levels_and_in_lists_give_one_clause_per_value():
    clauses, _ = values(
        "[ipv4-addr:value = '203.0.113.1' OR domain-name:value = 'a.example']"
        " OR [ipv4-addr:value IN ('203.0.113.2', '203.0.113.3')]"
    )
    assert clauses == [
        [("ipv4", "203.0.113.1")],
        [("domain", "a.example")],
        [("ipv4", "203.0.113.2")],
        [("ipv4", "203.0.113.3")],
    ]


def test_an_and_on_one_file_is_one_clause_needing_both_values():
    clauses, _ = values(f"[file:hashes.MD5 = '{'a' * 32}' AND file:name = 'x.exe']")
    assert clauses == [[("md5", "a" * 32), ("file", "x.exe")]]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[ipv4-addr:value = '203.0.113.1'] AND [domain-name:value = 'a.example']", "several"),
        ("[ipv4-addr:value = '203.0.113.1'] FOLLOWEDBY [ipv4-addr:value = '203.0.113.2']", "seq"),
        ("[ipv4-addr:value = '203.0.113.1'] REPEATS 5 TIMES", "qualifier"),
        ("[ipv4-addr:value != '203.0.113.1']", "negated"),
        ("[domain-name:value LIKE '%.example']", "LIKE"),
        ("[x509-certificate:issuer = 'CN=WEBMAIL']", "not carried"),
        ("[file:hashes.MD5 = 'a' AND x509-certificate:issuer = 'b']", "same object type"),
        ("[ipv4-addr:value = '0.0.0.0/0']", "too broad"),
        ("[ipv4-addr:value = '10.0.0.0/7']", "too broad"),
        ("[domain-name:value = 'not a domain']", "not a domain"),
    ],
)
def test_unmatchable_patterns_are_refused_with_a_reason(pattern, reason):
    with pytest.raises(UnsupportedPattern) as err:
        pattern_clauses(pattern)
    assert reason.lower() in str(err.value).lower()


def test_an_unmatchable_or_branch_is_left_out_and_noted():
    clauses, notes = values(
        "[domain-name:value = 'good.example' OR x509-certificate:serial_number = '01']"
    )
    assert clauses == [[("domain", "good.example")]]
    assert len(notes) == 1 and "x509-certificate:serial_number" in notes[0]


def bundle(tmp_path, objects, name="feed.json"):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}))
    return path


def indicator(ident, pattern, **extra):
    return {
        "type": "indicator",
        "spec_version": "2.1",
        "id": f"indicator--{ident}",
        "created": "2026-01-01T00:00:00Z",
        "modified": "2026-01-01T00:00:00Z",
        "pattern": pattern,
        "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        **extra,
    }


IDS = [f"0000000{i}-0000-4000-8000-000000000000" for i in range(8)]


def test_a_bundle_carries_report_tlp_confidence_and_validity(tmp_path):
    amber = "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"
    path = bundle(
        tmp_path,
        [
            indicator(
                IDS[0],
                "[ipv4-addr:value = '203.0.113.9']",
                name="C2 server",
                confidence=85,
                valid_until="2026-06-01T00:00:00Z",
                object_marking_refs=[amber],
            ),
            indicator(IDS[1], "[domain-name:value = 'c2.example']"),
            {
                "type": "report",
                "spec_version": "2.1",
                "id": f"report--{IDS[2]}",
                "created": "2026-01-01T00:00:00Z",
                "modified": "2026-01-01T00:00:00Z",
                "name": "Operation Heron",
                "published": "2026-01-02T00:00:00Z",
                "object_refs": [f"indicator--{IDS[0]}", f"indicator--{IDS[1]}"],
                "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"],
            },
        ],
    )
    rows = load_stix(path).indicators.sort("type").to_dicts()
    assert [(r["type"], r["report"], r["tlp"], r["confidence"]) for r in rows] == [
        ("domain", "Operation Heron", "TLP:GREEN", None),  # the report's marking
        ("ipv4", "Operation Heron", "TLP:AMBER", 85),  # its own marking wins
    ]
    assert str(rows[1]["valid_until"]) == "2026-06-01 00:00:00+00:00"


def test_stix2_errors_name_the_object_and_the_rest_loads(tmp_path):
    path = bundle(
        tmp_path,
        [
            indicator(IDS[0], "[ipv4-addr:value = ]"),  # the pattern does not parse
            {"type": "indicator", "id": f"indicator--{IDS[1]}"},  # required properties missing
            indicator(IDS[2], "[ipv4-addr:value = '203.0.113.9']"),
            indicator(IDS[3], "[ipv4-addr:value = '203.0.113.8']", revoked=True),
        ],
    )
    intel = load_stix(path)
    assert intel.objects == 4 and intel.loaded == 1 and len(intel.skipped) == 3
    reasons = {s.position: s.reason for s in intel.skipped}
    assert "pattern" in reasons[f"indicator--{IDS[0]}"].lower()
    assert "invalid STIX object" in reasons[f"indicator--{IDS[1]}"]
    assert reasons[f"indicator--{IDS[3]}"] == "revoked"


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not valid JSON"), ('{"type": "report"}', "not a MISP event export")],
)
def test_a_file_that_is_not_intel_stops_the_load_naming_it(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(IntelFormatError, match=message) as err:
        load_intel([path])
    assert "bad.json" in str(err.value)


def test_the_shared_stix_reports_load_with_their_unmatchable_indicators_listed(data_root):
    intel = load_intel([data_root / "intel" / "stix"])
    assert intel.objects == intel.loaded + len(intel.skipped)
    assert all("x509-certificate" in s.reason for s in intel.skipped)
    frame = intel.indicators
    assert frame.filter(frame["value"] == "223.166.0.0/15").height == 1
    assert frame["report"].null_count() == 0
