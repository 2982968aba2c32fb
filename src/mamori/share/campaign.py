"""Systemic early warning: what k or more institutions see within a window is a campaign.

The sector hub watches what members post over TAXII. Every indicator, fraud indicator
(salted account or device, wallet) and ATT&CK technique a member reports, by an indicator,
an attack pattern or a sighting of one, is one report from that member at the time it was
seen. When the same one is reported by `k` or more institutions within `window`, it is a
sector campaign, with a sector early-warning level from how many institutions it reached:

- 3 (elevated) at k institutions, 4 (high) beyond k, 5 (critical) at 2·k or more.

Which institutions are affected stays at the hub: the campaign carries their number, and
names only those in `consent`. Each raised campaign, and each rise of its level, is
published as a STIX ``campaign`` with a ``relationship`` to what it is about, marked
TLP:AMBER, for every member to pull; `campaign_alerts` turns those into alerts (the alert
schema) at each subscriber.

>>> watch = CampaignWatch(k=2)
>>> seen = {"type": "sighting", "id": "sighting--1", "sighting_of_ref":
...     "indicator--a", "first_seen": "2026-11-02T10:00:00Z"}
>>> watch.listen("sector", "bank-a", [seen]), len(watch.listen("sector", "bank-b", [seen]))
([], 1)
>>> watch.campaigns()[0].institutions, watch.campaigns()[0].level, watch.campaigns()[0].named
(2, 3, ())
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import Any

import polars as pl

from mamori.detect.base import make_alerts
from mamori.events.schema import TIME, empty_alerts
from mamori.share.export import TLP2_IDS, sector_identity, tlp_marking
from mamori.share.taxii import (
    Authenticate,
    Collection,
    Journal,
    TaxiiServer,
    parse_timestamp,
    timestamp,
)

_NAMESPACE = uuid.UUID("2f1c7f4e-4c1b-5a66-8e1e-73656374f272")
_REPORTS = {"key": pl.String(), "kind": pl.String(), "label": pl.String(),
            "tenant": pl.String(), "time": TIME}
LEVEL_SEVERITY = {3: "medium", 4: "high", 5: "critical"}
Publish = Callable[[list[dict[str, Any]]], None]


@dataclass(frozen=True)
class SectorCampaign:
    """A campaign across institutions (the affected ones are counted, not named)."""

    key: str  # the indicator or attack-pattern id it is about
    kind: str  # indicator, fraud or technique
    label: str  # the pattern or the technique id
    institutions: int
    level: int
    first_seen: datetime
    last_seen: datetime
    named: tuple[str, ...]  # affected institutions that agreed to be named

    @property
    def id(self) -> str:
        return f"campaign--{uuid.uuid5(_NAMESPACE, self.key)}"

    def public(self) -> dict[str, Any]:
        """What the console's sector view and the members see."""
        return {
            "id": self.id, "kind": self.kind, "about": self.label, "level": self.level,
            "institutions": self.institutions, "named": list(self.named),
            "first_seen": self.first_seen.isoformat(), "last_seen": self.last_seen.isoformat(),
        }


def sector_level(institutions: int, k: int) -> int:
    """The sector early-warning level (3–5) of a campaign seen at `institutions` (≥ k)."""
    return 3 + int(institutions > k) + int(institutions >= 2 * k)


def _when(obj: dict[str, Any]) -> int:
    for name in ("last_seen", "first_seen", "valid_from", "modified", "created"):
        if obj.get(name):
            return parse_timestamp(str(obj[name]))
    return time.time_ns() // 1000


