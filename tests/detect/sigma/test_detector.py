
"""Log source routing, the compile report, and alerts from the Sigma detector."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sigma.rule import SigmaLogSource

from mamori.detect.sigma import SigmaDetector, load_rules, route_for
from mamori.detect.sigma.logsource import SYSMON
from mamori.events.schema import ALERT
from tests.conftest import batch

from .helpers import rule

SECURITY = "Security"


def winlog(rows):
    return batch("winlog", rows)


# --- routing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("logsource", "channel", "event_ids"),
    [
        ({"category": "network_connection"}, SYSMON, (3,)),
        ({"category": "registry_set"}, SYSMON, (13,)),
        ({"category": "registry_event"}, SYSMON, (12, 13, 14)),
        ({"category": "pipe_created"}, SYSMON, (17, 18)),
        ({"category": "wmi_event"}, SYSMON, (19, 20, 21)),
        ({"category": "ps_script"}, "Microsoft-Windows-PowerShell/Operational", (4104,)),
        ({"service": "security"}, SECURITY, ()),
        ({"service": "powershell-classic"}, "Windows PowerShell", ()),
    ],
)
def test_route_table(logsource, channel, event_ids):
    route = route_for(SigmaLogSource(product="windows", **logsource))
    assert route is not None
    assert channel in route.sources[0].channels
    assert route.sources[0].event_ids == event_ids


def test_routes_are_shared_and_non_windows_sources_have_none():
    a = route_for(SigmaLogSource(category="process_creation", product="windows"))
    b = route_for(SigmaLogSource(category="process_creation", product="windows"))
    assert a is b
    assert route_for(SigmaLogSource(category="process_creation", product="linux")) is None
    assert route_for(SigmaLogSource(category="file_access", product="windows")) is None


def test_rule_only_sees_events_of_its_log_source():
    det = SigmaDetector([rule({"sel": {"Image|endswith": "\\cmd.exe"}, "condition": "sel"})])
    events = winlog(
        [
            {"Channel": SYSMON, "EventID": 1, "Image": "C:\\cmd.exe", "Computer": "ws1"},
            {"Channel": SYSMON, "EventID": 11, "Image": "C:\\cmd.exe", "Computer": "ws1"},
            {"Channel": SECURITY, "EventID": 4688, "NewProcessName": "C:\\cmd.exe"},
            {"Channel": SECURITY, "EventID": 4624, "NewProcessName": "C:\\cmd.exe"},
            {"Channel": SECURITY, "EventID": 4688, "NewProcessName": "C:\\calc.exe"},
        ]
    )
    alerts = det.process(events)
    # Sysmon 1 and Security 4688 (NewProcessName read as Image); not file events or logons
    assert sorted(alerts["event_ids"].list.first().to_list()) == ["e0", "e2"]


def test_service_route_and_event_id_in_rule():
    r = rule(
        {"sel": {"EventID": 1102}, "condition": "sel"},
        logsource={"product": "windows", "service": "security"},
    )
    events = winlog(
        [
            {"Channel": SECURITY, "EventID": 1102},
            {"Channel": "System", "EventID": 1102},
            {"Channel": SECURITY, "EventID": 4624},
        ]
    )
    assert SigmaDetector([r]).process(events)["event_ids"].to_list() == [["e0"]]


# --- alerts --------------------------------------------------------------------------------


def test_alert_fields_and_explanation():
    r = rule(
        {
            "selection_img": {"Image|endswith": "\\whoami.exe"},
            "selection_cli": {"CommandLine|contains": "/priv"},
            "filter": {"User": "admin"},
            "condition": "1 of selection_* and not filter",
        },
        title="Whoami privileges",
        level="high",
        tags=["attack.discovery", "attack.t1033", "attack.privilege-escalation"],
    )
    events = winlog(
        [
            {
                "Channel": SYSMON,
                "EventID": 1,
                "Computer": "ws1",
                "User": "CORP\\bob",
                "Image": "C:\\Windows\\System32\\whoami.exe",
                "CommandLine": "whoami /all",
            },
            {
                "Channel": SYSMON,
                "EventID": 1,
                "Computer": "ws2",
                "User": "admin",
                "Image": "C:\\whoami.exe",
            },
        ]
    )
    alerts = SigmaDetector([r]).process(events)
    assert alerts.schema == pl.Schema(ALERT)
    assert alerts.height == 1
    a = alerts.row(0, named=True)
    assert a["detector"] == "sigma"
    assert a["rule_id"] == "5d1c8b7e-0000-4000-8000-000000000001"
    assert (a["title"], a["severity"], a["score"]) == ("Whoami privileges", "high", 0.75)
    assert a["stage"] == "discovery"
    assert a["attack"] == ["T1033"]
    assert (a["entity_type"], a["entity_id"]) == ("host", "ws1")
    assert a["related"] == ["user:CORP\\bob"]
    assert a["event_ids"] == ["e0"]
    assert "selection_img (Image=C:\\Windows\\System32\\whoami.exe)" in a["explanation"]
    assert "selection_cli" not in a["explanation"] and "filter" not in a["explanation"]
    # stable ids: the same evidence gives the same alert
    again = SigmaDetector([r]).process(events)
    assert again["alert_id"].to_list() == alerts["alert_id"].to_list()


def test_no_match_and_empty_batches_give_empty_alerts():
    det = SigmaDetector([rule({"sel": {"Image": "x"}, "condition": "sel"})])
    assert det.process(winlog([{"Channel": SYSMON, "EventID": 1, "Image": "y"}])).height == 0
    assert det.process(winlog([])).height == 0


# --- loading -------------------------------------------------------------------------------

GOOD = """
title: Good
id: 11111111-1111-4111-8111-111111111111
logsource: {product: windows, category: process_creation}
detection:
    sel: {Image|endswith: '\\\\x.exe'}
    condition: sel
