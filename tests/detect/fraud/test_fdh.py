"""The Fraud Detection Handbook reader, on the real file where it is present."""

from __future__ import annotations

import polars as pl
import pytest

from mamori.events.fdh import FdhFormatError, read_fdh
from mamori.events.schema import schema


def test_reads_the_handbook_file_into_transactions_with_labels_apart(data_root):
    folder = data_root / "fraud" / "fdh"
    if not folder.is_dir():
        pytest.skip(f"no FDH data at {folder}")
    data = read_fdh(folder)
    assert data.read == 1_169_723 and data.quarantined.height == 0
    assert data.events.schema == pl.Schema(schema("transaction"))
    assert data.events["time"].is_sorted()
    assert "TX_FRAUD_SCENARIO" not in data.events.columns
    assert data.labels["event_id"].equals(data.events["event_id"])
    assert round(data.labels["fraud"].mean(), 4) == 0.0081
    assert data.events["card"].n_unique() == data.events["customer"].n_unique()


def test_a_file_without_the_handbook_columns_is_refused(tmp_path):
    path = tmp_path / "x.parquet"
    pl.DataFrame({"TRANSACTION_ID": [1]}).write_parquet(path)
    with pytest.raises(FdhFormatError, match="lacks"):
        read_fdh(path)


def test_rows_that_cannot_be_read_are_quarantined_with_reason(tmp_path):
    from datetime import datetime

    path = tmp_path / "x.parquet"
    t = datetime(2018, 4, 1)
    pl.DataFrame({
        "TRANSACTION_ID": [0, 1, 2, 3], "TX_DATETIME": [t, None, t, t],
        "CUSTOMER_ID": [1, 1, 1, 1], "TERMINAL_ID": [1, 1, 1, 1],
        "TX_AMOUNT": [1.0, 1.0, -2.0, 3.0], "TX_FRAUD": [0, 0, 0, 7],
        "TX_FRAUD_SCENARIO": [0, 0, 0, 0],
    }).write_parquet(path)
    data = read_fdh(path)
    assert data.events["event_id"].to_list() == ["fdh-0"]
    assert data.quarantined.select("row", "reason").rows() == [
        (1, "missing_field"), (2, "negative_amount"), (3, "bad_label")
    ]
    assert data.read == 4
