"""The AML detector: laundering typologies on the transfer graph, batch by batch.

Each `transaction` batch adds its transfers to the windowed graph
(`mamori.detect.aml.graph`), then every typology (`mamori.detect.aml.typologies`) is scored
for the accounts the new transfers touch, over the whole window: a fan-in that builds up
over three batches fires on the third. An account raises at most one alert per typology
per `cooldown` bucket. The alert is on the account; `related` names the other accounts
(and the shared device or address) of the evidence, `event_ids` its transfers, and
`explanation` is compact JSON of the evidence subgraph::

    {"typology": "fan_in", "account": "A7", "score": 0.62, "size": 13,
     "accounts": ["A7", "X1", ...], "edges": [{"src": "X1", "dst": "A7", "amount": 900.0,
     "time": "2026-11-08T07:12:09Z", "event_id": "..."}, ...]}

One typology alone is of medium severity (it joins other signals on the account to raise
an incident), high from a score of `high_from`.

>>> import polars as pl, datetime as dt
>>> from mamori.events.schema import conform
>>> t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
>>> credits = conform(pl.DataFrame({"event_id": [f"c{i}" for i in range(12)],
...     "tenant": "bank-a", "time": [t0 + dt.timedelta(minutes=5 * i) for i in range(12)],
...     "account": "MULE1", "counterparty": [f"V{i}" for i in range(12)],
...     "amount": 900.0, "direction": "credit"}), "transaction")
>>> alerts = AmlGraph().process(credits)
>>> alerts.select("rule_id", "entity_id", "score").rows()
[('aml-fan_in', 'MULE1', 0.56), ('aml-fan_in_alike', 'MULE1', 0.94)]
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.aml.graph import TransferGraph, edges_of, held_of
from mamori.detect.aml.typologies import (
    STAGES,
    Thresholds,
    alike_fans,
    fans,
    pass_through,
    paths,
    rings,
)
from mamori.detect.base import Detector, Snapshot, make_alerts, once_per_bucket
from mamori.events.schema import empty_alerts

TITLES: dict[str, str] = {
    "fan_in": "Fan-in: many distinct payers into one account within a day",
    "fan_in_alike": "Fan-in of identical amounts from distinct payers",
    "fan_out": "Fan-out: many distinct payees from one account within a day",
    "fan_out_alike": "Fan-out of identical amounts to distinct payees",
    "pass_through": "Rapid pass-through: money in and out again within hours",
    "cycle": "Cycle: money returned to its origin through several accounts",
    "new_account_chain": "Chain of new accounts passing money on",
    "shared_device_ring": "Ring of accounts paying from one shared device",
    "shared_ip_ring": "Ring of accounts paying from one shared IP address",
}


class AmlGraph(Detector):
    """Fan-in/out, pass-through, cycles, new-account chains and shared-device rings."""

    name: ClassVar[str] = "aml"
    kinds: ClassVar[frozenset[str]] = frozenset({"transaction"})

    def __init__(
        self,
        *,
        thresholds: Thresholds | None = None,
        window: timedelta = timedelta(days=90),
        cooldown: timedelta = timedelta(hours=24),
        high_from: float = 0.9,
        max_edges: int = 5_000_000,
        max_accounts: int = 5_000_000,
        skip_channels: tuple[str, ...] = ("swift",),
    ) -> None:
        self.thresholds = thresholds or Thresholds()
        self.cooldown, self.high_from = cooldown, high_from
        self.skip_channels = skip_channels
        self.graph = TransferGraph(window=window, max_edges=max_edges, max_accounts=max_accounts)
        self.fired: pl.DataFrame | None = None
        self.paths_cut = 0

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0 or batch["kind"][0] != "transaction":
            return empty_alerts()
        new = self.graph.add(edges_of(batch, self.skip_channels), held_of(batch))
        if new.height == 0:
            return empty_alerts()
        findings = self.score(new)
        self.graph.evict()
        if findings.height == 0:
            return empty_alerts()
        kept, self.fired = once_per_bucket(
            findings.sort("time", "account", "typology"),
            ["tenant", "account", "typology"],
            self.cooldown,
            self.fired,
        )
        return self._alerts(kept)

    def score(self, new: pl.DataFrame) -> pl.DataFrame:
        """Findings (`typologies.FINDING`) that the `new` edges make true, over the window.

        Each scorer gets only the edges it can use: the time-bounded ones (fans,
        pass-through, paths) the rows within their look-back before the batch's earliest new
        edge; the identical-amount fans the rows of the (payee or payer, amount) keys the
        new edges touch; rings each payer's latest payment per device and address
        (`TransferGraph.shared`). Sizes, scores and times are those of scoring over the
        whole window; a ring's evidence shows one payment per member.
        """
        edges, accounts, th = self.graph.edges, self.graph.accounts, self.thresholds
        ids = new["event_id"].implode()
        first = pl.lit(new["time"].min())

        def marked(rows: pl.DataFrame) -> pl.DataFrame:
            return rows.with_columns(_new=pl.col("event_id").is_in(ids))

        def since(back: timedelta) -> pl.DataFrame:
            return marked(edges.filter(pl.col("time") > first - back))

        found_paths, cut = paths(
            since(th.hop_within * (th.max_hops - 1) + timedelta(microseconds=1)),
            accounts,
            th,
            self.graph.watch_since,
        )
        self.paths_cut += cut
        fan_edges = since(th.fan_window)
        alike = {
            inward: marked(edges.filter(pl.col(key).is_in(new[key].implode())))
            for inward, key in ((True, "in_key"), (False, "out_key"))
        }
        shared = marked(self.graph.shared)
        return pl.concat(
            [
                fans(fan_edges, accounts, th, inward=True),
                fans(fan_edges, accounts, th, inward=False),
                alike_fans(alike[True], accounts, th, inward=True),
                alike_fans(alike[False], accounts, th, inward=False),
                pass_through(since(th.pass_window), accounts, th),
                found_paths,
                rings(shared, accounts, th),
            ]
        )

    def _alerts(self, kept: pl.DataFrame) -> pl.DataFrame:
        edges = kept.select("tenant", "account", "typology", "_bucket", "edges").explode("edges")
        edges = edges.unnest("edges")
        accounts = (
            pl.concat(
                [
                    edges.select("tenant", "account", "typology", "_bucket", other="src"),
                    edges.select("tenant", "account", "typology", "_bucket", other="dst"),
                ]
            )
            .unique(maintain_order=True)
            .group_by("tenant", "account", "typology", "_bucket", maintain_order=True)
            .agg(
                accounts=pl.col("other"),
                others=(pl.lit("account:") + pl.col("other")).filter(
                    pl.col("other") != pl.col("account")
                ),
            )
        )
        keys = ["tenant", "account", "typology", "_bucket"]
        rows = kept.join(accounts, on=keys, how="left", maintain_order="left")
        shown = pl.struct(
            "typology",
            "account",
            pl.col("score").round(3),
            "size",
            "shared",
            "accounts",
            edges=pl.col("edges").list.eval(
                pl.struct(
                    pl.element().struct.field("src"),
                    pl.element().struct.field("dst"),
                    pl.element().struct.field("amount"),
                    pl.element().struct.field("time").dt.to_string("%Y-%m-%dT%H:%M:%SZ"),
                    pl.element().struct.field("event_id"),
                )
            ),
        )
        alerts = rows.select(
            "time",
            "tenant",
            rule_id=pl.lit("aml-") + pl.col("typology"),
            title=pl.col("typology").replace_strict(TITLES, return_dtype=pl.String),
            severity=pl.when(pl.col("score") >= self.high_from)
            .then(pl.lit("high"))
            .otherwise(pl.lit("medium")),
            score=pl.col("score").round(2),
            stage=pl.col("typology").replace_strict(STAGES, return_dtype=pl.String),
            entity_type=pl.lit("account"),
            entity_id="account",
            related=pl.when(pl.col("shared").is_null())
            .then("others")
            .otherwise(pl.concat_list("others", "shared")),
            event_ids=pl.col("edges").list.eval(pl.element().struct.field("event_id")),
            explanation=shown.struct.json_encode(),
            _bucket="_bucket",
        )
        return make_alerts(alerts, self.name, ["rule_id", "tenant", "entity_id", "_bucket"])

    def snapshot(self) -> Snapshot:
        state = self.graph.snapshot()
        if self.fired is not None:
            state["frames"]["fired"] = self.fired
        state["paths_cut"] = self.paths_cut
        return state

    def restore(self, state: Snapshot) -> None:
        self.graph.restore(state)
        self.fired = state["frames"].get("fired")
        self.paths_cut = int(state.get("paths_cut", 0))
