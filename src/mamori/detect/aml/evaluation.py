"""Evaluate the AML detector on an AMLSim export: recall of laundering accounts against the
share of accounts flagged.

The export's transfers go through `AmlGraph` as a stream, `batch_rows` at a time, exactly
as live. The flagged set is what an analyst files from the alerts, by a rule fixed before
any label is read:

- the *hubs*: accounts whose risk reaches `flag_score` (0.5 by default: the level at which
  any one typology meets its threshold, i.e. the account raised an alert); an account's
  risk is the noisy-OR of its best score per typology, 1 - Π(1 - s);
- the *members* of each hub's schemes: every account of the alerts' evidence subgraphs
  (the payers of a fan-in, the payees of a fan-out, the accounts of a cycle, chain or
  pass-through, the members of a ring). A member takes the score of the best scheme that
  names it, and its *participation*, the share of its money (in and out) that moved in
  those schemes' evidence, is reported beside it and orders members of equal score in the
  curve; it is no gate: a scheme's feeders are often ordinary customers, used once.

Ground truth (`mamori.events.amlsim.laundering_accounts`): every account of a SAR alert.
Reported beside ``recall`` (laundering accounts flagged / laundering accounts):
``centre_recall`` (typology centres flagged: the beneficiary of a fan-in, the payer of a
fan-out, every member of a cycle) and ``alert_recall`` (SAR alerts with a member flagged).
``recall_ceiling_at_10pct`` is the best recall any detector could reach flagging 10 % of
accounts: where more than a tenth of the accounts launder, recall ≥ 0.95 at that budget
is out of reach by counting alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from mamori.detect.aml.detector import AmlGraph
from mamori.events.amlsim import all_accounts, laundering_accounts, read_transactions
from mamori.events.schema import ALERT

CURVE_SCORES = (0.5, 0.6, 0.7, 0.8, 0.9)
CURVE_SHARES = (0.01, 0.02, 0.05, 0.1, 0.2)


def run_detector(batch: pl.DataFrame, detector: AmlGraph, batch_rows: int) -> pl.DataFrame:
    """Alerts of `detector` over a time-ordered batch fed `batch_rows` at a time."""
    found = [
        detector.process(batch.slice(i, batch_rows)) for i in range(0, batch.height, batch_rows)
    ]
    found = [a for a in found if a.height]
    return pl.concat(found) if found else pl.DataFrame(schema=ALERT)


def account_risk(alerts: pl.DataFrame) -> pl.DataFrame:
    """(account, risk, typologies) from alerts: noisy-OR of the best score per typology."""
    return (
        alerts.group_by(account="entity_id", typology="rule_id")
        .agg(pl.col("score").max())
        .group_by("account")
        .agg(
            risk=1 - (1 - pl.col("score")).product(),
            typologies=pl.col("typology").sort(),
        )
        .sort("risk", "account", descending=[True, False])
    )


def centres(truth: pl.DataFrame, folder: Path) -> pl.Series:
    """Each SAR alert's centre: its members with the most SAR transfers in the alert
    (``alert_transactions.csv``); every member where that file is absent."""
    path = folder / "alert_transactions.csv"
    if not path.is_file():
        return truth["account"].unique()
    tx = pl.read_csv(path, infer_schema=False)
    ends = pl.concat(
        [
            tx.select("alert_id", account="orig_acct"),
            tx.select("alert_id", account="bene_acct"),
        ]
    )
    degree = ends.group_by("alert_id", "account").len()
    top = degree.filter(pl.col("len") == pl.col("len").max().over("alert_id"))
    return top.join(truth, on=["alert_id", "account"], how="semi")["account"].unique()


def scheme_members(alerts: pl.DataFrame, batch: pl.DataFrame) -> pl.DataFrame:
    """(account, score, participation) for every account in the evidence of `alerts`: the
    best score of a scheme naming it, and the share of its money in `batch` that moved in
    the schemes' evidence edges."""
    evidence = (
        alerts.select(
            "score",
            edges=pl.col("explanation")
            .str.json_decode(pl.Struct({"edges": pl.List(pl.Struct({"event_id": pl.String}))}))
            .struct.field("edges"),
        )
        .explode("edges")
        .select("score", event_id=pl.col("edges").struct.field("event_id"))
        .drop_nulls()
    )
    moved = pl.concat(
        [
            batch.select("event_id", "amount", member="account"),
            batch.select("event_id", "amount", member="counterparty"),
        ]
    ).drop_nulls("member")
    inside = (
        moved.join(evidence, on="event_id")
        .group_by("member", "event_id")
        .agg(pl.col("amount").first(), pl.col("score").max())
        .group_by(account="member")
        .agg(score=pl.col("score").max(), scheme_amount=pl.col("amount").sum())
    )
    total = moved.group_by(account="member").agg(total=pl.col("amount").sum())
    return inside.join(total, on="account").select(
        "account", "score", participation=pl.col("scheme_amount") / pl.col("total")
    )


