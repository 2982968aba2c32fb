"""The Fraud Detection Handbook's simulated card transactions, as `transaction` events.

The handbook's simulator (Le Borgne et al., *Reproducible Machine Learning for Credit Card
Fraud Detection*, 2022) writes one row per card payment: ``TRANSACTION_ID``,
``TX_DATETIME``, ``CUSTOMER_ID``, ``TERMINAL_ID``, ``TX_AMOUNT``, and the labels
``TX_FRAUD`` and ``TX_FRAUD_SCENARIO``. A customer has one card, so the customer id names
both the `customer` and the `card`; the terminal is the card terminal.

The labels are kept apart from the events (`FdhData.labels`): a detector must never see
them with the payment, and ``TX_FRAUD_SCENARIO`` (why the simulator made a payment
fraudulent) is only there to break results down, never to learn from. Rows that cannot be
read (a missing id, time or amount, a negative amount) are returned in `quarantined`
with their 0-based row and the reason; counts add up: ``read == events + quarantined``.

>>> import polars as pl, tempfile, os, datetime as dt
>>> path = os.path.join(tempfile.mkdtemp(), "fdh.parquet")
>>> pl.DataFrame({"TRANSACTION_ID": [0, 1], "TX_DATETIME": [dt.datetime(2018, 4, 1, 0, 0, 31)] * 2,
...     "CUSTOMER_ID": [596, 7], "TERMINAL_ID": [3156, 3], "TX_AMOUNT": [57.16, -1.0],
...     "TX_FRAUD": [0, 0], "TX_FRAUD_SCENARIO": [0, 0]}).write_parquet(path)
>>> data = read_fdh(path)
>>> data.events.select("event_id", "card", "terminal", "amount").rows()
[('fdh-0', 'card-596', 'term-3156', 57.16)]
>>> data.quarantined.select("row", "reason").rows()
[(1, 'negative_amount')]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mamori.events.schema import TIME, conform

#: The columns the handbook's files carry, and the types they are read as.
COLUMNS: dict[str, pl.DataType] = {
    "TRANSACTION_ID": pl.Int64(),
    "TX_DATETIME": pl.Datetime("us"),
    "CUSTOMER_ID": pl.Int64(),
    "TERMINAL_ID": pl.Int64(),
    "TX_AMOUNT": pl.Float64(),
    "TX_FRAUD": pl.Int64(),
    "TX_FRAUD_SCENARIO": pl.Int64(),
}

#: The label frame: which payment, when it happened, and whether it was fraud.
LABELS: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "time": TIME,
    "fraud": pl.Int8(),
    "scenario": pl.Int8(),
}


class FdhFormatError(ValueError):
    """The file is not a Fraud Detection Handbook transaction file."""


@dataclass(frozen=True)
class FdhData:
    """Events, their labels (same order, joined by `event_id`) and the rejected rows."""

    events: pl.DataFrame
    labels: pl.DataFrame
    quarantined: pl.DataFrame

    @property
    def read(self) -> int:
        return self.events.height + self.quarantined.height


def read_fdh(path: Path | str, *, tenant: str = "fdh") -> FdhData:
    """Read one handbook Parquet file (or a folder of them) into time-ordered events."""
    path = Path(path)
    files = sorted(path.glob("*.parquet")) if path.is_dir() else [path]
    if not files:
        raise FdhFormatError(f"no .parquet files in {path}")
    raw = pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise FdhFormatError(f"{path}: not a handbook transaction file, lacks {missing}")
    raw = raw.select(pl.col(c).cast(t, strict=False) for c, t in COLUMNS.items())
    raw = raw.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))
    reason = (
        pl.when(pl.any_horizontal(pl.col(list(COLUMNS)[:5]).is_null()))
        .then(pl.lit("missing_field"))
        .when(pl.col("TX_AMOUNT") < 0)
        .then(pl.lit("negative_amount"))
        .when(~pl.col("TX_FRAUD").is_in([0, 1]))
        .then(pl.lit("bad_label"))
    )
    raw = raw.with_columns(reason.alias("reason"))
    quarantined = raw.filter(pl.col("reason").is_not_null()).select(
        "row", "reason", pl.struct(list(COLUMNS)).struct.json_encode().alias("record")
    )
    good = raw.filter(pl.col("reason").is_null()).sort(
        "TX_DATETIME", "TRANSACTION_ID", maintain_order=True
    )
    events = conform(
        good.select(
            ("fdh-" + pl.col("TRANSACTION_ID").cast(pl.String)).alias("event_id"),
            pl.col("TX_DATETIME").dt.replace_time_zone("UTC").alias("time"),
            pl.lit(tenant).alias("tenant"),
            pl.lit(f"fdh:{path.name}").alias("source"),
            ("cust-" + pl.col("CUSTOMER_ID").cast(pl.String)).alias("customer"),
            ("card-" + pl.col("CUSTOMER_ID").cast(pl.String)).alias("card"),
            pl.col("TX_AMOUNT").alias("amount"),
            pl.lit("debit").alias("direction"),
            pl.lit("card_present").alias("channel"),
            pl.lit("approved").alias("status"),
            ("term-" + pl.col("TERMINAL_ID").cast(pl.String)).alias("terminal"),
        ),
        "transaction",
    )
    labels = good.select(
        events["event_id"],
        events["time"],
        pl.col("TX_FRAUD").cast(pl.Int8).alias("fraud"),
        pl.col("TX_FRAUD_SCENARIO").cast(pl.Int8).alias("scenario"),
    )
    return FdhData(events, labels, quarantined)
