"""`mamori sector demo`: three simulated banks, one campaign, end to end over real HTTP."""

from __future__ import annotations

import orjson
from click.testing import CliRunner

from mamori.cli import main
from mamori.simulate import SimConfig
from mamori.simulate.simulation import Simulation


def test_the_sector_demo_raises_the_campaign_at_the_third_bank_and_warns_all() -> None:
    result = CliRunner().invoke(main, ["sector", "demo", "--customers", "50", "--json"])
    assert result.exit_code == 0, result.output
    figures = orjson.loads(result.stdout)
    truth = Simulation(SimConfig(seed=7, customers=50, days=2, quiet_days=1,
                                 tenants=("bank-a", "bank-b", "bank-c"),
                                 scenarios=("heist_intrusion",), campaign=True)).truth()
    c2 = next(e[3:] for e in truth["entities"][0] if e.startswith("ip:") and e[3:6] != "10.")
    assert all(n > 0 for n in figures["alerts"].values())  # each bank detected on its own
    assert all(n > 0 for n in figures["released"].values())
    sector = figures["sector"]
    assert sector["level"] == 3 and sector["k"] == 3
    about = {c["about"]: c for c in sector["campaigns"]}
    assert about[f"[ipv4-addr:value = '{c2}']"]["institutions"] == 3
    assert all(c["named"] == [] for c in sector["campaigns"])  # nobody consented
    for bank, titles in figures["received"].items():  # every bank warned, as its own alert
        assert any(c2 in t for t in titles), bank
    releases = [line for line in result.stderr.splitlines() if " releases " in line]
    assert [line.split("campaigns now ")[1].split(",")[0] != "0" for line in releases] == [
        False, False, True  # raised exactly when the third bank reports
    ]
