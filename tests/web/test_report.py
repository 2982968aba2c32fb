"""The HTML report: content, charts, self-containment and escaping of hostile text."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from pathlib import Path

import polars as pl
import pytest

from mamori.events.schema import conform_alerts
from mamori.web.report import render_report

T0 = dt.datetime(2024, 5, 1, 8, 0, tzinfo=dt.UTC)
HOSTILE = '<script>alert("pwned")</script>'


def sample(n_alerts: int = 30, hours: int = 5) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Alerts over `hours` hours from two detectors, and three incidents over them."""
    alerts = conform_alerts(
        pl.DataFrame(
            {
                "alert_id": [f"a{i:03d}" for i in range(n_alerts)],
                "time": [
                    T0 + dt.timedelta(minutes=i * hours * 60 // n_alerts) for i in range(n_alerts)
                ],
                "tenant": ["bank-a"] * n_alerts,
                "detector": ["sigma" if i % 3 else "fraud" for i in range(n_alerts)],
                "rule_id": ["proc_creation_win_powershell_enc"] * n_alerts,
                "title": ["Encoded PowerShell"] * n_alerts,
                "severity": ["high"] * n_alerts,
                "score": [0.9] * n_alerts,
                "entity_type": ["host"] * n_alerts,
                "entity_id": ["ws-042"] * n_alerts,
                "stage": ["execution"] * n_alerts,
                "attack": [["T1059.001"]] * n_alerts,
                "explanation": [f"CommandLine matched {HOSTILE}"]
                + ["matched -enc"] * (n_alerts - 1),
            }
        )
    )
    incidents = pl.DataFrame(
        {
            "incident_id": ["inc-low", "inc-top", "inc-mid"],
            "tenant": ["bank-a"] * 3,
            "first_seen": [T0, T0 + dt.timedelta(hours=1), T0 + dt.timedelta(hours=2)],
            "last_seen": [T0 + dt.timedelta(hours=h) for h in (1, 4, 3)],
            "title": ["Port scan", f"Ransomware precursor {HOSTILE}", "Card testing"],
            "risk": [20, 91, 55],
            "level": [2, 5, 3],
            "stages": [["reconnaissance"], ["initial_access", "execution", "impact"], []],
            "entities": [["ip:10.0.0.9"], ["host:ws-042", "user:alice"], ["card:4111"]],
            "reasons": [["scan"], ["three kill-chain stages"], ["declines"]],
            "alert_count": [10, 10, 10],
            "detectors": [["sigma"], ["fraud", "sigma"], ["fraud"]],
        }
    )
    owners = ["inc-low", "inc-top", "inc-mid"]
    links = pl.DataFrame(
        {
            "incident_id": [owners[i % 3] for i in range(n_alerts)],
            "alert_id": alerts["alert_id"],
        }
    )
    return alerts, incidents, links


INSTITUTION = {
    "tenant": "bank-a",
    "level": 4,
    "reasons": ["1 incident at level 5", f"reason with {HOSTILE}"],
    "incidents_by_level": {5: 1, 3: 1, 2: 1},
    "events": 123456,
}


@pytest.fixture
def page(tmp_path: Path) -> str:
    alerts, incidents, links = sample()
    path = render_report(alerts, incidents, links, INSTITUTION, tmp_path / "out")
    assert path == tmp_path / "out" / "index.html"
    return path.read_text(encoding="utf-8")


def test_hostile_text_is_escaped(page: str) -> None:
    assert HOSTILE not in page
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page
    # the only script element is the report's own, pinned by hash in the CSP
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in page


def test_page_is_self_contained(page: str) -> None:
    assert not re.search(r"(?i)(src|href)\s*=\s*[\"']?(https?:)?//", page)
    assert "@import" not in page
    assert "default-src 'none'" in page


def test_header_and_key_numbers(page: str) -> None:
    header = page.split("</header>")[0]
    assert "bank-a" in header
    assert 'class="n">4</div>' in header and "High" in header
    assert "1 incident at level 5" in header
    numbers = dict(re.findall(r'class="label">([^<]+)</div><div class="value">([^<]+)<', page))
    assert numbers["Events"] == "123,456" and numbers["Alerts"] == "30"
    raised = numbers["Incidents raised (level ≥ 3)"]
    watched = numbers["Watch list (levels 1–2)"]
    assert (raised, watched) == ("2", "1")  # levels 2, 5 and 3
    assert numbers["Alerts per raised incident"] == "15.0×"


def test_alert_volume_chart_stacks_per_hour_by_detector(page: str) -> None:
    svg = re.search(r'<svg class="chart" id="chart-volume".*?</svg>', page, re.S)
    assert svg is not None
    bars = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="[\d.]+" height="([\d.]+)"', svg[0])
    titles = re.findall(r"<title>([^<]+)</title>", svg[0])
    # 5 hours x 2 detectors, 6 alerts an hour: 2 fraud + 4 sigma
    assert len(bars) == 10
    assert sum(int(re.search(r": (\d+) alerts", t)[1]) for t in titles) == 30
    assert "2024-05-01 08:00:00 UTC · fraud: 2 alerts" in titles
    assert "2024-05-01 08:00:00 UTC · sigma: 4 alerts" in titles
    for _, y, h in bars:  # every bar sits inside the plot area
        assert float(y) >= 0 and float(y) + float(h) <= 240 - 40 + 0.01
    assert "per hour" in page


def test_long_periods_are_drawn_per_day(tmp_path: Path) -> None:
    alerts, incidents, links = sample(n_alerts=30, hours=24 * 20)
    page = render_report(alerts, incidents, links, INSTITUTION, tmp_path).read_text()
    assert "Alert volume per day" in page
    svg = re.search(r'<svg class="chart" id="chart-volume".*?</svg>', page, re.S)
    assert svg is not None
    assert len(re.findall("<rect ", svg[0])) <= 2 * 21


def test_risk_chart_has_a_point_per_incident_coloured_by_level(page: str) -> None:
    svg = re.search(r'<svg class="chart" id="chart-risk".*?</svg>', page, re.S)
    assert svg is not None
    points = re.findall(r'<circle cx="[\d.]+" cy="([\d.]+)" r="\d+" fill="(#[0-9a-f]+)"', svg[0])
    assert len(points) == 3
    by_risk = sorted(points, key=lambda p: float(p[0]))  # smallest y = highest risk
    assert by_risk[0][1] == "#b71c1c"  # level 5 critical is red
    assert 'href="#incident-0"' in svg[0]


def test_incidents_sorted_by_risk_with_kill_chain_and_timeline(page: str) -> None:
    order = re.findall(r'<div class="inc-id">(inc-\w+) ·', page)
    assert order == ["inc-top", "inc-mid", "inc-low"]
    top = page.split('id="incident-0"')[1].split("</article>")[0]
    assert re.findall(
        r"<span>([a-z ]+)</span>", top.split('class="chain"')[1].split("</div>")[0]
    ) == [
        "initial access",
        "execution",
        "impact",
    ]
    assert "<code>host:ws-042</code>" in top
    assert "Timeline · 10 alerts" in top
    times = re.findall(r'<td class="time">([^<]+)</td>', top)
    assert len(times) == 10 and times == sorted(times)


def test_timeline_is_capped(tmp_path: Path) -> None:
    alerts, incidents, links = sample()
    page = render_report(
        alerts, incidents, links, INSTITUTION, tmp_path, max_timeline=3
    ).read_text()
    assert page.count('<td class="time">') == 9
    assert "7 later alerts not shown" in page


def test_renders_with_nothing_to_show(tmp_path: Path) -> None:
    alerts, incidents, links = sample()
    page = render_report(
        alerts.head(0), incidents.head(0), links.head(0), {"tenant": "bank-z"}, tmp_path
    ).read_text()
    assert "No alerts in this period" in page
    assert "No incidents." in page
    assert 'class="n">1</div>' in page  # level defaults to 1, normal
