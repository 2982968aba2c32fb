"""Entity links learned from events: which account and card belong to which customer, which
address a host has, which workstation an employee uses.

The incident builder uses these links to group alerts raised on different but related
entities. Links are kept as (a, b, last_seen) rows with "type:id" keys, bounded by
`max_links` (least recently seen dropped first).

>>> import polars as pl, datetime as dt
>>> from mamori.events.schema import conform
>>> batch = conform(pl.DataFrame({"time": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)],
...     "tenant": ["b"], "customer": ["C1"], "account": ["A1"], "card": [None]}), "transaction")
>>> links = EntityLinks(); links.observe(batch); links.frame().select("a", "b").rows()
[('customer:C1', 'account:A1')]
"""

from __future__ import annotations

import polars as pl

from mamori.detect.base import Snapshot

#: Per kind: (column, entity type, column, entity type) pairs that name the same party.
LINK_PAIRS: dict[str, list[tuple[str, str, str, str]]] = {
    "transaction": [
        ("customer", "customer", "account", "account"),
        ("customer", "customer", "card", "card"),
    ],
    "flow": [("src_ip", "ip", "src_host", "host"), ("dst_ip", "ip", "dst_host", "host")],
    "auth": [("user", "user", "host", "host")],
    # a network logon ties the account to the address it came from
    "winlog": [("TargetUserName", "user", "IpAddress", "ip")],
}

#: Values that name no real entity (Windows writes "-" for "none", loopback for local logons).
PLACEHOLDERS = ["-", "", "::1", "127.0.0.1", "0.0.0.0"]


def canonical(key: pl.Expr) -> pl.Expr:
    r"""Entity keys in one spelling: Windows account names are case-insensitive and often
    qualified ('BANKA\MSato', 'msato@banka.jp'), so user keys become 'user:msato'.

    >>> pl.select(canonical(pl.lit("user:BANKA\\MSato"))).item()
    'user:msato'
    """
    name = key.str.replace(r"^user:(?:[^\\]*\\)?", "").str.replace(r"@.*$", "")
    return (
        pl.when(key.str.starts_with("user:"))
        .then(pl.lit("user:") + name.str.to_lowercase())
        .otherwise(key)
    )


_SCHEMA: dict[str, pl.DataType] = {
    "tenant": pl.String(),
    "a": pl.String(),
    "b": pl.String(),
    "last_seen": pl.Datetime("us", "UTC"),
}


class EntityLinks:
    """A bounded table of entity pairs seen together in events."""

    def __init__(self, max_links: int = 5_000_000) -> None:
        self.max_links = max_links
        self.links = pl.DataFrame(schema=_SCHEMA)

    def observe(self, batch: pl.DataFrame) -> None:
        """Learn the links one batch shows."""
        if batch.height == 0:
            return
        pairs = LINK_PAIRS.get(batch["kind"][0], [])
        found = [
            batch.filter(
                pl.col(ca).is_not_null()
                & pl.col(cb).is_not_null()
                & ~pl.col(ca).cast(pl.String).is_in(PLACEHOLDERS)
                & ~pl.col(cb).cast(pl.String).is_in(PLACEHOLDERS)
            )
            .group_by("tenant", ca, cb)
            .agg(last_seen=pl.col("time").max())
            .select(
                "tenant",
                a=canonical(pl.lit(f"{ta}:") + pl.col(ca).cast(pl.String)),
                b=canonical(pl.lit(f"{tb}:") + pl.col(cb).cast(pl.String)),
                last_seen="last_seen",
            )
            for ca, ta, cb, tb in pairs
            if ca in batch.columns and cb in batch.columns
        ]
        if not found:
            return
        merged = (
            pl.concat([self.links, *found])
            .group_by("tenant", "a", "b")
            .agg(pl.col("last_seen").max())
        )
        if merged.height > self.max_links:
            merged = merged.sort("last_seen", descending=True).head(self.max_links)
        self.links = merged.sort("tenant", "a", "b")

    def frame(self, tenant: str | None = None) -> pl.DataFrame:
        """The links, optionally of one tenant."""
        return self.links if tenant is None else self.links.filter(pl.col("tenant") == tenant)

    def snapshot(self) -> Snapshot:
        return {"frames": {"links": self.links}}

    def restore(self, state: Snapshot) -> None:
        self.links = state["frames"]["links"]
