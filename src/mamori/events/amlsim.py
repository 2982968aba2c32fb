"""Read an IBM AMLSim export: its transfers as `transaction` events, and its ground truth.

An export folder holds ``transactions.csv`` (``tran_id, orig_acct, bene_acct, tx_type,
base_amt, tran_timestamp, is_sar, alert_id``), ``accounts.csv`` (one row per account, with
``acct_id`` and the reporting currency ``acct_rptng_crncy``) and the laundering alerts:
``alert_accounts.csv`` (``alert_id, alert_type, acct_id, is_sar``) and
``alert_transactions.csv``. Every account is one of the simulated banks' own, and each
transfer becomes one debit on the paying account (``account`` = orig_acct,
``counterparty`` = bene_acct, ``channel`` = tx_type in lower case, ``currency`` the payer's
reporting currency, USD where unknown). The labels (``is_sar``, ``alert_id``) are never
put into the events; `laundering_accounts` reads them for evaluation only.

Rows that cannot be read (a missing account, a bad time or amount) go to the quarantine
with their line and reason; a file without the columns it needs raises `AmlsimFormatError`.

>>> import tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "transactions.csv").write_text(
...     "tran_id,orig_acct,bene_acct,tx_type,base_amt,tran_timestamp,is_sar,alert_id\\n"
...     "1,50,62,WIRE,234.08,2011-01-01T00:00:00Z,True,0\\n"
...     "2,80,,TRANSFER,979.21,2011-01-01T00:00:00Z,False,-1\\n")
>>> run = read_transactions(folder, tenant="bank-a")
>>> run.batch.select("account", "counterparty", "direction", "channel", "amount").rows()
[('50', '62', 'debit', 'wire', 234.08)]
>>> run.read, run.quarantine.count, run.quarantine.records()["line"].to_list()
(2, 1, [3])
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from mamori.events import reasons
from mamori.events.chunk import rejects
from mamori.events.envelope import Envelope
from mamori.events.quarantine import Quarantine
from mamori.events.validate import validate

TRANSACTIONS = "transactions.csv"
ACCOUNTS = "accounts.csv"
ALERT_ACCOUNTS = "alert_accounts.csv"
_NEEDED = ("orig_acct", "bene_acct", "tx_type", "base_amt", "tran_timestamp")


class AmlsimFormatError(ValueError):
    """A folder or file that is not an AMLSim export Mamori can read."""


@dataclass
class AmlsimRead:
    """The transfers of one export (one time-ordered batch) and what was quarantined."""

    batch: pl.DataFrame
    read: int
    quarantine: Quarantine


def _csv(path: Path, needed: tuple[str, ...]) -> pl.DataFrame:
    if not path.is_file():
        raise AmlsimFormatError(f"{path}: not found; is this an AMLSim export folder?")
    frame = pl.read_csv(path, infer_schema=False)
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise AmlsimFormatError(f"{path}: lacks the column(s) {', '.join(missing)}")
    return frame


def read_transactions(
    folder: Path | str,
    *,
    tenant: str = "default",
    quarantine: Quarantine | None = None,
    now: datetime | None = None,
) -> AmlsimRead:
    """The export's transfers as one time-ordered `transaction` batch."""
    folder = Path(folder)
    quarantine = quarantine if quarantine is not None else Quarantine()
    raw = _csv(folder / TRANSACTIONS, _NEEDED).with_row_index("_line", offset=2)
    currency = pl.lit("USD")
    if (folder / ACCOUNTS).is_file():
        accounts = _csv(folder / ACCOUNTS, ("acct_id",))
        if "acct_rptng_crncy" in accounts.columns:
            raw = raw.join(
                accounts.select(orig_acct="acct_id", _currency="acct_rptng_crncy").unique(
                    "orig_acct"
                ),
                on="orig_acct",
                how="left",
                maintain_order="left",
            )
            currency = pl.coalesce("_currency", currency)
    raw = raw.with_columns(
        _raw=pl.concat_str([pl.col(c).fill_null("") for c in _NEEDED], separator=","),
        account=pl.col("orig_acct").str.strip_chars(),
        counterparty=pl.col("bene_acct").str.strip_chars(),
    )
    missing = (
        pl.col("account").is_null()
        | (pl.col("account") == "")
        | pl.col("counterparty").is_null()
        | (pl.col("counterparty") == "")
    )
    no_party = raw.filter(missing)
    if no_party.height:
        quarantine.add(
            TRANSACTIONS,
            rejects(no_party, reasons.BAD_VALUE, "orig_acct and bene_acct are both required"),
            "transaction",
        )
    records = raw.filter(~missing).select(
        "_line",
        "_raw",
        "account",
        "counterparty",
        time="tran_timestamp",
        amount="base_amt",
        channel=pl.col("tx_type").str.to_lowercase(),
        currency=currency,
        direction=pl.lit("debit"),
        status=pl.lit("approved"),
    )
    accepted, rejected = validate(records, "transaction", now=now or datetime.now(UTC))
    quarantine.add(TRANSACTIONS, rejected, "transaction")
    envelope = Envelope(tenant, f"file:{TRANSACTIONS}")
    batch = envelope.fill(accepted, "transaction").sort("time", maintain_order=True)
    return AmlsimRead(batch=batch, read=raw.height, quarantine=quarantine)


def all_accounts(folder: Path | str) -> pl.Series:
    """Every account of the export: ``accounts.csv``, else those the transfers name."""
    folder = Path(folder)
    if (folder / ACCOUNTS).is_file():
        ids = _csv(folder / ACCOUNTS, ("acct_id",))["acct_id"]
    else:
        tx = _csv(folder / TRANSACTIONS, _NEEDED)
        ids = pl.concat([tx["orig_acct"], tx["bene_acct"]])
    return ids.drop_nulls().unique().sort().alias("account")


def laundering_accounts(folder: Path | str) -> pl.DataFrame:
    """The ground truth: (account, alert_id, alert_type) for every account of a SAR alert.

    From ``alert_accounts.csv`` (rows with ``is_sar`` true); without it, the accounts at
    either end of a transfer flagged ``is_sar`` in ``transactions.csv``.
    """
    folder = Path(folder)
    truthy = pl.col("is_sar").str.to_lowercase().is_in(["true", "1", "t", "yes"])
    if (folder / ALERT_ACCOUNTS).is_file():
        alerts = _csv(folder / ALERT_ACCOUNTS, ("alert_id", "acct_id", "is_sar"))
        kind = pl.col("alert_type") if "alert_type" in alerts.columns else pl.lit(None)
        return (
            alerts.filter(truthy)
            .select(account="acct_id", alert_id="alert_id", alert_type=kind.cast(pl.String))
            .unique(maintain_order=True)
        )
    tx = _csv(folder / TRANSACTIONS, (*_NEEDED, "is_sar"))
    sar = tx.filter(truthy)
    alert = pl.col("alert_id") if "alert_id" in tx.columns else pl.lit(None, pl.String)
    return (
        pl.concat(
            [
                sar.select(account="orig_acct", alert_id=alert),
                sar.select(account="bene_acct", alert_id=alert),
            ]
        )
        .with_columns(alert_type=pl.lit(None, pl.String))
        .unique(maintain_order=True)
    )
