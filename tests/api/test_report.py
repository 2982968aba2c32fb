"""The report route shows the caller's tenant's incidents with their latest stored triage,
never another bank's."""

from __future__ import annotations

from mamori.analyst.archive import TriageArchive
from mamori.analyst.schema import Triage
from tests.api.conftest import BANKS, World


def _triage(summary: str, alert_id: str) -> Triage:
    return Triage.model_validate(
        {
            "summary": summary,
            "summary_citations": [alert_id],
            "verdict": "malicious",
            "severity": "high",
            "confidence": 0.8,
            "techniques": [],
            "affected_entities": [],
            "recommended_actions": [],
            "open_questions": [],
        }
    )


def test_the_report_shows_the_callers_triage_and_not_another_banks(world: World):
    store = world.client.app.state.services.store  # type: ignore[attr-defined]
    archive = TriageArchive(store.url)
    for bank in BANKS:
        archive.save(
            bank,
            world.incidents[bank][0],
            _triage(f"Triage summary of {bank}", world.alerts[bank][0]),
            provider="offline",
            model=None,
            requested_provider="offline",
            actor="tester",
            role="analyst",
            audit_seq=1,
            fallback_reason=None,
        )
    archive.close()
    mine, theirs = BANKS[0], BANKS[1]
    page = world.client.get("/report", headers=world.auth(f"{mine}-viewer"))
    assert page.status_code == 200
    assert f"Triage summary of {mine}" in page.text
    assert world.alerts[mine][0] in page.text
    assert f"Triage summary of {theirs}" not in page.text
