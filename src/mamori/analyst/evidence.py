"""The evidence a triage rests on: one incident, its alerts, the history of its entities and
similar past incidents, gathered from the operational store.

Only the incident's own alert and event ids are citable. `Evidence.document` lays the
evidence out for a prompt, with the data classes a trust tier allows: the free text of
alerts (titles, explanations, which can carry attacker-controlled strings) is kept apart
under ``text`` keys so it can be fenced or withheld.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

__all__ = ["Evidence", "IncidentSource", "gather_evidence"]

#: At most this many earlier alerts per incident, and similar incidents.
HISTORY_LIMIT = 50
SIMILAR_LIMIT = 5

_INCIDENT_FIELDS = (
    "incident_id",
    "tenant",
    "title",
    "risk",
    "level",
    "status",
    "stages",
    "entities",
    "reasons",
    "alert_count",
    "detectors",
    "first_seen",
    "last_seen",
)


class IncidentSource(Protocol):
    """What evidence is read from: `mamori.store.sql.OperationalStore` fits."""

    def incident(self, tenant: str | None, incident_id: str) -> dict[str, Any] | None: ...

    def incidents(
        self, tenant: str | None, min_level: int | None = None, limit: int | None = None
    ) -> pl.DataFrame: ...

    def alerts(
        self,
        tenant: str | None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int | None = None,
        detector: str | None = None,
    ) -> pl.DataFrame: ...


@dataclass
class Evidence:
    """One incident's evidence. `alerts` has the ALERT schema; `history` holds earlier alerts
    on the incident's entities, `similar` earlier incidents that share an entity."""

    incident: dict[str, Any]
    alerts: pl.DataFrame
    history: pl.DataFrame = field(default_factory=pl.DataFrame)
    similar: list[dict[str, Any]] = field(default_factory=list)

    @property
    def incident_id(self) -> str:
        return str(self.incident["incident_id"])

    @property
    def tenant(self) -> str:
        return str(self.incident["tenant"])

    def citable_ids(self) -> frozenset[str]:
        """The alert and event ids a claim may cite."""
        events = self.alerts["event_ids"].explode().drop_nulls().to_list()
        return frozenset(self.alerts["alert_id"].to_list()) | frozenset(events)

    def entities(self) -> frozenset[str]:
        """Every "type:id" entity the incident names: its own list, the alerts' entities and
        the entities their evidence names."""
        own = self.alerts.select(pl.concat_str("entity_type", pl.lit(":"), "entity_id").alias("e"))[
            "e"
        ]
        related = self.alerts["related"].explode()
        named = pl.concat([own, related, pl.Series(self.incident.get("entities") or [])])
        return frozenset(named.drop_nulls().to_list())

    def document(self, with_text: bool = True) -> dict[str, Any]:
        """The evidence as plain JSON-able data; free text only when `with_text`."""
        incident = {k: _plain(self.incident.get(k)) for k in _INCIDENT_FIELDS}
        if not with_text:
            incident.pop("title"), incident.pop("reasons")
        alerts = [_alert(row, with_text) for row in self.alerts.iter_rows(named=True)]
        history = [
            {k: _plain(row[k]) for k in ("alert_id", "time", "detector", "severity", "entity_id")}
            | ({"title": row["title"]} if with_text else {})
            for row in self.history.iter_rows(named=True)
        ]
        similar = [
            {k: _plain(s.get(k)) for k in ("incident_id", "risk", "level", "status", "first_seen")}
            | ({"title": s.get("title")} if with_text else {})
            for s in self.similar
        ]
        return {
            "incident": incident,
            "alerts": alerts,
            "entity_history": history,
            "similar_incidents": similar,
        }


def gather_evidence(source: IncidentSource, tenant: str | None, incident_id: str) -> Evidence:
    """Read an incident with its alerts, its entities' earlier alerts and similar incidents.

    Raises KeyError when the tenant has no such incident.
    """
    record = source.incident(tenant, incident_id)
    if record is None:
        where = f"tenant {tenant!r}" if tenant else "any tenant"
        raise KeyError(f"no incident {incident_id!r} for {where}")
    alerts = record.pop("alerts")
    owner = record["tenant"]
    entities = set(record.get("entities") or [])
    earlier = source.alerts(owner, until=record["first_seen"])
    history = (
        earlier.filter(pl.concat_str("entity_type", pl.lit(":"), "entity_id").is_in(list(entities)))
        .sort("time", descending=True)
        .head(HISTORY_LIMIT)
    )
    others = source.incidents(owner).filter(
        (pl.col("incident_id") != incident_id)
        & (pl.col("first_seen") < record["first_seen"])
        & pl.col("entities").list.set_intersection(list(entities)).list.len().gt(0)
    )
    similar = others.head(SIMILAR_LIMIT).to_dicts()
    return Evidence(record, alerts, history, similar)


def _alert(row: dict[str, Any], with_text: bool) -> dict[str, Any]:
    out = {
        "alert_id": row["alert_id"],
        "time": _plain(row["time"]),
        "detector": row["detector"],
        "rule_id": row["rule_id"],
        "severity": row["severity"],
        "score": row["score"],
        "entity": f"{row['entity_type']}:{row['entity_id']}",
        "related": row["related"] or [],
        "stage": row["stage"],
        "attack": row["attack"] or [],
        "event_ids": row["event_ids"] or [],
    }
    if with_text:
        out["title"] = row["title"]
        out["explanation"] = row["explanation"]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value
