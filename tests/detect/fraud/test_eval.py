"""`mamori eval fdh` on a small handbook-shaped file: the protocol and its JSON."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import polars as pl
from click.testing import CliRunner

from mamori.cli import main


def _handbook_file(path, days: int = 50, per_day: int = 800) -> None:
    rng = np.random.default_rng(4)
    n = days * per_day
    secs = np.sort(rng.integers(0, days * 86_400, n))
    customer = rng.integers(0, 300, n)
    terminal = rng.integers(0, 80, n)
    amount = np.round(rng.gamma(2, 20, n), 2)
    day = secs // 86_400
    # compromised terminals: one every four days, every payment there fraud for the next 28 days
    bad = {(int(t), int(d0)) for d0 in range(0, days, 4) for t in rng.integers(0, 80, 1)}
    fraud = np.array([any((t, d0) in bad for d0 in range(d - 27, d + 1)) for t, d in
                      zip(terminal, day, strict=True)]) | (amount > 160)
    pl.DataFrame({
        "TRANSACTION_ID": np.arange(n),
        "TX_DATETIME": [datetime(2018, 4, 1) + timedelta(seconds=int(s)) for s in secs],
        "CUSTOMER_ID": customer, "TERMINAL_ID": terminal, "TX_AMOUNT": amount,
        "TX_TIME_SECONDS": secs, "TX_TIME_DAYS": day,
        "TX_FRAUD": fraud.astype(int), "TX_FRAUD_SCENARIO": fraud.astype(int) * 2,
    }).write_parquet(path)


def test_eval_fdh_splits_one_file_in_time_and_prints_the_figures(tmp_path):
    path = tmp_path / "fdh.parquet"
    _handbook_file(path)
    args = ["eval", "fdh", "--train", str(path), "--test", str(path), "--test-from",
            "2018-05-10", "--no-baselines", "--save-model", str(tmp_path / "reg"), "--json"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    figures = {"auc_roc", "average_precision", "card_precision_at_100", "n_test", "n_fraud"}
    assert figures <= set(out)
    assert abs(out["n_test"] - 11 * 800) < 400  # May 10 to the end of the file (May 20)
    # training ends a delay (7 days) before the test starts: only known labels are learned
    assert out["train"]["until"] < "2018-05-03 00:10"
    assert out["test"]["from"] >= "2018-05-10"
    assert out["auc_roc"] > 0.8 and out["n_fraud"] > 50
    assert (tmp_path / "reg" / "models" / out["model"]["version"] / "model.txt").exists()


def test_eval_fdh_refuses_one_file_without_a_split(tmp_path):
    path = tmp_path / "fdh.parquet"
    _handbook_file(path, days=2, per_day=10)
    result = CliRunner().invoke(main, ["eval", "fdh", "--train", str(path), "--test", str(path)])
    assert result.exit_code != 0 and "--test-from" in result.output
