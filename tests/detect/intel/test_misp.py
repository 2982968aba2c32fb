"""MISP events: to_ids, attribute types, validity windows, TLP and confidence from tags."""

import json
from datetime import UTC, datetime, timedelta

from mamori.detect.intel import load_intel
from mamori.detect.intel.misp import load_misp


def attribute(uuid, kind, value, to_ids=True, **extra):
    return {"uuid": uuid, "type": kind, "value": value, "to_ids": to_ids, **extra}


def event_file(tmp_path, attributes, tags=None, objects=None):
    path = tmp_path / "event.json"
    event = {
        "uuid": "ev-1",
        "info": "OSINT - Phishing kit against bank customers",
        "timestamp": "1767225600",
        "Tag": tags or [{"name": "tlp:green"}],
        "Attribute": attributes,
        "Object": objects or [],
    }
    path.write_text(json.dumps({"Event": event}))
    return path


def test_only_to_ids_attributes_are_matched_and_the_rest_is_counted(tmp_path):
    path = event_file(
        tmp_path,
        [
            attribute("a1", "ip-dst", "203.0.113.7"),
            attribute("a2", "link", "https://blog.example/post", to_ids=False),
            attribute("a3", "ip-src", "198.51.100.9", to_ids=False),
            attribute("a4", "email-subject", "Your account", to_ids=True),
            attribute("a5", "domain", "x.example", deleted=True),
        ],
    )
    intel = load_misp(path)
    assert intel.indicators["indicator_id"].to_list() == ["a1"]
    reasons = {s.position: s.reason for s in intel.skipped}
    assert reasons["a2"].startswith("to_ids") and reasons["a3"].startswith("to_ids")
    assert "email-subject" in reasons["a4"] and reasons["a5"] == "deleted"
    assert intel.objects == 5 == intel.loaded + len(intel.skipped)


def test_attribute_types_become_the_right_observables(tmp_path):
    md5 = "0123456789abcdef" * 2
    path = event_file(
        tmp_path,
        [
            attribute("a1", "domain|ip", "c2.example|203.0.113.7"),
            attribute("a2", "filename|md5", f"invoice.exe|{md5.upper()}"),
            attribute("a3", "ip-dst|port", "198.51.100.0/24|443"),
            attribute("a4", "hostname", "Mail.Example.org"),
            attribute("a5", "url", "http://bad.example/kit/"),
        ],
        objects=[{"name": "file", "Attribute": [attribute("o1", "sha256", "f" * 64)]}],
    )
    rows = load_misp(path).indicators.select("indicator_id", "type", "value", "subdomains")
    assert sorted(rows.rows()) == [
        ("a1", "domain", "c2.example", True),
        ("a1", "ipv4", "203.0.113.7", False),
        ("a2", "md5", md5, False),
        ("a3", "ipv4", "198.51.100.0/24", False),
        ("a4", "hostname", "mail.example.org", False),
        ("a5", "url", "bad.example/kit", False),
        ("o1", "sha256", "f" * 64, False),
    ]


def test_first_and_last_seen_bound_the_window_and_max_age_ends_it(tmp_path):
    path = event_file(
        tmp_path,
        [
            attribute(
                "a1",
                "ip-dst",
                "203.0.113.7",
                first_seen="2026-01-01T00:00:00+00:00",
                last_seen="2026-02-01T00:00:00+00:00",
            ),
            attribute("a2", "ip-dst", "203.0.113.8", timestamp="1767225600"),
        ],
    )
    rows = {r["indicator_id"]: r for r in load_misp(path).indicators.to_dicts()}
    assert rows["a1"]["valid_from"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert rows["a1"]["valid_until"] == datetime(2026, 2, 1, tzinfo=UTC) + timedelta(
        microseconds=1
    )  # last_seen itself still matches
    assert rows["a2"]["valid_until"] is None
    aged = {r["indicator_id"]: r for r in load_misp(path, timedelta(days=90)).indicators.to_dicts()}
    assert aged["a2"]["valid_until"] == datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=90)


def test_tlp_and_confidence_come_from_attribute_tags_before_the_events(tmp_path):
    confident = 'estimative-language:confidence-in-analytic-judgment="high"'
    path = event_file(
        tmp_path,
        [
            attribute("a1", "ip-dst", "203.0.113.7"),
            attribute("a2", "ip-dst", "203.0.113.8", Tag=[{"name": "tlp:amber"}]),
        ],
        tags=[{"name": "tlp:green"}, {"name": confident}],
    )
    rows = {r["indicator_id"]: r for r in load_misp(path).indicators.to_dicts()}
    assert (rows["a1"]["tlp"], rows["a2"]["tlp"]) == ("TLP:GREEN", "TLP:AMBER")
    assert rows["a1"]["confidence"] == 90
    assert rows["a1"]["report"] == "OSINT - Phishing kit against bank customers"


def test_the_shared_misp_events_load_only_attributes_marked_for_detection(data_root):
    folder = data_root / "intel" / "misp"
    intel = load_intel([folder])
    raw = [json.loads(p.read_text())["Event"] for p in sorted(folder.glob("*.json"))]
    attributes = [a for e in raw for a in e["Attribute"]] + [
        a for e in raw for o in e.get("Object", []) for a in o["Attribute"]
    ]
    marked = {a["uuid"] for a in attributes if a["to_ids"]}
    assert intel.objects == len(attributes)
    assert set(intel.indicators["indicator_id"].to_list()) <= marked
    not_marked = [s for s in intel.skipped if s.reason.startswith("to_ids")]
    assert len(not_marked) == len(attributes) - len(marked)
    assert set(intel.indicators["tlp"].to_list()) == {"TLP:WHITE"}
