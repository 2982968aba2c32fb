"""The report shows each incident's latest stored triage: its claims with the ids they cite
(alert ids linked to their rows), who wrote it, a fallback said plainly, all escaped."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from mamori.analyst.archive import TriageArchive, latest_views
from mamori.analyst.samples import sample_incidents
from mamori.analyst.schema import Triage
from mamori.cli import main
from mamori.store.sql import OperationalStore
from mamori.web.report import render_report
from tests.web.test_report import HOSTILE, INSTITUTION, sample

TRIAGE = {
    "summary": f"Encoded PowerShell on ws-042, attacker wrote {HOSTILE}",
    "summary_citations": ["a001", "ev-77"],
    "verdict": "malicious",
    "severity": "critical",
    "confidence": 0.87,
    "techniques": [{"technique_id": "T1059.001", "name": "PowerShell", "citations": ["a004"]}],
    "affected_entities": [{"entity": "host:ws-042", "role": "asset", "citations": ["a004"]}],
    "recommended_actions": [
        {"action": "isolate_host", "target": "host:ws-042", "reason": "beaconing",
         "citations": ["a028"]}
    ],
    "open_questions": ["Who ran the script?"],
}  # fmt: skip


def _page(tmp_path: Path, *, fallback: str | None, model: str | None = "m1") -> str:
    alerts, incidents, links = sample()
    url = f"sqlite:///{tmp_path / 'm.db'}"
    archive = TriageArchive(url)
    archive.save(
        "bank-a",
        "inc-top",
        Triage.model_validate(TRIAGE),
        provider="offline" if fallback else "frontier",
        model=None if fallback else model,
        requested_provider="frontier",
        actor="aoki",
        role="analyst",
        audit_seq=12,
        fallback_reason=fallback,
    )
    archive.close()
    triages = latest_views(url, ["bank-a"])
    return render_report(
        alerts, incidents, links, INSTITUTION, tmp_path / "out", triages=triages
    ).read_text()


def _triage_section(page: str) -> str:
    found = re.search(r'<section class="triage".*?</section>', page, re.S)
    assert found is not None
    return found[0]


def test_the_triage_is_shown_with_its_citations_and_provider(tmp_path: Path) -> None:
    page = _page(tmp_path, fallback=None)
    top = page.split('id="incident-0"')[1].split("</article>")[0]
    section = _triage_section(top)
    assert 'written by <span class="writer">frontier (m1)</span>' in section
    assert "critical" in section and "87%" in section and "malicious" in section
    assert "T1059.001" in section and "Who ran the script?" in section
    assert "isolate_host" in section and "host:ws-042" in section
    # alert ids link to their rows in this incident's timeline; an event id is shown unlinked
    for alert_id in ("a001", "a004", "a028"):  # inc-top's alerts
        assert f'<a class="cite" href="#incident-0-alert-{alert_id}">{alert_id}</a>' in section
        assert f'<tr id="incident-0-alert-{alert_id}">' in top
    assert '<code class="cite">ev-77</code>' in section
    # only the triaged incident shows one
    assert page.count('<section class="triage"') == 1


def test_attacker_text_in_the_triage_is_escaped(tmp_path: Path) -> None:
    section = _triage_section(_page(tmp_path, fallback=None))
    assert HOSTILE not in section
    assert "attacker wrote &lt;script&gt;alert(" in section


def test_a_fallback_names_the_offline_analyst_and_why(tmp_path: Path) -> None:
    section = _triage_section(_page(tmp_path, fallback="frontier failed (HTTP 503)"))
    assert 'written by <span class="writer">offline analyst (fallback)</span>' in section
    assert "Fell back to the offline analyst: frontier failed (HTTP 503)" in section


def test_a_citation_beyond_the_timeline_cap_is_not_linked(tmp_path: Path) -> None:
    alerts, incidents, links = sample()
    url = f"sqlite:///{tmp_path / 'm.db'}"
    archive = TriageArchive(url)
    archive.save("bank-a", "inc-top", Triage.model_validate(TRIAGE), provider="frontier",
                 model="m1", requested_provider="frontier", actor="a", role="analyst",
                 audit_seq=1)  # fmt: skip
    archive.close()
    page = render_report(
        alerts, incidents, links, INSTITUTION, tmp_path / "out", max_timeline=3,
        triages=latest_views(url, ["bank-a"]),
    ).read_text()  # fmt: skip
    section = _triage_section(page)
    assert '<a class="cite" href="#incident-0-alert-a001">' in section
    assert '<code class="cite">a028</code>' in section  # its row is beyond the first 3


def test_mamori_report_shows_what_mamori_triage_stored(tmp_path: Path) -> None:
    alerts, incidents, links = sample_incidents()
    with OperationalStore(f"sqlite:///{tmp_path / 'mamori.db'}") as store:
        store.add_alerts(alerts)
        store.replace_incidents("bank-a", incidents, links)
    incident = incidents["incident_id"][0]
    runner = CliRunner()
    triaged = runner.invoke(main, ["triage", incident, "--data-dir", str(tmp_path), "--json"])
    assert triaged.exit_code == 0, triaged.output
    cited = json.loads(triaged.output)["triage"]["summary_citations"]
    reported = runner.invoke(main, ["report", "--data-dir", str(tmp_path)])
    assert reported.exit_code == 0, reported.output
    page = (tmp_path / "report" / "index.html").read_text()
    section = _triage_section(page)
    assert 'written by <span class="writer">offline analyst</span>' in section
    assert cited and all(f">{c}</a>" in section for c in cited)
