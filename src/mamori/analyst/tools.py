"""Read-only tools the model may call through the gateway: an entity's alert history, the
incidents that involve an entity, and whether an indicator was seen.

Every tool is bound to the incident's tenant by the gateway; no argument can widen it. The
gateway checks the trust tier before each call and records it in the audit chain.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import polars as pl

from mamori.analyst.evidence import IncidentSource

__all__ = ["TOOL_SPECS", "ReadOnlyTools"]

_LIMIT = 20


def _spec(name: str, description: str, argument: str, meaning: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {argument: {"type": "string", "description": meaning}},
                "required": [argument],
                "additionalProperties": False,
            },
        },
    }


#: OpenAI tool specifications, by tool name.
TOOL_SPECS: dict[str, dict[str, Any]] = {
    "entity_history": _spec(
        "entity_history",
        "Earlier alerts on one entity (newest first, at most 20).",
        "entity",
        '"type:id", e.g. "customer:[CUSTOMER_1]"',
    ),
    "related_incidents": _spec(
        "related_incidents",
        "Other incidents that name an entity (riskiest first, at most 20).",
        "entity",
        '"type:id"',
    ),
    "indicator": _spec(
        "indicator",
        "How often an indicator (IP address, domain, hash, device) was seen in alerts.",
        "value",
        "the indicator",
    ),
}


class ReadOnlyTools:
    """The tools, reading one tenant's data from an incident source (the operational store)."""

    def __init__(self, source: IncidentSource, tenant: str) -> None:
        self.source, self.tenant = source, tenant
        self._handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "entity_history": self.entity_history,
            "related_incidents": self.related_incidents,
            "indicator": self.indicator,
        }

    def call(self, name: str, arguments: dict[str, Any]) -> str:
        """Run a tool; the result as JSON text. Unknown tools and bad arguments raise
        ValueError."""
        handler = self._handlers.get(name)
        if handler is None:
            raise ValueError(f"no read-only tool {name!r}")
        return json.dumps(handler(arguments), default=str, ensure_ascii=False)

    def entity_history(self, arguments: dict[str, Any]) -> list[dict[str, Any]]:
        entity = _argument(arguments, "entity")
        alerts = self.source.alerts(self.tenant)
        hits = alerts.filter(
            (pl.concat_str("entity_type", pl.lit(":"), "entity_id") == entity)
            | pl.col("related").list.contains(entity)
        )
        rows = hits.sort("time", descending=True).head(_LIMIT)
        return rows.select("alert_id", "time", "detector", "severity", "title").to_dicts()

    def related_incidents(self, arguments: dict[str, Any]) -> list[dict[str, Any]]:
        entity = _argument(arguments, "entity")
        incidents = self.source.incidents(self.tenant)
        rows = incidents.filter(pl.col("entities").list.contains(entity)).head(_LIMIT)
        return rows.select("incident_id", "title", "risk", "level", "status").to_dicts()

    def indicator(self, arguments: dict[str, Any]) -> dict[str, Any]:
        value = _argument(arguments, "value")
        alerts = self.source.alerts(self.tenant)
        hits = alerts.filter(
            (pl.col("entity_id") == value)
            | pl.col("related").list.eval(pl.element().str.ends_with(":" + value)).list.any()
        )
        return {
            "value": value,
            "alerts": hits.height,
            "first_seen": hits["time"].min() if hits.height else None,
            "last_seen": hits["time"].max() if hits.height else None,
        }


def _argument(arguments: dict[str, Any], name: str) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"the tool needs a string argument {name!r}")
    return value
