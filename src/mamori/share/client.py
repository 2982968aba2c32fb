"""Pulling from sector peers over TAXII 2.1, and matching what they share.

`TaxiiPeer` talks to one TAXII 2.1 server with a bearer token over an `httpx.Client`
(FastAPI's TestClient is one, so tests run it in-process): `pull` follows ``next`` pages
from an ``added_after`` mark, `push` posts an envelope.

`SharedIntel` is the detector at every subscriber: objects pulled go straight into it.
Indicators on addresses, names, URLs and hashes load through the intel package's STIX
reader into an `IntelMatcher`; salted fraud indicators (mule accounts, device
fingerprints) are matched by hashing the distinct accounts, counterparties and devices of a
transaction batch with the sector's salt; crypto wallets match counterparties in clear.

>>> shared = SharedIntel(salt="s3cret")
>>> from mamori.share.export import pattern
>>> shared.add([{"type": "indicator", "spec_version": "2.1",
...     "id": "indicator--4a1d0bb8-5c5e-4f57-9a71-0f5d1c6f7f11", "created":
...     "2026-11-02T00:00:00Z", "modified": "2026-11-02T00:00:00Z", "valid_from":
...     "2026-11-02T00:00:00Z", "pattern_type": "stix",
...     "pattern": pattern("account", "MULE-77", "s3cret")}])
1
>>> from mamori.events.schema import conform
>>> tx = conform(pl.DataFrame({"event_id": ["t1"], "tenant": ["bank-b"], "time": [0],
...     "customer": ["c9"], "counterparty": ["mule-77"]}), "transaction")
>>> shared.process(tx)["title"].to_list()
['Sector-shared account indicator matched on counterparty']
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import httpx
import orjson
import polars as pl

from mamori.detect.base import Detector, Snapshot, make_alerts, once_per_bucket
from mamori.detect.intel import IntelMatcher, IntelSet
from mamori.detect.intel.stix import from_bundle
from mamori.events.schema import TIME, empty_alerts
from mamori.share.export import (
    SALTED,
    WALLET_TYPE,
    bundle,
    received_levels,
    salted,
    stricter,
)
from mamori.share.taxii import MEDIA_TYPE


class TaxiiPeer:
    """One TAXII 2.1 server of the sector, reached with a bearer token."""

    def __init__(self, http: httpx.Client, token: str, root: str = "/taxii2/sector/") -> None:
        self.http, self.root = http, root.rstrip("/") + "/"
        self.headers = {"Authorization": f"Bearer {token}", "Accept": MEDIA_TYPE}

    def _check(self, response: httpx.Response) -> Any:
        if response.status_code >= 400:
            raise PeerError(f"{response.request.method} {response.request.url}: "
                            f"{response.status_code} {response.text[:200]}")
        return orjson.loads(response.content)

    def collections(self) -> list[dict[str, Any]]:
        """The collections this token can see."""
        got = self.http.get(self.root + "collections/", headers=self.headers)
        return list(self._check(got)["collections"])

    def pull(
        self, collection: str, added_after: str | None = None, limit: int = 500
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Every object added after `added_after`, and the new mark (the last date added)."""
        url = f"{self.root}collections/{collection}/objects/"
        params: dict[str, Any] = {"limit": limit}
        if added_after:
            params["added_after"] = added_after
        objects: list[dict[str, Any]] = []
        mark = added_after
        while True:
            response = self.http.get(url, params=params, headers=self.headers)
            page = self._check(response)
            objects += page.get("objects", [])
            mark = response.headers.get("X-TAXII-Date-Added-Last", mark)
            if not page.get("more"):
                return objects, mark
            params["next"] = page["next"]

    def push(self, collection: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
        """Post objects to a collection; the server's status resource."""
        response = self.http.post(
            f"{self.root}collections/{collection}/objects/",
            content=orjson.dumps({"objects": objects}),
            headers={**self.headers, "Content-Type": MEDIA_TYPE},
        )
        return dict(self._check(response))


class PeerError(RuntimeError):
    """A TAXII peer refused a request or answered with an error."""


_SALTED_PATTERN = re.compile(r"^\[(x-mamori-[a-z-]+):(hash|value) = '([^']+)'\]$")
_KIND_OF = {v: k for k, v in SALTED.items()} | {WALLET_TYPE: "wallet"}
#: Transaction columns each fraud observable is looked for in.
_COLUMNS = {"account": ("counterparty", "account"), "device": ("device",),
            "wallet": ("counterparty",)}
_KEYS = ["tenant", "indicator_id", "entity_id", "column"]


class SharedIntel(Detector):
    """Indicators shared by the sector, matched on every stream kind (see the module text)."""

    name: ClassVar[str] = "sector-intel"
    kinds: ClassVar[frozenset[str]] = IntelMatcher.kinds

    def __init__(self, salt: str, cooldown: timedelta = timedelta(hours=1)) -> None:
        self.salt, self.cooldown = salt, cooldown
        self.intel = IntelSet()
        self.matcher = IntelMatcher(self.intel, cooldown=cooldown)
        self.fraud = pl.DataFrame(schema={"kind": pl.String(), "key": pl.String(),
                                          "indicator_id": pl.String()})
        self.fired = pl.DataFrame(schema={k: pl.String() for k in _KEYS} | {"_bucket": TIME})
        self._hashes: dict[tuple[str, str], str] = {}
        #: The TLP each pulled pattern came in under: pass to `release` as `received`.
        self.received: dict[str, str] = {}

    def add(self, objects: list[dict[str, Any]], source: str = "taxii") -> int:
        """Take pulled objects in; returns how many indicators became matchable."""
        indicators = [o for o in objects if o.get("type") == "indicator" and not o.get("revoked")]
        for key, level in received_levels(objects).items():
            self.received[key] = stricter(level, self.received.get(key))
        fraud_rows, plain = [], []
        for obj in indicators:
            found = _SALTED_PATTERN.match(str(obj.get("pattern", "")))
            if found and found.group(1) in _KIND_OF:
                fraud_rows.append((_KIND_OF[found.group(1)], found.group(3), obj["id"]))
            else:
                plain.append(obj)
        if fraud_rows:
            new = pl.DataFrame(fraud_rows, schema=self.fraud.schema, orient="row")
            self.fraud = pl.concat([self.fraud, new]).unique(maintain_order=True)
        if plain:
            markings = [o for o in objects if o.get("type") == "marking-definition"]
            loaded = from_bundle(bundle(markings + plain), Path(source))
            self.intel.extend(loaded)
            fired = self.matcher.fired
            self.matcher = IntelMatcher(self.intel, cooldown=self.cooldown)
            self.matcher.fired = fired
            return len(fraud_rows) + loaded.loaded
        return len(fraud_rows)

    def _key(self, kind: str, value: str) -> str:
        if kind == "wallet":
            return value
        cached = self._hashes.get((kind, value))
        if cached is None:
            if len(self._hashes) > 1_000_000:
                self._hashes.clear()
            cached = self._hashes[(kind, value)] = salted(self.salt, kind, value)
        return cached

    def _fraud_alerts(self, batch: pl.DataFrame) -> pl.DataFrame:
        hits = []
        for kind, columns in _COLUMNS.items():
            wanted = self.fraud.filter(pl.col("kind") == kind)
            if wanted.height == 0:
                continue
            for column in columns:
                values = batch[column].drop_nulls().unique()
                keys = pl.DataFrame(
                    {"value": values, "key": [self._key(kind, v) for v in values]},
                    schema={"value": pl.String(), "key": pl.String()},
                )
                found = keys.join(wanted, on="key")
                if found.height:
                    hits.append(
                        batch.join(found, left_on=column, right_on="value").select(
                            "event_id", "time", "tenant", "indicator_id",
                            entity_id=pl.col("customer").fill_null(pl.col("account")),
                            column=pl.lit(column), kind=pl.lit(kind), observed=pl.col(column),
                        )
                    )
        if not hits:
            return empty_alerts()
        fires = (
            pl.concat(hits).sort("time")
            .group_by(_KEYS, maintain_order=True)
            .agg(pl.col("time").first(), pl.col("kind").first(), pl.col("observed").first(),
                 event_ids=pl.col("event_id").head(50))
        )
        kept, self.fired = once_per_bucket(fires, _KEYS, self.cooldown, self.fired)
        if kept.height == 0:
            return empty_alerts()
        return make_alerts(
            kept.select(
                "time", "tenant", "event_ids", "entity_id", *_KEYS[1:2], "column", "_bucket",
                rule_id=pl.lit("sector-") + pl.col("kind"),
                title=pl.format("Sector-shared {} indicator matched on {}", "kind", "column"),
                severity=pl.lit("high"),
                score=pl.lit(0.8),
                entity_type=pl.lit("customer"),
                stage=pl.lit("cash_out"),
                attack=pl.lit([], pl.List(pl.String)),
                related=pl.concat_list(pl.col("kind") + pl.lit(":") + pl.col("observed")),
                explanation=pl.format(
                    "{} matched a {} the sector shared (indicator {}, salted hash)",
                    "column", "kind", "indicator_id",
                ),
            ),
            self.name,
            [*_KEYS, "_bucket"],
        )

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        found = [self.matcher.process(batch)] if self.matcher.indicators.height else []
        if batch["kind"][0] == "transaction" and self.fraud.height:
            found.append(self._fraud_alerts(batch))
        return pl.concat(found) if found else empty_alerts()

    def snapshot(self) -> Snapshot:
        return {"frames": {"fired": self.fired, "intel_fired": self.matcher.fired}}

    def restore(self, state: Snapshot) -> None:
        self.fired = state["frames"]["fired"]
        self.matcher.fired = state["frames"]["intel_fired"]
