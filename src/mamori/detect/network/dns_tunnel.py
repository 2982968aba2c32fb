"""DNS tunnelling: data smuggled out in the names a host asks its resolver for.

Tunnels (iodine, dnscat2, DNS-based C2) encode data in long, random-looking labels under
one domain the attacker controls, and ask for a new name every time. The detector reads
the `query` column of DNS flows (service `dns` or port 53), splits each name into its
registered domain (the last two labels, three under `co.uk`-style suffixes) and the
subdomain, and measures the subdomain: its longest label, its length, and the Shannon
entropy of its characters (bits per character; random base32 or hex is near 4-5, words
near 3).

Over a true sliding window (10 minutes), per source and domain:

* **NET-DNS-TUNNEL** (high): at least `min_names` distinct *suspicious* subdomains (a label
  of `min_label` characters or a subdomain of `min_length`, with entropy at least
  `min_entropy`);
* **NET-DNS-RATE** (medium): at least `max_unique` distinct subdomains of any shape (a
  tunnel with short labels still needs a new name per query).

CDN and cloud names (`d1a2b3c4d5e6f7.cloudfront.net`) are random too, but one host asks for
a handful of them, again and again; reverse lookups (`in-addr.arpa`) and `allow_domains`
are ignored.

Limits: the source is whoever asked the question in the flow; when flows are seen only
between the bank's resolver and the internet, the resolver is the source and the alert
names it, not the client behind it. Encrypted DNS (DoH) carries no `query`.

>>> from tests.conftest import batch
>>> asks = [{"src_ip": "10.4.0.2", "dst_ip": "10.0.0.53", "dst_port": 53, "service": "dns",
...          "query": f"{i:04x}9f2c7a1be03d4f6a8c9e1b2d3f4a5c6e.t.example-c2.net",
...          "minute": i / 10}
...         for i in range(25)]
>>> DnsTunnel().process(batch("flow", asks))["rule_id"].to_list()
['NET-DNS-TUNNEL']
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.network.state import NetworkDetector
from mamori.detect.network.window import evidence
from mamori.events.schema import empty_alerts

_GROUP = ["tenant", "src_ip", "_domain"]
_DOMAIN = r"([^.]+\.(?:(?:co|com|net|org|gov|ac|edu|or|ne)\.[a-z]{2}|[^.]+))$"


def entropy(names: pl.DataFrame, column: str) -> pl.DataFrame:
    """Shannon entropy (bits per character, dots left out) of each distinct value of `column`.

    >>> entropy(pl.DataFrame({"s": ["aaaa", "abcd"]}), "s").sort("s")["_entropy"].to_list()
    [0.0, 2.0]
    """
    chars = (
        names.select(column)
        .unique()
        .with_columns(_c=pl.col(column).str.replace_all(".", "", literal=True).str.split(""))
        .explode("_c")
        .group_by(column, "_c")
        .len()
    )
    p = pl.col("len") / pl.col("len").sum().over(column)
    return chars.group_by(column).agg(_entropy=(p * p.log(2)).sum().abs())  # sum is ≤ 0


class DnsTunnel(NetworkDetector):
    """Many long random names, or very many unique names, under one domain from one source."""

    name: ClassVar[str] = "dns-tunnel"
    kinds: ClassVar[frozenset[str]] = frozenset({"flow"})

    def __init__(
        self,
        window: timedelta = timedelta(minutes=10),
        min_names: int = 20,
        min_label: int = 20,
        min_length: int = 40,
        min_entropy: float = 3.2,
        max_unique: int = 300,
        allow_domains: tuple[str, ...] = ("in-addr.arpa", "ip6.arpa"),
        cooldown: timedelta = timedelta(hours=1),
    ) -> None:
        super().__init__()
        self.window, self.min_names, self.max_unique = window, min_names, max_unique
        self.min_label, self.min_length, self.min_entropy = min_label, min_length, min_entropy
        self.allow_domains, self.cooldown_every = list(allow_domains), cooldown

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        name = pl.col("query").str.to_lowercase().str.strip_chars_end(".")
        asks = (
            batch.filter(
                pl.col("query").is_not_null()
                & pl.col("src_ip").is_not_null()
                & ((pl.col("service") == "dns") | (pl.col("dst_port") == 53)).fill_null(False)
            )
            .select("time", "event_id", "tenant", "src_ip", _name=name)
            .with_columns(_domain=pl.col("_name").str.extract(_DOMAIN))
            .filter(pl.col("_domain").is_not_null() & ~pl.col("_domain").is_in(self.allow_domains))
            .with_columns(
                _sub=pl.col("_name").str.head(
                    pl.col("_name").str.len_chars() - pl.col("_domain").str.len_chars() - 1
                )
            )
            .filter(pl.col("_sub").str.len_chars() > 0)
        )
        found = [self._tunnel(asks), self._rate(asks)]
        found = [a for a in found if a.height]
        return pl.concat(found) if found else empty_alerts()

    def _tunnel(self, asks: pl.DataFrame) -> pl.DataFrame:
        longest = pl.col("_sub").str.split(".").list.eval(pl.element().str.len_chars()).list.max()
        long = asks.filter(
            (pl.col("_sub").str.len_chars() >= self.min_length) | (longest >= self.min_label)
        )
        if long.height:
            long = long.join(entropy(long, "_sub"), on="_sub").filter(
                pl.col("_entropy") >= self.min_entropy
            )
        else:
            long = long.with_columns(_entropy=pl.lit(None, pl.Float64))
        counted = self.count_distinct("tunnel", long, _GROUP, ["_sub"], self.window, self.min_names)
        return self._alerts(
            counted.fires,
            counted.sightings,
            "tunnel",
            rule_id="NET-DNS-TUNNEL",
            title="DNS tunnelling: many long random names under one domain",
            severity="high",
            what=f"long random subdomains (≥ {self.min_names}); mean entropy {{}} bits/char",
            extra=pl.col("_entropy").mean().round(2).alias("_detail"),
        )

    def _rate(self, asks: pl.DataFrame) -> pl.DataFrame:
        counted = self.count_distinct("rate", asks, _GROUP, ["_sub"], self.window, self.max_unique)
        return self._alerts(
            counted.fires,
            counted.sightings,
            "rate",
            rule_id="NET-DNS-RATE",
            title="Very many unique DNS names under one domain from one host",
            severity="medium",
            what=f"unique subdomains (≥ {self.max_unique}); longest {{}} characters",
            extra=pl.col("_sub").str.len_chars().max().alias("_detail"),
        )

    def _alerts(
        self,
        fires: pl.DataFrame,
        sightings: pl.DataFrame,
        name: str,
        *,
        rule_id: str,
        title: str,
        severity: str,
        what: str,
        extra: pl.Expr,
    ) -> pl.DataFrame:
        fires = self.cooldown(fires, _GROUP, self.cooldown_every, name)
        if fires.height == 0:
            return empty_alerts()
        shown = evidence(
            fires,
            sightings,
            _GROUP,
            self.window,
            [extra, pl.col("_sub").last().alias("_example")],
        )
        minutes = int(self.window.total_seconds() // 60)
        return self.alerts(
            shown,
            rule_id=rule_id,
            title=title,
            severity=severity,
            score=0.75 if severity == "high" else 0.5,
            stage="exfiltration",
            attack=["T1071.004", "T1048.003"],
            entity_type="ip",
            entity=pl.col("src_ip"),
            related=[pl.lit("domain:") + pl.col("_domain")],
            explanation=pl.format(
                f"{{}} distinct {what}, from {{}} under {{}} within {minutes}m; e.g. {{}}",
                pl.col("_distinct"),
                pl.col("_detail"),
                pl.col("src_ip"),
                pl.col("_domain"),
                pl.col("_example"),
            ),
            key=["_domain", "_bucket"],
        )
