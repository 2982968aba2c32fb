"""The `mamori` command end to end on a small simulated bank."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mamori.cli import main
from mamori.store.sql import OperationalStore


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    result = CliRunner().invoke(
        main,
        [
            "simulate",
            "--out",
            str(out),
            "--customers",
            "300",
            "--days",
            "2",
            "--quiet-days",
            "1",
            "--seed",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def run(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return result.output


def summary_of(output: str) -> dict:
    return json.loads(output[: output.index("\n}") + 2])


def test_run_stores_alerts_and_incidents_and_a_rerun_adds_no_duplicate(sim, tmp_path):
    data = tmp_path / "data"
    first = summary_of(
        run(["run", str(sim / "events"), "--data-dir", str(data), "--learn-until", "2026-11-03"])
    )
    assert first["records_read"] == first["records_accepted"] + first["records_quarantined"]
    assert first["records_quarantined"] == 0 and first["events"] == first["records_accepted"]
    store = OperationalStore(f"sqlite:///{data / 'mamori.db'}")
    alerts = store.alerts("bank-a")
    assert alerts.height == first["new_alerts"] > 0
    assert store.incidents("bank-a").height == first["incidents"] > 0
    second = summary_of(
        run(["run", str(sim / "events"), "--data-dir", str(data), "--learn-until", "2026-11-03"])
    )
    assert second["new_alerts"] == 0 and second["alerts"] == first["alerts"]
    assert store.alerts("bank-a").height == alerts.height
    assert store.runs()[0]["events_read"] == second["records_read"]


def test_bad_records_are_quarantined_and_counted(tmp_path):
    lines = [
        {
            "time": "2026-11-02T10:00:00Z",
            "tenant": "bank-a",
            "customer": "C1",
            "amount": 12.5,
            "direction": "debit",
        },
        {"time": "2026-11-02T10:01:00Z", "tenant": "bank-a", "customer": "C1", "amount": "abc"},
        {"tenant": "bank-a", "customer": "C1", "amount": 3.0},
    ]
    file = tmp_path / "tx.jsonl"
    file.write_text("\n".join(json.dumps(x) for x in lines) + "\n{broken\n")
    out = summary_of(
        run(["run", str(file), "--kind", "transaction", "--data-dir", str(tmp_path / "d")])
    )
    assert (out["records_read"], out["records_accepted"], out["records_quarantined"]) == (4, 1, 3)
    assert out["quarantined_by_reason"] == {"wrong_type": 1, "missing_time": 1, "broken_json": 1}
    rows = [json.loads(x) for x in Path(out["quarantine_file"]).read_text().splitlines()]
    assert sorted(r["line"] for r in rows) == [2, 3, 4]


def test_query_incidents_alerts_and_report(sim, tmp_path):
    data = tmp_path / "data"
    run(["run", str(sim / "events"), "--data-dir", str(data), "--learn-until", "2026-11-03"])
    counts = run(
        [
            "query",
            "--data-dir",
            str(data),
            "--json",
            "SELECT kind, count(*) AS n FROM flow GROUP BY kind",
        ]
    )
    assert json.loads(counts)[0]["n"] > 1000
    refused = CliRunner().invoke(main, ["query", "--data-dir", str(data), "DROP TABLE flow"])
    assert refused.exit_code == 2 and "error" in refused.output
    incidents = [
        json.loads(x)
        for x in run(
            ["incidents", "--data-dir", str(data), "--min-level", "1", "--json"]
        ).splitlines()
    ]
    assert incidents and all(1 <= i["level"] <= 5 for i in incidents)
    assert "alerts" in run(["alerts", "--data-dir", str(data), "--limit", "5"])
    run(["report", "--data-dir", str(data)])
    html = (data / "report" / "index.html").read_text()
    assert "<svg" in html and incidents[0]["incident_id"][:8] in html


def test_unknown_input_fails_with_a_clear_message(tmp_path):
    bad = tmp_path / "x.unknown"
    bad.write_text("?")
    result = CliRunner().invoke(main, ["run", str(bad), "--data-dir", str(tmp_path / "d")])
    assert result.exit_code != 0
    assert "x.unknown" in result.output


def test_eval_simulate_prints_the_contracted_json():
    out = json.loads(
        run(
            ["eval", "simulate", "--seed", "5", "--customers", "400", "--quiet-days", "2", "--json"]
        )
    )
    assert set(out["scenarios"]) == {
        "account_takeover",
        "card_fraud",
        "mule_ring",
        "heist_intrusion",
        "exfiltration",
        "ddos",
        "insider",
    }
    for key in (
        "detected",
        "total",
        "median_time_to_detect_s",
        "false_incidents_per_10k_customers_per_day",
        "benign_alerts",
        "incidents_raised",
        "reduction_alerts_per_raised_incident",
        "stages_hidden",
    ):
        assert key in out
    assert out["total"] == 7 and out["detected"] >= 5


def test_bench_pipeline_prints_throughput_and_memory():
    out = json.loads(
        run(["bench", "pipeline", "--events", "50000", "--customers", "500", "--json"])
    )
    assert out["events"] >= 50000 and out["events_per_s"] > 0 and out["peak_rss_mb"] > 0


def test_allow_list_and_repeat_window_suppress_and_count(sim, tmp_path):
    allow = tmp_path / "allow.toml"
    allow.write_text(
        '[[allow]]\nrule = "MR-AUTH-002"\nreason = "new phones after the app update"\n'
    )
    args = ["run", str(sim / "events"), "--learn-until", "2026-11-03", "--data-dir"]
    plain = summary_of(run([*args, str(tmp_path / "a")]))
    quiet = summary_of(
        run([*args, str(tmp_path / "b"), "--allow-list", str(allow), "--repeat-window", "6h"])
    )
    silenced = sum(quiet["alerts_suppressed"].values())
    assert (
        silenced > 0 and "allow-list: new phones after the app update" in quiet["alerts_suppressed"]
    )
    assert quiet["alerts"] == plain["alerts"] - silenced
