"""`mamori sector demo`: three simulated banks hit by one coordinated campaign, end to end.

1. The simulator makes three banks (a quiet day, then a day with the payment-system heist)
   with one attacker behind all three (`SimConfig(campaign=True)`: the same C2 address).
2. Each bank runs its own detectors over its own events.
3. A sector hub (`create_app` with a ``[sector]`` table, k = 3) is served by uvicorn on a
   loopback port; each bank releases its alerts under a TLP:GREEN policy as STIX 2.1 and
   posts them over TAXII 2.1 with its own API token.
4. The hub raises a sector campaign when the third bank reports the same address or
   technique; each bank pulls the early-warning collection and gets the campaigns as
   alerts of its own tenant. No bank is named: none consented.

Everything runs in one process over a temporary folder, and what each step did is printed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import polars as pl

BANKS = ("bank-a", "bank-b", "bank-c")


def run_sector_demo(
    *, customers: int = 200, seed: int = 7, k: int = 3, say: Callable[[str], None] = print
) -> dict[str, Any]:
    """Run the demonstration (see the module text); its figures as a dict."""
    with tempfile.TemporaryDirectory() as hub_dir:
        return _run(customers, seed, k, Path(hub_dir), say)


def _run(customers: int, seed: int, k: int, hub_dir: Path, say: Callable[[str], None]
         ) -> dict[str, Any]:  # fmt: skip
    from mamori.api.app import create_app
    from mamori.api.settings import ApiSettings
    from mamori.engine.pipeline import Pipeline
    from mamori.localhost import serving
    from mamori.share.campaign import MEMBER_COLLECTION, WARNING_COLLECTION, campaign_alerts
    from mamori.share.client import TaxiiPeer
    from mamori.share.export import ReleasePolicy, release
    from mamori.share.hub import watch_status
    from mamori.simulate import SimConfig
    from mamori.simulate.simulation import Simulation

    cfg = SimConfig(seed=seed, customers=customers, days=2, quiet_days=1, tenants=BANKS,
                    scenarios=("heist_intrusion",), campaign=True)  # fmt: skip
    sim = Simulation(cfg)
    say(f"Simulating {len(BANKS)} banks ({customers} customers each): a quiet day, then one "
        "attacker runs the payment-system heist against all of them")  # fmt: skip
    chunks = list(sim.chunks())
    alerts: dict[str, pl.DataFrame] = {}
    for bank in BANKS:
        pipeline = Pipeline(learn_until=cfg.start + timedelta(days=1))
        batches = (b.filter(pl.col("tenant") == bank) for c in chunks for b in c.batches.values())
        pipeline.run(b for b in batches if b.height)
        alerts[bank] = pipeline.alerts()
        say(f"  {bank}: {alerts[bank].height} alerts from its own detectors")

    (hub_dir / "mamori.toml").write_text(f'[sector]\nname = "demo-sector"\nk = {k}\n')
    app = create_app(ApiSettings(hub_dir, secure_cookies=False))
    identity = app.state.services.identity
    tokens = {}
    for bank in BANKS:
        identity.create_tenant(bank, bank.upper())
        identity.create_user(bank, f"{bank}-feed", ["responder"])
        tokens[bank], _ = identity.issue_token(f"{bank}-feed", "sector feed")
    policy = ReleasePolicy(sector="demo-sector", salt="demo-salt", tlp={"*": "green"},
                           min_severity="high")  # fmt: skip
    watch = app.state.sector_hub.watch
    released: dict[str, int] = {}
    received: dict[str, list[str]] = {}
    with serving(app) as url, httpx.Client(base_url=url, timeout=30) as http:
        say(f"Sector hub (TAXII 2.1, k = {k}) on {url}/taxii2/")
        for bank in BANKS:
            objects = release(alerts[bank], policy, peer="hub")
            status = TaxiiPeer(http, tokens[bank]).push(MEMBER_COLLECTION, objects)
            released[bank] = int(status["success_count"])
            level = watch_status(watch)["level"]
            say(f"  {bank} releases {released[bank]} STIX objects (TLP:GREEN, high "
                f"severity and above); sector campaigns now {len(watch.campaigns())}, "
                f"sector level {level}")  # fmt: skip
        for bank in BANKS:
            pulled, _ = TaxiiPeer(http, tokens[bank]).pull(WARNING_COLLECTION)
            mine = campaign_alerts(pulled, bank)
            received[bank] = mine["title"].to_list()
            say(f"  {bank} pulls the early warning: {mine.height} sector alerts of its own")
            for title in received[bank]:
                say(f"      {title}")
    status = watch_status(watch)
    say(f"Sector early-warning level {status['level']}; affected institutions named: "
        f"{sorted({n for c in status['campaigns'] for n in c['named']}) or 'none'}")  # fmt: skip
    return {"alerts": {b: a.height for b, a in alerts.items()}, "released": released,
            "sector": status, "received": received}  # fmt: skip
