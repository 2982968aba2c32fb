"""`mamori share export`: a bundle stix2 parses, under the TOML policy; bad policy, clear error."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import polars as pl
import stix2
from click.testing import CliRunner

from mamori.cli import main


def test_share_export_writes_a_bundle_under_the_policy(tmp_path: Path) -> None:
    alerts = tmp_path / "alerts.parquet"
    pl.DataFrame([{"alert_id": "a1", "tenant": "bank-a", "severity": "high", "title": "t",
                   "time": datetime(2026, 11, 2, tzinfo=UTC), "attack": ["T1059.001"],
                   "related": ["ip:185.220.101.7", "host:WS-1"]}]).write_parquet(alerts)
    policy = tmp_path / "mamori.toml"
    policy.write_text('[share]\nsector = "jp"\nsalt = "x"\ntlp = {"*" = "green", ip = "red"}\n')
    out = tmp_path / "bundle.json"
    done = CliRunner().invoke(main, ["share", "export", str(alerts), "--policy", str(policy),
                                     "--peer", "hub", "--out", str(out)])
    assert done.exit_code == 0, done.output
    parsed = stix2.parse(orjson.loads(out.read_bytes()), allow_custom=True)
    assert sorted({o.type for o in parsed.objects}) == [
        "attack-pattern", "identity", "marking-definition", "sighting"]  # the ip is RED
    policy.write_text("[share]\nsalt = 'x'\n")
    bad = CliRunner().invoke(main, ["share", "export", str(alerts), "--policy", str(policy),
                                    "--peer", "hub"])
    assert bad.exit_code != 0 and "sector" in bad.output