"""
BAD_MODIFIER = GOOD.replace("|endswith", "|nosuchmodifier").replace("1111-4", "2222-4")
BAD_CONDITION = GOOD.replace("condition: sel", "condition: sel and missing").replace(
    "1111-4", "3333-4"
)
PLACEHOLDER = GOOD.replace("|endswith: '\\\\x.exe'", "|expand: '%admins%'").replace(
    "1111-4", "4444-4"
)
LINUX = GOOD.replace("product: windows", "product: linux").replace("1111-4", "5555-4")


def test_uncompilable_rules_are_reported_with_path_and_reason(tmp_path: Path):
    for name, text in [
        ("good", GOOD),
        ("modifier", BAD_MODIFIER),
        ("condition", BAD_CONDITION),
        ("placeholder", PLACEHOLDER),
        ("linux", LINUX),
        ("broken", "title: [unclosed"),
    ]:
        (tmp_path / f"{name}.yml").write_text(text)
    rules, report = load_rules(tmp_path)
    assert [r.rule.title for r in rules] == ["Good", "Good"]  # good and linux
    assert report.compiled == 2 and report.total == 6
    reasons = {Path(f.path).stem: f.reason for f in report.failed}
    assert set(reasons) == {"modifier", "condition", "placeholder", "broken"}
    assert "nosuchmodifier" in reasons["modifier"]
    assert "missing" in reasons["condition"]
    assert "%admins%" in reasons["placeholder"]
    assert report.unrouted == [str(tmp_path / "linux.yml")]
    assert "compiled 2/6" in report.summary()
    # the placeholder compiles once it has a mapping
    rules, report = load_rules(tmp_path / "placeholder.yml", placeholders={"admins": ["bob"]})
    assert report.compiled == 1 and not report.failed


# --- prefilter ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detection", "logsource"),
    [
        ({"keywords": ["kiwi", "mimi*katz"], "condition": "keywords"}, {"product": "windows"}),
        ({"sel": {"CommandLine|endswith": "\\x.exe"}, "condition": "sel"}, None),
        ({"sel": {"Image|startswith": "c:\\a"}, "condition": "sel"}, None),
        (
            {"sel": {"Image": "C:\\A\\X.EXE", "CommandLine|contains": "kiwi"}, "condition": "sel"},
            None,
        ),
        ({"sel": {"CommandLine|cased": "Kiwi"}, "condition": "sel"}, None),
        ({"sel": {"CommandLine": "a*k?wi*"}, "condition": "sel"}, None),
        (
            {
                "sel": {"CommandLine|contains": "kiwi"},
                "f": {"Image": "x"},
                "condition": "sel and not f",
            },
            None,
        ),
    ],
)
def test_prefilter_matches_like_plain_expressions(detection, logsource):
    """Unicode lower-casing (Kelvin sign, dotted I), anchors, case and negation: the
    prefiltered detector matches exactly the rows the plain expressions match."""
    compiled = rule(detection, logsource)
    values = [
        "kiwi",
        "KIWI",
        "\u212aIWI",
        "xk\u0130wi",
        "C:\\A\\X.EXE",
        "c:\\a\\x.exe y",
        "y c:\\a\\x.exe",
        "Kiwi",
        "a kiwi",
        "mimi katz",
        "\u212aiwi",
        None,
    ]
    rows = [
        {"Channel": SYSMON, "EventID": 1, "Image": v, "CommandLine": w, "Data": w}
        for v in values
        for w in values
    ]
    frame = winlog(rows)
    fast, plain = SigmaDetector([compiled]), SigmaDetector([compiled], prefilter=False)
    assert any(plan.needles for plan in fast._plans.values())
    got, want = fast.matches(frame), plain.matches(frame)
    assert got.keys() == want.keys()
    assert want, "the case should match some rows"
    for key, mask in want.items():
        assert got[key].to_list() == mask.to_list()


def test_candidate_rules_are_grouped_once_each():
    from mamori.detect.sigma.detector import _chunks

    rows = {
        0: np.array([1, 2, 3], dtype=np.uint32),
        1: np.array([2], dtype=np.uint32),
        2: np.arange(100_000, dtype=np.uint32),
        3: np.array([5, 9], dtype=np.uint32),
    }
    chunks = _chunks(rows)
    assert sorted(i for c in chunks for i in c) == [0, 1, 2, 3]
    assert [2] in chunks  # a rule with many rows is not evaluated over the others' rows