class CampaignWatch:
    """Counts institutions per indicator, fraud pattern and technique (see module text)."""

    def __init__(
        self,
        k: int = 3,
        window: timedelta = timedelta(days=3),
        consent: frozenset[str] = frozenset(),
        sector: str = "sector",
        publish: Publish | None = None,
    ) -> None:
        if k < 2:
            raise ValueError(f"k must be at least 2 institutions, got {k}")
        self.k, self.window, self.consent = k, window, consent
        self.sector, self.publish = sector, publish
        self.reports = pl.DataFrame(schema=_REPORTS)
        self.labels: dict[str, tuple[str, str]] = {}
        self.levels: dict[str, int] = {}

    def _rows(self, tenant: str, objects: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        rows = []
        for obj in objects:
            kind = obj.get("type")
            if kind == "indicator":
                fraud = "x-mamori-" in str(obj.get("pattern", ""))
                self.labels[obj["id"]] = ("fraud" if fraud else "indicator", obj["pattern"])
                key = obj["id"]
            elif kind == "attack-pattern":
                refs = obj.get("external_references") or [{}]
                self.labels[obj["id"]] = ("technique", refs[0].get("external_id", obj["name"]))
                key = obj["id"]
            elif kind == "sighting":
                key = obj["sighting_of_ref"]
            else:
                continue
            default = ("technique", key) if key.startswith("attack-pattern") else ("indicator", key)
            what, label = self.labels.get(key, default)
            rows.append((key, what, label, tenant, _when(obj)))
        return rows

    def listen(self, collection: str, tenant: str, objects: list[dict[str, Any]]) -> list[
            SectorCampaign]:
        """Take a member's accepted objects in; the campaigns raised or risen by them."""
        rows = self._rows(tenant, objects)
        if not rows:
            return []
        new = pl.DataFrame(rows, schema=_REPORTS | {"time": pl.Int64()}, orient="row")
        new = new.with_columns(pl.col("time").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"))
        self.reports = pl.concat([self.reports, new])
        changed = [
            c for c in self.campaigns(set(new["key"]))
            if self.levels.get(c.key, 0) < c.level
        ]
        for campaign in changed:
            self.levels[campaign.key] = campaign.level
        if changed and self.publish is not None:
            self.publish(self.stix(changed))
        return changed

    def replay(self, posts: list[tuple[str, dict[str, Any]]]) -> None:
        """Rebuild from members' earlier (tenant, object) posts, oldest first, without
        publishing again: levels end where they were, so only a later rise is news."""
        publish, self.publish = self.publish, None
        try:
            for tenant, group in groupby(posts, key=lambda post: post[0]):
                self.listen("", tenant, [obj for _, obj in group])
        finally:
            self.publish = publish

    def level(self) -> int:
        """The sector early-warning level now: the highest campaign's, 1 (normal) if none."""
        return max((c.level for c in self.campaigns()), default=1)

    def campaigns(self, keys: set[str] | None = None) -> list[SectorCampaign]:
        """Campaigns now: reports of k or more institutions within the window before each
        key's latest report."""
        reports = self.reports if keys is None else self.reports.filter(
            pl.col("key").is_in(list(keys)))
        recent = reports.filter(
            pl.col("time") >= pl.col("time").max().over("key") - self.window
        )
        grouped = recent.group_by("key", maintain_order=True).agg(
            pl.col("kind").last(), pl.col("label").last(),
            institutions=pl.col("tenant").n_unique(),
            tenants=pl.col("tenant").unique().sort(),
            first_seen=pl.col("time").min(), last_seen=pl.col("time").max(),
        ).filter(pl.col("institutions") >= self.k)
        return [
            SectorCampaign(
                key=r["key"], kind=r["kind"], label=r["label"],
                institutions=r["institutions"], level=sector_level(r["institutions"], self.k),
                first_seen=r["first_seen"], last_seen=r["last_seen"],
                named=tuple(t for t in r["tenants"] if t in self.consent),
            )
            for r in grouped.iter_rows(named=True)
        ]

    def stix(self, campaigns: list[SectorCampaign]) -> list[dict[str, Any]]:
        """Campaigns as STIX objects for the members: campaign, relationship, marking."""
        creator = sector_identity(self.sector)
        now = timestamp(time.time_ns() // 1000)
        marking = [TLP2_IDS["amber"]]
        out: list[dict[str, Any]] = [creator, tlp_marking("amber")]
        for c in campaigns:
            out.append({
                "type": "campaign", "spec_version": "2.1", "id": c.id,
                "created": timestamp(int(c.first_seen.timestamp() * 1_000_000)),
                "modified": now, "created_by_ref": creator["id"],
                "object_marking_refs": marking,
                "name": f"Sector campaign: {c.kind} {c.label}",
                "description": f"Seen at {c.institutions} institutions of the sector",
                "first_seen": timestamp(int(c.first_seen.timestamp() * 1_000_000)),
                "last_seen": timestamp(int(c.last_seen.timestamp() * 1_000_000)),
                "x_mamori_level": c.level, "x_mamori_institutions": c.institutions,
                "x_mamori_kind": c.kind, "x_mamori_about": c.label,
                "x_mamori_named": list(c.named),
            })
            out.append({
                "type": "relationship", "spec_version": "2.1",
                "id": f"relationship--{uuid.uuid5(_NAMESPACE, c.key + '|rel')}",
                "created": out[-1]["created"], "modified": now,
                "created_by_ref": creator["id"], "object_marking_refs": marking,
                "relationship_type": "uses" if c.kind == "technique" else "indicates",
                "source_ref": c.id if c.kind == "technique" else c.key,
                "target_ref": c.key if c.kind == "technique" else c.id,
            })
        return out


def campaign_alerts(objects: list[dict[str, Any]], tenant: str) -> pl.DataFrame:
    """Sector campaigns pulled by a subscriber, as alerts of its own tenant."""
    campaigns = [o for o in objects if o.get("type") == "campaign" and "x_mamori_level" in o]
    if not campaigns:
        return empty_alerts()
    frame = pl.DataFrame(
        {
            "campaign": [c["id"] for c in campaigns],
            "version": [c["modified"] for c in campaigns],
            "time": [datetime.fromtimestamp(parse_timestamp(c["last_seen"]) / 1e6, UTC)
                     for c in campaigns],
            "level": [int(c["x_mamori_level"]) for c in campaigns],
            "institutions": [int(c["x_mamori_institutions"]) for c in campaigns],
            "kind": [c["x_mamori_kind"] for c in campaigns],
            "about": [c["x_mamori_about"] for c in campaigns],
        }
    ).sort("level").unique(["campaign", "level"], keep="last", maintain_order=True)
    return make_alerts(
        frame.select(
            "campaign", "level",
            time=pl.col("time").cast(TIME),
            tenant=pl.lit(tenant),
            rule_id=pl.lit("sector-campaign"),
            title=pl.format("Sector campaign (level {}): {} {} seen at {} institutions",
                            "level", "kind", "about", "institutions"),
            severity=pl.col("level").replace_strict(LEVEL_SEVERITY, default="medium"),
            score=(pl.col("level") / 5).round(2),
            entity_type=pl.lit("campaign"),
            entity_id="campaign",
            related=pl.concat_list(pl.col("kind") + pl.lit(":") + pl.col("about")),
            stage=pl.lit(None, pl.String),
            attack=pl.when(pl.col("kind") == "technique").then(pl.concat_list("about"))
            .otherwise(pl.lit([], pl.List(pl.String))),
            event_ids=pl.lit([], pl.List(pl.String)),
            explanation=pl.format(
                "The sector hub saw this {} at {} institutions within its window "
                "(sector early-warning level {}); affected institutions are not named.",
                "kind", "institutions", "level",
            ),
        ),
        "sector",
        ["tenant", "campaign", "level"],
    )


#: The hub's collections: what members post, and the campaigns the hub publishes.
MEMBER_COLLECTION, WARNING_COLLECTION = "indicators", "early-warning"


def sector_hub(authenticate: Authenticate, k: int = 3, window: timedelta = timedelta(days=3),
               consent: frozenset[str] = frozenset(), sector: str = "sector",
               journal: Journal | None = None) -> TaxiiServer:
    """A TAXII server for a sector hub: members post to ``indicators``, the campaign watch
    (``server.watch``) counts institutions and publishes campaigns to ``early-warning`` for
    all to read. With a `journal` the collections outlive a restart, and the watch is
    rebuilt from what members posted before."""
    server = TaxiiServer(
        [Collection(MEMBER_COLLECTION, "Indicators and sightings released by members"),
         Collection(WARNING_COLLECTION, "Sector campaigns", writers=frozenset())],
        authenticate,
        journal=journal,
    )
    watch = CampaignWatch(k, window, consent, sector,
                          publish=lambda objs: server.publish(WARNING_COLLECTION, objs))
    watch.replay([(e.tenant, e.obj) for e in server.stores[MEMBER_COLLECTION].entries])
    server.listeners.append(watch.listen)
    server.watch = watch
    return server
