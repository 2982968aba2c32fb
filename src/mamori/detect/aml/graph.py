"""The transfer graph a bank sees on its stream: time-windowed edges and its own accounts.

A transfer is an edge from the paying account to the receiving one. A `transaction` row
names the bank's own `account`, the `counterparty` and a `direction`; a debit is an edge
account → counterparty, a credit counterparty → account. Rows without a counterparty (card
purchases, cash) are not transfers and stay out; declined rows too, and interbank
settlement on the bank's nostro accounts (channel ``swift`` by default in the detector):
every correspondent bank pays into those, a fan-in by nature. When both legs of one
transfer between two of the bank's accounts arrive in one batch (a debit and a credit with
the same accounts, amount and time), they are one edge.

The state is bounded: once a batch has been scored (`evict`), edges older than `window`
before the newest are evicted, and beyond `max_edges` the oldest go first; either way they
are counted in `evicted_edges`. The bank's own accounts (those seen in the `account`
column) keep their first and last sighting, at most `max_accounts` of them, least recently
seen evicted first (`evicted_accounts`).

Each edge carries 64-bit keys, hashes of (tenant, payer) and (tenant, payee), and of each
with the amount, as the bank's accounts carry (tenant, account): the scorers pick their few
rows out of millions, and tell the bank's own accounts, with integer membership tests (a
collision needs two of some million keys to share 64 bits). The keys are recomputed on
`restore`, never stored. Beside the edges, `shared` keeps a bounded summary for rings:
each payer's latest payment per device and per address it paid from (one row per pair, so
a ring's size never needs the millions of edges behind it), rebuilt on `restore`.

>>> import polars as pl, datetime as dt
>>> from mamori.events.schema import conform
>>> t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
>>> rows = conform(pl.DataFrame({"event_id": ["a", "b", "c"], "tenant": "bank-a",
...     "time": [t0, t0, t0 + dt.timedelta(days=40)], "account": ["A1", "A2", "A1"],
...     "counterparty": ["A2", "A1", "X9"], "amount": [50.0, 50.0, 9.0],
...     "direction": ["debit", "credit", "debit"]}), "transaction")
>>> graph = TransferGraph(window=dt.timedelta(days=30))
>>> graph.add(edges_of(rows[:2]), held_of(rows[:2])).height, graph.edges.height
(1, 1)
>>> _ = graph.add(edges_of(rows[2:]), held_of(rows[2:]))
>>> graph.edges.height, graph.evict(), graph.edges["dst"].to_list(), graph.accounts.height
(2, 1, ['X9'], 2)
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl

from mamori.events.schema import TIME

EDGE: dict[str, pl.DataType] = {
    "tenant": pl.String(),
    "src": pl.String(),
    "dst": pl.String(),
    "amount": pl.Float64(),
    "time": TIME,
    "event_id": pl.String(),
    "device": pl.String(),  # the device and address the paying side used, where known
    "ip": pl.String(),
}

def account_key(column: str) -> pl.Expr:
    """A 64-bit key of (tenant, account in `column`), the same whichever column holds it."""
    return pl.struct("tenant", pl.col(column).alias("account")).hash(17)


KEYS: dict[str, pl.Expr] = {
    "in_key": pl.struct("tenant", "dst", "amount").hash(17),  # one payee, one amount
    "out_key": pl.struct("tenant", "src", "amount").hash(17),  # one payer, one amount
    "src_key": account_key("src"),
    "dst_key": account_key("dst"),
}

ACCOUNT: dict[str, pl.DataType] = {
    "tenant": pl.String(),
    "account": pl.String(),
    "first_seen": TIME,
    "last_seen": TIME,
}


def edges_of(batch: pl.DataFrame, skip_channels: tuple[str, ...] = ()) -> pl.DataFrame:
    """The transfers of a `transaction` batch as edges (schema `EDGE`), both legs merged;
    rows on `skip_channels` (interbank settlement such as ``swift``) left out."""
    debit = pl.col("direction") == "debit"
    return (
        batch.filter(
            pl.col("direction").is_in(["debit", "credit"])
            & (pl.col("channel").is_null() | ~pl.col("channel").is_in(list(skip_channels)))
            & pl.col("account").is_not_null()
            & pl.col("counterparty").is_not_null()
            & pl.col("amount").is_not_null()
            & (pl.col("status").is_null() | (pl.col("status") != "declined"))
        )
        .select(
            "tenant",
            src=pl.when(debit).then("account").otherwise("counterparty"),
            dst=pl.when(debit).then("counterparty").otherwise("account"),
            amount="amount",
            time="time",
            event_id="event_id",
            device=pl.when(debit).then("device"),
            ip=pl.when(debit).then("ip"),
        )
        .sort("time", "device", nulls_last=True, maintain_order=True)
        .unique(["tenant", "src", "dst", "amount", "time"], keep="first", maintain_order=True)
        .with_columns(**KEYS)
    )


def latest_per_device(edges: pl.DataFrame) -> pl.DataFrame:
    """Each payer's last edge (in frame order: append in time order) per device and per
    address: the rows of `edges` that show who paid from where, one per pair."""
    return pl.concat(
        [
            edges.filter(pl.col(column).is_not_null()).unique(
                ["tenant", column, "src"], keep="last", maintain_order=False
            )
            for column in ("device", "ip")
        ]
    ).unique(["tenant", "event_id"], keep="first", maintain_order=False)


def held_of(batch: pl.DataFrame) -> pl.DataFrame:
    """The bank's own accounts a batch names, with their first and last time in it."""
    return (
        batch.filter(pl.col("account").is_not_null())
        .group_by("tenant", "account")
        .agg(first_seen=pl.col("time").min(), last_seen=pl.col("time").max())
        .select(list(ACCOUNT))
    )


