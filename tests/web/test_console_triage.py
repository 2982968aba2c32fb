"""The console's incident page shows the latest stored triage of the tenant's incident: its
claims with their citations linked to the evidence rows, who wrote it, escaped."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mamori.analyst.archive import TriageArchive
from mamori.analyst.schema import Triage
from tests.web.console_world import add_incident, console_app
from tests.web.test_console import login

HOSTILE = "<img src=x onerror=alert(1)>"


def _triage(summary: str, cite: str) -> Triage:
    return Triage.model_validate(
        {
            "summary": summary,
            "summary_citations": [cite, "ev-9"],
            "verdict": "malicious",
            "severity": "high",
            "confidence": 0.9,
            "techniques": [{"technique_id": "T1110", "citations": [cite]}],
            "recommended_actions": [
                {"action": "freeze_card", "target": "card:inc-a-4111", "reason": "testing",
                 "citations": ["inc-a-a2"]}
            ],
            "open_questions": [f"Is {HOSTILE} the customer's device?"],
        }
    )  # fmt: skip


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Any]:
    application = console_app(tmp_path)
    add_incident(application, "bank-a", "inc-a", "Card testing on one card")
    archive = TriageArchive(application.state.services.settings.database)
    save = {"requested_provider": "frontier", "actor": "aoki", "role": "analyst"}
    archive.save("bank-a", "inc-a", _triage("older", "inc-a-a1"), provider="frontier",
                 model="m0", audit_seq=1, **save)  # fmt: skip
    archive.save("bank-a", "inc-a", _triage(f"Card testing {HOSTILE}", "inc-a-a1"),
                 provider="frontier", model="m1", audit_seq=2, **save)  # fmt: skip
    # another tenant's triage of an incident id that bank-a also has stays with bank-b
    archive.save("bank-b", "inc-a", _triage("bank b's secret", "inc-a-a1"), provider="offline",
                 model=None, audit_seq=3, fallback_reason="timeout", **save)  # fmt: skip
    archive.close()
    yield application


def test_the_incident_page_shows_the_latest_triage_with_citations(app: Any) -> None:
    client, _ = login(app, "aiko")
    page = client.get("/console/incidents/inc-a").text
    panel = page.split('id="triage"')[1].split('id="actions"')[0]
    assert '<strong class="writer">frontier (m1)</strong>' in panel
    assert "older" not in panel and "bank b&#39;s secret" not in panel
    assert '<a class="cite" href="#alert-inc-a-a1">inc-a-a1</a>' in panel
    assert '<a class="cite" href="#alert-inc-a-a2">inc-a-a2</a>' in panel
    assert '<code class="cite">ev-9</code>' in panel  # an event id: no row to link to
    assert 'id="alert-inc-a-a1"' in page and 'id="alert-inc-a-a2"' in page
    assert "T1110" in panel and "freeze_card" in panel and "high" in panel
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in panel


def test_an_incident_without_a_triage_says_so(app: Any) -> None:
    add_incident(app, "bank-a", "inc-c", "Untriaged")
    client, _ = login(app, "aiko")
    page = client.get("/console/incidents/inc-c").text
    assert "No AI triage has been recorded for this incident." in page


def test_a_fallback_is_named(app: Any) -> None:
    add_incident(app, "bank-b", "inc-a", "Bank B's incident")
    client, _ = login(app, "bo")
    panel = client.get("/console/incidents/inc-a").text.split('id="triage"')[1]
    assert '<strong class="writer">offline analyst (fallback)</strong>' in panel
    assert "Fell back to the offline analyst: timeout" in panel
