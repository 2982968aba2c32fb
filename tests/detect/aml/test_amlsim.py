"""The AMLSim reader and `mamori eval amlsim` on the real export."""

import json

import pytest
from click.testing import CliRunner

from mamori.cli import main
from mamori.events.amlsim import AmlsimFormatError, laundering_accounts, read_transactions

HEADER = "tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,alert_id\n"


def test_bad_rows_are_quarantined_with_their_line_and_counts_add_up(tmp_path):
    (tmp_path / "transactions.csv").write_text(
        HEADER
        + "1,1,2,WIRE,10.5,2011-01-01T00:00:00Z,False,-1\n"
        + "2,1,,WIRE,10.5,2011-01-01T00:00:00Z,False,-1\n"
        + "3,1,2,WIRE,-4,2011-01-02T00:00:00Z,False,-1\n"
        + "4,1,2,WIRE,5,someday,False,-1\n"
    )
    run = read_transactions(tmp_path)
    assert run.batch.height + run.quarantine.count == run.read == 4
    bad = run.quarantine.records().sort("line")
    assert bad.select("line", "reason").rows() == [
        (3, "bad_value"),
        (4, "bad_value"),
        (5, "unparseable_time"),
    ]
    assert "is_sar" not in run.batch.columns and "alert_id" not in run.batch.columns


def test_a_folder_without_the_needed_columns_is_refused(tmp_path):
    (tmp_path / "transactions.csv").write_text("tran_id,orig_acct\n1,2\n")
    with pytest.raises(AmlsimFormatError, match="bene_acct"):
        read_transactions(tmp_path)


def test_the_real_export_reads_whole(data_root):
    folder = data_root / "aml" / "amlsim-export"
    run = read_transactions(folder)
    assert run.batch.height == 10_333 and run.quarantine.count == 0
    assert run.batch["event_id"].n_unique() == 10_333
    assert laundering_accounts(folder)["account"].n_unique() == 54


def test_eval_amlsim_flags_the_schemes_members_and_no_innocent_account(data_root):
    result = CliRunner().invoke(
        main, ["eval", "amlsim", str(data_root / "aml" / "amlsim-export"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["n_accounts"] == 100 and report["n_laundering"] == 54
    assert report["n_hubs"] == 3 and report["centre_recall"] == 1.0
    assert report["recall"] >= 0.95 and report["precision"] == 1.0
    assert report["flagged_share"] == report["n_flagged"] / 100 <= 0.55
    assert report["alert_recall"] == 1.0
    assert report["recall"] > report["recall_ceiling_at_10pct"] == round(10 / 54, 4)
    assert report["member_participation"]["max"] < 0.01  # feeders are used once, not gated
    assert report["curve"][0] == {
        "min_risk": 0.5,
        "flagged_share": report["flagged_share"],
        "recall": report["recall"],
        "precision": report["precision"],
    }


def test_eval_amlsim_on_a_folder_that_is_no_export_fails_clearly(tmp_path):
    result = CliRunner().invoke(main, ["eval", "amlsim", str(tmp_path), "--json"])
    assert result.exit_code != 0 and "AMLSim export" in result.output
