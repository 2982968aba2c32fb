"""Offline hunting with Sigma rules over real attack samples (skipped without the data)."""

import csv
import io
import json

import pytest
from click.testing import CliRunner

from mamori.cli import main
from mamori.detect.sigma import SigmaDetector
from mamori.engine.hunt import hunt, summarise

LSASS_RULE = """
title: Test LSASS access
id: 11111111-2222-3333-4444-555555555555
status: test
level: high
tags: [attack.credential-access, attack.t1003.001]
logsource: {product: windows, category: process_access}
detection:
  selection:
    TargetImage|endswith: '\\\\lsass.exe'
  condition: selection
"""


@pytest.fixture
def rules(tmp_path):
    (tmp_path / "lsass.yml").write_text(LSASS_RULE)
    return tmp_path


@pytest.fixture
def sample(data_root):
    path = data_root / "evtx" / "Credential Access" / "sysmon_10_11_lsass_memdump.evtx"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


def test_hits_name_the_rule_file_record_and_time(rules, sample):
    hits = hunt([sample], SigmaDetector.from_paths(rules))
    assert hits.height >= 1
    hit = hits.row(0, named=True)
    assert hit["rule_id"] == "11111111-2222-3333-4444-555555555555"
    assert hit["level"] == "high" and hit["tactic"] == "credential_access"
    assert hit["attack"] == ["T1003.001"]
    assert hit["file"].endswith("sysmon_10_11_lsass_memdump.evtx") and hit["record_id"] > 0
    assert hits["time"].is_sorted()
    assert summarise(hits)["by_level"] == {"high": hits.height}
    assert hunt([sample], SigmaDetector.from_paths(rules), min_level="critical").height == 0


def test_cli_formats(rules, sample):
    runner = CliRunner()
    jsonl = runner.invoke(main, ["hunt", str(sample), "--rules", str(rules), "--format", "jsonl"])
    assert jsonl.exit_code == 0, jsonl.output
    rows = [json.loads(x) for x in jsonl.stdout.splitlines()]
    keys = {"rule_id", "rule_title", "level", "file", "record_id", "time", "event_id"}
    assert rows and all(keys <= set(r) for r in rows)
    table = runner.invoke(main, ["hunt", str(sample), "--rules", str(rules), "--format", "csv"])
    parsed = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [r["record_id"] for r in parsed] == [str(r["record_id"]) for r in rows]


def test_run_uses_the_same_sigma_engine_live(rules, sample, tmp_path):
    result = CliRunner().invoke(
        main, ["run", str(sample), "--sigma-rules", str(rules), "--data-dir", str(tmp_path / "d")]
    )
    assert result.exit_code == 0, result.output
    from mamori.store.sql import OperationalStore

    store = OperationalStore(f"sqlite:///{tmp_path / 'd' / 'mamori.db'}")
    live = store.alerts("default", detector="sigma")
    offline = hunt([sample], SigmaDetector.from_paths(rules))
    assert sorted(live["event_ids"].list.first().to_list()) == sorted(offline["event_id"].to_list())
