"""Alert suppression: a bank's allow-list, and repeats of the same finding.

The allow-list is a TOML file of entries, each with a reason, that a team agreed to
silence — a rule on a named entity (the vulnerability scanner's address, the backup
server), everywhere, or until a date:

```toml
[[allow]]
rule = "MR-NET-001"              # a rule id; * and ? wildcards allowed
entity = "ip:10.20.0.5"          # optional: the alert's entity as type:id (wildcards too)
tenant = "bank-a"                # optional
until = "2026-12-31"             # optional: the entry lapses after this day (UTC)
reason = "nightly offsite backup to the DR site, change CHG-1234"
```

Repeats: with `repeat_window`, a rule raises at most one alert per entity and window
bucket; later ones in the bucket are counted, not stored. Both are applied after the
detectors and before the store, and every suppressed alert is counted by reason, so the
run's figures still add up.

>>> s = Suppression([AllowEntry(rule="MR-NET-*", reason="test")])
>>> s.allow[0].expression() is not None
True
"""

from __future__ import annotations

import tomllib
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from mamori.detect.base import Snapshot, once_per_bucket


def glob_pattern(glob: str) -> str:
    """A shell-style glob (* and ?) as an anchored regular expression.

    >>> glob_pattern("MR-NET-*")
    '^MR-NET-.*$'
    """
    special = set(".^$+()[]{}|\\")
    body = "".join(
        ".*" if c == "*" else "." if c == "?" else f"\\{c}" if c in special else c for c in glob
    )
    return f"^{body}$"


class SuppressionError(ValueError):
    """An allow-list that cannot be used; the message names the entry and the problem."""


@dataclass(frozen=True)
class AllowEntry:
    """One allow-list entry (see the module docstring)."""

    rule: str
    reason: str
    entity: str | None = None
    tenant: str | None = None
    until: datetime | None = None

    def expression(self) -> pl.Expr:
        """True on the alerts this entry silences."""
        cond = pl.col("rule_id").str.contains(glob_pattern(self.rule))
        if self.entity is not None:
            key = pl.concat_str("entity_type", pl.lit(":"), "entity_id")
            cond = cond & key.str.contains(glob_pattern(self.entity))
        if self.tenant is not None:
            cond = cond & (pl.col("tenant") == self.tenant)
        if self.until is not None:
            cond = cond & (pl.col("time") < self.until + timedelta(days=1))
        return cond.fill_null(False)


def load_allow_list(path: Path) -> list[AllowEntry]:
    """The entries of an allow-list file; each needs a rule and a reason."""
    try:
        doc = tomllib.loads(Path(path).read_text())
    except tomllib.TOMLDecodeError as err:
        raise SuppressionError(f"{path}: {err}") from None
    entries = []
    for i, raw in enumerate(doc.get("allow", []), start=1):
        unknown = set(raw) - {"rule", "reason", "entity", "tenant", "until"}
        if unknown or "rule" not in raw or not raw.get("reason"):
            raise SuppressionError(
                f"{path}: entry {i} needs a rule and a reason"
                + (f" (unknown keys: {sorted(unknown)})" if unknown else "")
            )
        until = raw.get("until")
        if until is not None:
            try:
                until = datetime.fromisoformat(str(until)).replace(tzinfo=UTC)
            except ValueError:
                raise SuppressionError(f"{path}: entry {i}: until {until!r} is no date") from None
        entries.append(
            AllowEntry(
                rule=raw["rule"],
                reason=raw["reason"],
                entity=raw.get("entity"),
                tenant=raw.get("tenant"),
                until=until,
            )
        )
    return entries


class Suppression:
    """Applies the allow-list and the repeat window to alert frames; keeps its state."""

    def __init__(
        self, allow: list[AllowEntry] | None = None, repeat_window: timedelta | None = None
    ) -> None:
        self.allow = allow or []
        self.repeat_window = repeat_window
        self.seen = pl.DataFrame(
            schema={
                "tenant": pl.String,
                "rule_id": pl.String,
                "entity_type": pl.String,
                "entity_id": pl.String,
                "_bucket": pl.Datetime("us", "UTC"),
            }
        )

    def apply(self, alerts: pl.DataFrame) -> tuple[pl.DataFrame, Counter[str]]:
        """The alerts to keep, and how many were suppressed, by reason."""
        counts: Counter[str] = Counter()
        if alerts.height == 0:
            return alerts, counts
        for entry in self.allow:
            hit = alerts.select(entry.expression()).to_series()
            n = int(hit.sum())
            if n:
                counts[f"allow-list: {entry.reason}"] += n
                alerts = alerts.filter(~hit)
        if self.repeat_window is not None and alerts.height:
            before = alerts.height
            alerts = self._first_per_bucket(alerts)
            if before - alerts.height:
                counts[f"repeat within {self.repeat_window}"] += before - alerts.height
        return alerts, counts

    def _first_per_bucket(self, alerts: pl.DataFrame) -> pl.DataFrame:
        assert self.repeat_window is not None
        key = ["tenant", "rule_id", "entity_type", "entity_id"]
        ordered = alerts.sort("time", maintain_order=True)
        kept, self.seen = once_per_bucket(ordered, key, self.repeat_window, self.seen)
        return kept.drop("_bucket")

    def snapshot(self) -> Snapshot:
        return {"frames": {"seen": self.seen}}

    def restore(self, state: dict[str, Any]) -> None:
        self.seen = state["frames"]["seen"]
