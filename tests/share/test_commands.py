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


def test_share_export_keeps_what_came_in_under_amber_at_amber(tmp_path: Path) -> None:
    from mamori.share.export import ReleasePolicy, bundle, release

    alerts = tmp_path / "alerts.parquet"
    frame = pl.DataFrame([{"alert_id": "b1", "tenant": "bank-b", "severity": "high",
                           "title": "t", "time": datetime(2026, 11, 2, tzinfo=UTC),
                           "attack": [], "related": ["ip:185.220.101.7", "domain:x.example"]}])
    frame.write_parquet(alerts)
    sender = ReleasePolicy(sector="jp", salt="x", tlp={"ip": "amber", "*": "green"},
                           amber_peers=frozenset({"hub"}))
    pulled = tmp_path / "sector.json"
    pulled.write_bytes(orjson.dumps(bundle(release(frame, sender, "hub"))))
    policy = tmp_path / "mamori.toml"
    policy.write_text('[share]\nsector = "jp"\nsalt = "x"\ntlp = {"*" = "green"}\n')
    args = ["share", "export", str(alerts), "--policy", str(policy), "--peer", "hub"]
    plain = CliRunner().invoke(main, args)
    guarded = CliRunner().invoke(main, [*args, "--received", str(pulled)])
    assert plain.exit_code == 0 and guarded.exit_code == 0, guarded.output
    patterns = [[o["pattern"] for o in orjson.loads(done.output)["objects"]
                 if o["type"] == "indicator"] for done in (plain, guarded)]
    assert patterns == [["[ipv4-addr:value = '185.220.101.7']",
                         "[domain-name:value = 'x.example']"],
                        ["[domain-name:value = 'x.example']"]]
