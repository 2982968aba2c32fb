"""`mamori triage` on a data folder: offline by default, a configured provider, refusals."""

from __future__ import annotations

import json

from click.testing import CliRunner

from mamori.analyst.loopback import ChatServer, Scripted
from mamori.cli import main
from mamori.govern.policy import EXAMPLE_POLICY
from tests.analyst.conftest import incident_id_of


def test_triage_offline_then_refused_then_a_provider_that_fails(tmp_path, store) -> None:
    runner = CliRunner()
    incident = incident_id_of(store, "credential")
    args = ["triage", incident, "--data-dir", str(tmp_path), "--json"]
    offline = runner.invoke(main, args)
    assert offline.exit_code == 0, offline.output
    result = json.loads(offline.output)
    assert result["provider"] == "offline" and result["triage"]["verdict"] == "malicious"

    refused = runner.invoke(main, [*args, "--provider", "frontier"])
    assert refused.exit_code == 3 and "refused by the trust policy" in refused.output

    with ChatServer(lambda body: Scripted(status=503)) as server:
        (tmp_path / "trust.toml").write_text(
            EXAMPLE_POLICY
            + f'\n[providers.frontier]\nbase_url = "{server.base_url}"\nmodel = "m1"\n'
        )
        fell_back = runner.invoke(main, [*args, "--provider", "frontier"])
    assert fell_back.exit_code == 0, fell_back.output
    data = json.loads(fell_back.output)
    assert data["provider"] == "offline" and "HTTP 503" in data["fallback"]
    verified = runner.invoke(main, ["audit", "verify", "--data-dir", str(tmp_path)])
    assert verified.exit_code == 0 and "intact" in verified.output


def test_an_unknown_incident_is_a_clear_error(tmp_path, store) -> None:
    result = CliRunner().invoke(main, ["triage", "nope", "--data-dir", str(tmp_path)])
    assert result.exit_code == 2 and "no incident 'nope'" in result.output