class TransferGraph:
    """Windowed transfer edges and the bank's own accounts, bounded in memory."""

    def __init__(
        self,
        *,
        window: timedelta = timedelta(days=90),
        max_edges: int = 5_000_000,
        max_accounts: int = 5_000_000,
    ) -> None:
        self.window, self.max_edges, self.max_accounts = window, max_edges, max_accounts
        self.edges = pl.DataFrame(schema=EDGE).with_columns(**KEYS)
        self.shared = self.edges
        self.accounts = pl.DataFrame(schema=ACCOUNT).with_columns(key=account_key("account"))
        self.watch_since: datetime | None = None
        self.evicted_edges = 0
        self.evicted_accounts = 0

    def add(self, edges: pl.DataFrame, held: pl.DataFrame) -> pl.DataFrame:
        """Add a batch's edges (from `edges_of`) and accounts; return the new edges (those
        not already held: a batch seen twice adds nothing). Call `evict` once scored."""
        if held.height:
            earliest = held["first_seen"].min()
            assert isinstance(earliest, datetime)
            if self.watch_since is None or earliest < self.watch_since:
                self.watch_since = earliest
            self._add_accounts(held)
        if edges.height == 0:
            return edges
        recent = self.edges.filter(pl.col("time") >= pl.lit(edges["time"].min()))
        fresh = edges.join(
            recent.select("tenant", "event_id"), on=["tenant", "event_id"], how="anti"
        )
        if fresh.height == 0:
            return fresh
        self.edges = pl.concat([self.edges, fresh])
        self.shared = latest_per_device(
            pl.concat([self.shared, fresh.sort("time", maintain_order=True)])
        )
        return fresh

    def evict(self) -> int:
        """Drop edges older than `window` before the newest, then the oldest beyond
        `max_edges`; return how many went."""
        if self.edges.height == 0:
            return 0
        newest = self.edges["time"].max()
        keep = self.edges.filter(pl.col("time") > pl.lit(newest) - self.window)
        if keep.height > self.max_edges:
            keep = keep.sort("time", maintain_order=True).tail(self.max_edges)
        gone = self.edges.height - keep.height
        self.evicted_edges += gone
        self.edges = keep
        if gone:
            self.shared = self.shared.filter(pl.col("time") >= pl.lit(keep["time"].min()))
        return gone

    def _add_accounts(self, held: pl.DataFrame) -> None:
        merged = (
            pl.concat([self.accounts.select(list(ACCOUNT)), held])
            .group_by("tenant", "account", maintain_order=True)
            .agg(pl.col("first_seen").min(), pl.col("last_seen").max())
        )
        if merged.height > self.max_accounts:
            kept = merged.sort("last_seen", descending=True).head(self.max_accounts)
            self.evicted_accounts += merged.height - kept.height
            merged = kept
        self.accounts = merged.with_columns(key=account_key("account"))

    def snapshot(self) -> dict[str, Any]:
        return {
            "frames": {
                "edges": self.edges.select(list(EDGE)),
                "accounts": self.accounts.select(list(ACCOUNT)),
            },
            "watch_since": None if self.watch_since is None else self.watch_since.isoformat(),
            "evicted_edges": self.evicted_edges,
            "evicted_accounts": self.evicted_accounts,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self.edges = state["frames"]["edges"].select(list(EDGE)).with_columns(**KEYS)
        self.shared = latest_per_device(self.edges.sort("time", maintain_order=True))
        self.accounts = state["frames"]["accounts"].with_columns(key=account_key("account"))
        since = state.get("watch_since")
        self.watch_since = None if since is None else datetime.fromisoformat(since)
        self.evicted_edges = int(state.get("evicted_edges", 0))
        self.evicted_accounts = int(state.get("evicted_accounts", 0))
