"""Laundering typologies on the transfer graph, each scored per account with its evidence.

Every scorer takes the windowed edges (`mamori.detect.aml.graph.EDGE`, with a boolean
`_new` marking the edges of the batch at hand) and the bank's own accounts, and returns
*findings* (schema `FINDING`): one row per account and typology that the new edges make
true, with a score in 0–1 and the edges that show it. Only the bank's own accounts are
scored (it can act on those); other accounts appear as evidence.

- fan-in / fan-out: many distinct payers into one account (or payees out of it) within
  `fan_window`; the *alike* variant counts distinct payers (payees) moving the identical
  amount, to the cent, within `alike_window` (90 days) before each new edge, the mark of
  one controller scripting many accounts (smurfing) whatever the pace: daily, weekly or
  every 40 days all fall inside it.
- pass-through: within `pass_window`, money out of an account is most of what came in.
- cycles: money returns to where it started through 3 to `max_hops` accounts, each hop
  later than the one before (within `hop_within`) and keeping at least `retention` of it.
- chains: money moves through at least `chain_hops` hops whose inner accounts are all
  new (first seen within `new_for`, after the detector had watched for `new_for`).
- rings: accounts paying out from one shared device (or IP address).

Scores use one curve, `strength(x) = 1 - 2**(-x)` of how many times the threshold is met,
so a typology exactly at its threshold scores 0.5 and each further multiple halves the
distance to 1. Scorers are vectorised: rolling windows and group-bys for fans and
pass-through, joins bounded by `max_hops` and `max_paths` for cycles and chains.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from mamori.events.schema import TIME

FINDING: dict[str, pl.DataType] = {
    "tenant": pl.String(),
    "account": pl.String(),
    "typology": pl.String(),
    "time": TIME,
    "score": pl.Float64(),
    "size": pl.Int64(),  # distinct counterparties, hops, or accounts: what the score counts
    "edges": pl.List(
        pl.Struct(
            {
                "src": pl.String(),
                "dst": pl.String(),
                "amount": pl.Float64(),
                "time": TIME,
                "event_id": pl.String(),
            }
        )
    ),
    "shared": pl.String(),  # the shared device or address, for rings
}

STAGES: dict[str, str] = {
    "fan_in": "placement",
    "fan_in_alike": "placement",
    "fan_out": "layering",
    "fan_out_alike": "layering",
    "pass_through": "layering",
    "cycle": "layering",
    "new_account_chain": "layering",
    "shared_device_ring": "layering",
    "shared_ip_ring": "layering",
}


@dataclass(frozen=True)
class Thresholds:
    """Where each typology starts (its score is 0.5 there)."""

    fan_window: timedelta = timedelta(hours=24)
    fan_min: int = 10  # distinct payers (payees) within fan_window
    alike_min: int = 3  # distinct payers (payees) of one identical amount within alike_window
    alike_window: timedelta = timedelta(days=90)
    pass_window: timedelta = timedelta(hours=12)
    pass_ratio: float = 0.7  # money out / money in
    pass_min_amount: float = 2_000.0
    pass_min_payers: int = 2  # distinct payers of the money passed on
    hop_within: timedelta = timedelta(days=7)
    retention: float = 0.8  # each hop keeps at least this share of the one before
    cycle_min: int = 3  # accounts in a cycle
    chain_hops: int = 3
    max_hops: int = 4
    max_paths: int = 200_000  # partial paths kept per hop; beyond, the latest are kept
    new_for: timedelta = timedelta(days=30)
    device_ring_min: int = 3  # accounts paying from one device
    ip_ring_min: int = 5  # accounts paying from one address (NAT and carriers share them)
    evidence_max: int = 25  # edges kept in an alert's evidence (the latest)


def strength(times_threshold: pl.Expr) -> pl.Expr:
    """The score of a typology met `times_threshold` times over (0.5 at 1, 0.75 at 2)."""
    return (1 - pl.lit(2.0).pow(-times_threshold)).clip(0.0, 0.99)


_EDGE_STRUCT = pl.struct("src", "dst", "amount", "time", "event_id")


def _held(edges: pl.DataFrame, accounts: pl.DataFrame, column: str) -> pl.DataFrame:
    """The `edges` whose `column` (src or dst) is one of the bank's `accounts`, by the keys
    of `mamori.detect.aml.graph` (``src_key``/``dst_key`` and the accounts' ``key``)."""
    return edges.filter(pl.col(f"{column}_key").is_in(accounts["key"].implode()))


def _touched(edges: pl.DataFrame, column: str) -> pl.DataFrame:
    """Edges of the accounts (in `column`) that a new edge touches."""
    return edges.join(
        edges.filter("_new").select("tenant", column).unique(), on=["tenant", column], how="semi"
    )


def _latest_edges(evidence: pl.DataFrame, keys: list[str], limit: int) -> pl.DataFrame:
    """Per finding (`keys`), its evidence edges as a list, the latest `limit` of them."""
    return (
        evidence.sort("time")
        .group_by(keys, maintain_order=True)
        .agg(edges=_EDGE_STRUCT.tail(limit))
    )


def _findings(frame: pl.DataFrame) -> pl.DataFrame:
    if "shared" not in frame.columns:
        frame = frame.with_columns(shared=pl.lit(None, pl.String()))
    return frame.select(pl.col(c).cast(t) for c, t in FINDING.items())


def empty_findings() -> pl.DataFrame:
    return pl.DataFrame(schema=FINDING)


def fans(
    edges: pl.DataFrame, accounts: pl.DataFrame, th: Thresholds, *, inward: bool
) -> pl.DataFrame:
    """Fan-in (`inward`) or fan-out: many distinct counterparties within `fan_window`."""
    hub, peer = ("dst", "src") if inward else ("src", "dst")
    name = "fan_in" if inward else "fan_out"
    mine = _touched(_held(edges, accounts, hub), hub).sort("tenant", hub, "time")
    if mine.height == 0:
        return empty_findings()
    rolled = mine.rolling("time", period=th.fan_window, group_by=["tenant", hub]).agg(
        size=pl.col(peer).n_unique(), _new=pl.col("_new").last()
    )
    best = (
        rolled.filter(pl.col("_new") & (pl.col("size") >= th.fan_min))
        .sort("size", "time")
        .group_by("tenant", hub)
        .last()
    )
    if best.height == 0:
        return empty_findings()
    evidence = mine.join(best.select("tenant", hub, _at="time"), on=["tenant", hub]).filter(
        (pl.col("time") <= pl.col("_at")) & (pl.col("time") > pl.col("_at") - th.fan_window)
    )
    listed = _latest_edges(evidence, ["tenant", hub], th.evidence_max)
    return _findings(
        best.join(listed, on=["tenant", hub]).with_columns(
            account=pl.col(hub),
            typology=pl.lit(name),
            score=strength(pl.col("size") / th.fan_min),
        )
    )


def alike_fans(
    edges: pl.DataFrame, accounts: pl.DataFrame, th: Thresholds, *, inward: bool
) -> pl.DataFrame:
    """Many distinct counterparties moving the identical amount to (from) one account within
    `alike_window` before a new edge. `edges` may be only the rows of the keys the new
    edges touch (``in_key`` / ``out_key`` of `mamori.detect.aml.graph`)."""
    hub, peer = ("dst", "src") if inward else ("src", "dst")
    name = "fan_in_alike" if inward else "fan_out_alike"
    key = ["tenant", hub, "amount"]
    mine = (
        _held(edges, accounts, hub)
        .join(edges.filter("_new").select(key).unique(), on=key, how="semi")
        .sort(*key, "time")
    )
    if mine.height == 0:
        return empty_findings()
    rolled = mine.rolling("time", period=th.alike_window, group_by=key).agg(
        size=pl.col(peer).n_unique(), _new=pl.col("_new").last()
    )
    groups = (  # the best per day: a slow scheme's days each name their own payers
        rolled.filter(pl.col("_new") & (pl.col("size") >= th.alike_min))
        .sort("size", "time")
        .group_by("tenant", hub, pl.col("time").dt.truncate("1d").alias("_day"))
        .last()
        .drop("_day")
    )
    if groups.height == 0:
        return empty_findings()
    evidence = mine.join(groups.select(*key, _at="time"), on=key).filter(
        (pl.col("time") <= pl.col("_at")) & (pl.col("time") > pl.col("_at") - th.alike_window)
    )
    listed = _latest_edges(evidence, [*key, "_at"], th.evidence_max)
    return _findings(
        groups.join(listed, left_on=[*key, "time"], right_on=[*key, "_at"]).with_columns(
            account=pl.col(hub),
            typology=pl.lit(name),
            score=strength(pl.col("size") / th.alike_min),
        )
    )


def pass_through(edges: pl.DataFrame, accounts: pl.DataFrame, th: Thresholds) -> pl.DataFrame:
    """Money in and most of it out again within `pass_window`."""
    ins = _held(edges, accounts, "dst").select(
        "tenant",
        "time",
        "_new",
        "src",
        "dst",
        "amount",
        "event_id",
        account="dst",
        money_in="amount",
        money_out=pl.lit(0.0),
        payer="src",
    )
    outs = _held(edges, accounts, "src").select(
        "tenant",
        "time",
        "_new",
        "src",
        "dst",
        "amount",
        "event_id",
        account="src",
        money_in=pl.lit(0.0),
        money_out="amount",
        payer=pl.lit(None, pl.String),
    )
    flows = _touched(pl.concat([ins, outs]).filter(pl.col("src") != pl.col("dst")), "account").sort(
        "tenant", "account", "time", "money_out"
    )
    if flows.height == 0:
        return empty_findings()
    rolled = flows.rolling("time", period=th.pass_window, group_by=["tenant", "account"]).agg(
        money_in=pl.col("money_in").sum(),
        money_out=pl.col("money_out").sum(),
        payers=pl.col("payer").drop_nulls().n_unique(),
        _new=pl.col("_new").last(),
        _out=(pl.col("money_out") > 0).last(),
    )
    passed = pl.min_horizontal("money_in", "money_out")
    best = (
        rolled.filter(
            pl.col("_new")
            & pl.col("_out")
            & (pl.col("money_in") >= th.pass_min_amount)
            & (pl.col("money_out") >= th.pass_ratio * pl.col("money_in"))
            & (pl.col("payers") >= th.pass_min_payers)
        )
        .with_columns(score=strength(passed / th.pass_min_amount), size=pl.col("payers"))
        .sort("score", "time")
        .group_by("tenant", "account")
        .last()
    )
    if best.height == 0:
        return empty_findings()
    evidence = flows.join(best.select("tenant", "account", _at="time"), on=["tenant", "account"])
    evidence = evidence.filter(
        (pl.col("time") <= pl.col("_at")) & (pl.col("time") > pl.col("_at") - th.pass_window)
    )
    listed = _latest_edges(evidence, ["tenant", "account"], th.evidence_max)
    return _findings(
        best.join(listed, on=["tenant", "account"]).with_columns(typology=pl.lit("pass_through"))
    )


def paths(
    edges: pl.DataFrame,
    accounts: pl.DataFrame,
    th: Thresholds,
    watch_since: datetime | None,
) -> tuple[pl.DataFrame, int]:
    """Cycles and chains of new accounts ending in a new edge, found by extending paths
    backwards one hop at a time; and how many partial paths were cut at `max_paths`."""
    if watch_since is None:
        return empty_findings(), 0
    new_from = watch_since + th.new_for
    young = accounts.filter(pl.col("first_seen") >= new_from).select(
        head_key="key", _first="first_seen"
    )
    hops = edges.select(
        head_key="dst_key",
        e_src_key="src_key",
        e_src="src",
        e_time="time",
        e_amount="amount",
        e_id="event_id",
    )
    found = []
    cut = 0
    walk = edges.filter("_new").select(
        "tenant",
        head="src",
        head_key="src_key",
        tail="dst",
        head_time="time",
        head_amount="amount",
        nodes=pl.concat_list("src", "dst"),
        path=pl.concat_list(_EDGE_STRUCT),
        all_new=pl.lit(True),
    )
    for hop in range(2, th.max_hops + 1):
        step = (
            walk.join(young, on="head_key", how="left")
            .with_columns(
                all_new=pl.col("all_new")
                & pl.col("_first").is_not_null()
                & (pl.col("head_time") - pl.col("_first") <= th.new_for)
            )
            .drop("_first")
            .join(hops, on="head_key")
            .filter(
                (pl.col("e_time") <= pl.col("head_time"))
                & (pl.col("e_time") >= pl.col("head_time") - th.hop_within)
                & (pl.col("e_amount") >= pl.col("head_amount"))
                & (pl.col("head_amount") >= th.retention * pl.col("e_amount"))
            )
        )
        edge = pl.struct(src="e_src", dst="head", amount="e_amount", time="e_time", event_id="e_id")
        step = step.with_columns(path=pl.concat_list(edge, "path"))
        closes = step.filter(pl.col("e_src") == pl.col("tail"))
        if hop >= th.cycle_min and closes.height:
            found.append(
                closes.select(
                    "tenant",
                    "path",
                    typology=pl.lit("cycle"),
                    size=pl.lit(hop),
                    account=pl.col("nodes").list.slice(0, hop),
                ).explode("account")
            )
        walk = step.filter(
            (pl.col("e_src") != pl.col("tail")) & ~pl.col("nodes").list.contains(pl.col("e_src"))
        ).select(
            "tenant",
            "tail",
            "path",
            "all_new",
            head="e_src",
            head_key="e_src_key",
            head_time="e_time",
            head_amount="e_amount",
            nodes=pl.concat_list("e_src", "nodes"),
        )
        if hop >= th.chain_hops:
            chains = walk.filter("all_new")
            if chains.height:
                found.append(
                    chains.select(
                        "tenant",
                        "path",
                        typology=pl.lit("new_account_chain"),
                        size=pl.lit(hop),
                        account=pl.col("nodes").list.slice(1, hop - 1),
                    ).explode("account")
                )
        if walk.height > th.max_paths:
            cut += walk.height - th.max_paths
            walk = walk.sort("head_time").tail(th.max_paths)
        if walk.height == 0:
            break
    if not found:
        return empty_findings(), cut
    minimum = {"cycle": th.cycle_min, "new_account_chain": th.chain_hops}
    out = (
        pl.concat(found)
        .join(accounts.select("tenant", "account"), on=["tenant", "account"], how="semi")
        .with_columns(
            time=pl.col("path").list.last().struct.field("time"),
            score=strength(
                pl.col("size") / pl.col("typology").replace_strict(minimum, return_dtype=pl.Int64)
            ),
        )
        .sort("size", "time")
        .group_by("tenant", "account", "typology")
        .last()
        .rename({"path": "edges"})
    )
    return _findings(out), cut


def rings(edges: pl.DataFrame, accounts: pl.DataFrame, th: Thresholds) -> pl.DataFrame:
    """Accounts paying out from one shared device or address."""
    found = []
    for column, name, minimum in (
        ("device", "shared_device_ring", th.device_ring_min),
        ("ip", "shared_ip_ring", th.ip_ring_min),
    ):
        mine = _touched(_held(edges, accounts, "src").filter(pl.col(column).is_not_null()), column)
        groups = (
            mine.group_by("tenant", column)
            .agg(size=pl.col("src").n_unique(), time=pl.col("time").max())
            .filter(pl.col("size") >= minimum)
        )
        if groups.height == 0:
            continue
        members = mine.join(groups.select("tenant", column), on=["tenant", column])
        listed = _latest_edges(members, ["tenant", column], th.evidence_max)
        found.append(
            _findings(
                members.select("tenant", column, account="src")
                .unique()
                .join(groups, on=["tenant", column])
                .join(listed, on=["tenant", column])
                .with_columns(
                    typology=pl.lit(name),
                    score=strength(pl.col("size") / minimum),
                    shared=pl.lit(f"{column}:") + pl.col(column),
                )
                .sort("size", "time")
                .group_by("tenant", "account")
                .last()
            )
        )
    return pl.concat(found) if found else empty_findings()
