"""The console in real headless Chromium (Debian's `chromium`, driven by Playwright).

Flows: log in; approve a high-impact action with two responders; switch the language; see
an incident appear live after an ingest over HTTP (last: the engine regroups the bank's
alerts, so the hand-made incidents the other flows use are replaced). Screenshots of each
main page go to ``$MAMORI_SCREENSHOTS`` (``docs/screenshots`` to refresh the documentation's),
else to a temporary folder.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mamori.localhost import serving
from tests.web.console_world import PASSWORD, add_incident, console_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
if CHROMIUM is None:
    pytest.skip(
        "Debian's chromium is not installed (apt-get install -y chromium)",
        allow_module_level=True,
    )
playwright_sync = pytest.importorskip("playwright.sync_api")


def _stuffing(users: int = 8, tries: int = 3) -> bytes:
    """Failed logins for many customers from one /24: the credential-stuffing rule fires."""
    import datetime as dt

    import orjson

    t0 = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.UTC)
    return b"\n".join(
        orjson.dumps(
            {
                "time": (t0 + dt.timedelta(seconds=10 * i)).isoformat(),
                "user": f"cust-{i % users}",
                "app": "online_banking",
                "action": "login",
                "outcome": "failure",
                "src_ip": f"198.51.100.{1 + i % 5}",
                "device": f"dev-{i % users}",
                "country": "JP",
            }
        )
        for i in range(users * tries)
    )


@dataclass
class Server:
    app: Any
    url: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    app = console_app(tmp_path_factory.mktemp("console"), incident_every_s=0.1)
    add_incident(app, "bank-a", "inc-card", "Card testing on one card", level=4)
    add_incident(
        app, "bank-a", "inc-mule", "Pass-through account receiving many", level=3, minute=90
    )
    with serving(app, log_level="warning") as url:
        yield Server(app, url)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("MAMORI_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _login(browser: Any, server: Server, username: str) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-GB")
    page = context.new_page()
    page.goto(f"{server.url}/console/")
    assert "/console/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/console/")
    return page


def test_log_in_and_see_the_overview(browser: Any, server: Server, shots: Path) -> None:
    page = _login(browser, server, "aiko")
    assert page.locator("#institution-level").inner_text() == "4"
    assert page.locator("table[data-live-incidents] tbody tr").count() == 2
    page.screenshot(path=str(shots / "console-overview.png"), full_page=True)
    page.goto(f"{server.url}/console/alerts")
    page.screenshot(path=str(shots / "console-alerts.png"), full_page=True)
    page.goto(f"{server.url}/console/entities/card/inc-card-4111")
    assert "Card testing" in page.inner_text("main")
    page.screenshot(path=str(shots / "console-entity.png"), full_page=True)
    page.context.close()


def test_two_responders_approve_a_high_impact_action(
    browser: Any, server: Server, shots: Path
) -> None:
    analyst = _login(browser, server, "aiko")
    analyst.goto(f"{server.url}/console/incidents/inc-card")
    analyst.select_option("#action-picker", "freeze_account")
    analyst.select_option("#target-picker", "customer:inc-card-c9")
    analyst.fill("#propose-form input[name=reason]", "mule pattern on the customer")
    analyst.click("#propose-form button[type=submit]")
    row = analyst.locator("tr[data-action=freeze_account]")
    row.wait_for()
    assert row.get_attribute("data-status") == "proposed"
    assert analyst.locator("tr[data-action=freeze_account] button.approve").count() == 0
    analyst.screenshot(path=str(shots / "console-incident.png"), full_page=True)
    analyst.context.close()

    for responder, status in (("ren", "proposed"), ("sora", "approved")):
        page = _login(browser, server, responder)
        page.goto(f"{server.url}/console/actions")
        page.click("tr[data-action=freeze_account] button.approve")
        page.wait_for_selector(f"tr[data-action=freeze_account][data-status={status}]")
        if status == "approved":
            page.click("tr[data-action=freeze_account] button.execute")
            page.wait_for_selector("tr[data-action=freeze_account][data-status=executed]")
            page.screenshot(path=str(shots / "console-actions.png"), full_page=True)
        page.context.close()

    auditor = _login(browser, server, "kei")
    auditor.goto(f"{server.url}/console/audit")
    assert "Chain verified" in auditor.inner_text("#chain")
    auditor.screenshot(path=str(shots / "console-audit.png"), full_page=True)
    auditor.context.close()


def test_switch_language(browser: Any, server: Server, shots: Path) -> None:
    page = _login(browser, server, "aiko")
    page.click("#language-switch")
    page.wait_for_selector("html[lang=ja]")
    assert "早期警戒の概要" in page.inner_text("h1")
    page.screenshot(path=str(shots / "console-overview-ja.png"), full_page=True)
    page.click("#language-switch")
    page.wait_for_selector("html[lang=en]")
    assert page.inner_text("h1") == "Early-warning overview"
    page.goto(f"{server.url}/console/hunt")
    page.click("main button[type=submit]")
    page.wait_for_selector("#hunt-result, .notice.error")
    page.screenshot(path=str(shots / "console-hunt.png"), full_page=True)
    page.context.close()


def test_incident_appears_live_after_ingest(browser: Any, server: Server) -> None:
    page = _login(browser, server, "aiko")
    page.wait_for_selector("#live.on", timeout=10_000)
    before = page.locator("table[data-live-incidents] tbody tr").count()
    identity = server.app.state.services.identity
    token, _ = identity.issue_token("aiko", "browser test feed")
    answer = httpx.post(
        f"{server.url}/v1/ingest?kind=auth",
        content=_stuffing(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"},
    )
    assert answer.status_code == 202, answer.text
    page.wait_for_selector("table[data-live-incidents] tbody tr.fresh", timeout=30_000)
    assert page.locator("#toast.show").count() == 1
    # the engine regrouped the bank's alerts: every incident it now holds is on the page,
    # the new credential-stuffing one included, without a reload
    store = server.app.state.services.store
    assert server.app.state.services.intake.wait_settled("bank-a", 30)
    stored = store.incidents("bank-a")
    assert stored.height > 0
    for incident_id in stored["incident_id"].to_list():
        page.wait_for_selector(f"[id='incident-{incident_id}']", timeout=10_000)
    assert page.locator("table[data-live-incidents] tbody tr").count() >= before + 1
    page.context.close()