def evaluate_amlsim(
    folder: Path | str, *, batch_rows: int = 1_000, flag_score: float = 0.5
) -> dict[str, Any]:
    """The evaluation report (JSON-able) of the AML detector on one AMLSim export."""
    folder = Path(folder)
    read = read_transactions(folder, tenant="amlsim")
    detector = AmlGraph()
    alerts = run_detector(read.batch, detector, batch_rows)
    accounts = all_accounts(folder)
    truth = laundering_accounts(folder)
    laundering = set(truth["account"].to_list())
    risk = account_risk(alerts)
    hubs = set(risk.filter(pl.col("risk") >= flag_score)["account"].to_list())
    members = scheme_members(alerts.filter(pl.col("entity_id").is_in(list(hubs))), read.batch)
    ranked = (
        pl.concat(
            [
                risk.select("account", "risk", participation=pl.lit(1.0)),
                members.select("account", risk="score", participation="participation"),
            ]
        )
        .group_by("account")
        .agg(pl.col("risk").max(), pl.col("participation").max())
        .sort(["risk", "participation", "account"], descending=[True, True, False])
    )
    flagged = hubs | set(members["account"].to_list())
    centre = set(centres(truth, folder).to_list())
    by_alert = truth.group_by("alert_id").agg(pl.col("account"))
    caught_alerts = sum(bool(flagged & set(a)) for a in by_alert["account"].to_list())
    n_accounts = accounts.len()
    order = ranked["account"].to_list()

    def point(chosen: set[str]) -> dict[str, float]:
        return {
            "flagged_share": round(len(chosen) / n_accounts, 4),
            "recall": round(len(chosen & laundering) / max(len(laundering), 1), 4),
            "precision": round(len(chosen & laundering) / max(len(chosen), 1), 4),
        }

    curve = [
        {"min_risk": s, **point(set(ranked.filter(pl.col("risk") >= s)["account"].to_list()))}
        for s in CURVE_SCORES
    ] + [{"top_share": q, **point(set(order[: int(q * n_accounts)]))} for q in CURVE_SHARES]
    share = members.filter(~pl.col("account").is_in(list(hubs)))["participation"]
    return {
        "recall": round(len(flagged & laundering) / max(len(laundering), 1), 4),
        "flagged_share": round(len(flagged) / n_accounts, 4),
        "precision": round(len(flagged & laundering) / max(len(flagged), 1), 4),
        "n_accounts": n_accounts,
        "n_laundering": len(laundering),
        "n_flagged": len(flagged),
        "n_hubs": len(hubs),
        "n_members": len(flagged - hubs),
        "hub_recall": round(len(hubs & laundering) / max(len(laundering), 1), 4),
        "recall_ceiling_at_10pct": round(min(1.0, 0.1 * n_accounts / max(len(laundering), 1)), 4),
        "centre_recall": round(len(flagged & centre) / max(len(centre), 1), 4),
        "n_centres": len(centre),
        "alert_recall": round(caught_alerts / max(by_alert.height, 1), 4),
        "n_sar_alerts": by_alert.height,
        "member_participation": {
            "min": round(float(share.min() or 0.0), 5),  # type: ignore[arg-type]
            "median": round(float(share.median() or 0.0), 5),  # type: ignore[arg-type]
            "max": round(float(share.max() or 0.0), 5),  # type: ignore[arg-type]
        },
        "flag_rule": (
            f"account risk >= {flag_score} (any typology at its threshold), and every "
            "account in the evidence subgraph of those accounts' alerts"
        ),
        "alerts": alerts.height,
        "alerts_by_typology": dict(alerts["rule_id"].value_counts().iter_rows()),
        "transactions": read.batch.height,
        "quarantined": read.quarantine.count,
        "batch_rows": batch_rows,
        "evicted_edges": detector.graph.evicted_edges,
        "curve": curve,
    }
