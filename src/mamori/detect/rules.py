"""Declarative detection rules: single events, novelty, and sliding-window thresholds.

Rules are written in TOML (see `mamori/detect/rules/spine.toml`) and cover the three shapes
a SOC or fraud analyst writes most often:

* an **event rule** fires on each event that matches (`match`), e.g. a Security log cleared;
* a **novelty rule** (`novel = ["customer", "counterparty"]`) fires on the first time a key
  combination is seen (or, with `fresh = "6h"`, on any event within six hours of that first
  time), once the entity (the first key) has a history of `min_history` other events in the
  rule's `scope` — e.g. the first transfer of an established customer to a payee;
* a **window rule** (`window = "10m"`, `group_by`, `threshold`) fires when, over a true
  sliding window ending at an event, a group's count, distinct values or sums cross the
  thresholds — e.g. ten failed logins for five accounts from one address in ten minutes.
  A `group_by` column written `src_ip/24` groups by the address's /24 network, since
  attackers rotate addresses inside one block.

`scope` selects the events a rule learns from (novelty history, window contents); `match`
further selects the events that may fire it. A rule fires at most once per group and
`cooldown` bucket, and its alert id comes from the rule, the group and the bucket, so the
same evidence always yields the same alert, whatever the batch boundaries.

Everything is vectorised per batch; state (seen pairs, window tails, fired buckets) is
bounded and kept as Polars frames, so it snapshots to Arrow.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import polars as pl

from mamori.detect.base import Detector, Snapshot, make_alerts, once_per_bucket
from mamori.detect.match import (
    RuleError,
    apply_match,
    compile_match,
    match_columns,
    network,
    source_column,
)
from mamori.events.schema import ENTITY_COLUMNS, KINDS, SEVERITIES, empty_alerts

RULES_DIR = Path(__file__).with_name("rules")
_EVIDENCE_CAP = 50
_RELATED_CAP = 20


def parse_duration(text: str) -> timedelta:
    """'90s', '10m', '6h', '7d' to a timedelta.

    >>> parse_duration("10m")
    datetime.timedelta(seconds=600)
    """
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    try:
        return timedelta(**{units[text[-1]]: float(text[:-1])})
    except (KeyError, ValueError, IndexError):
        raise RuleError(f"bad duration {text!r}: use a number and s, m, h or d") from None


def human(delta: timedelta) -> str:
    """A duration the way rules write it: '10m', '6h', '90s'."""
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _polars_period(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() * 1_000_000)}us"


@dataclass(frozen=True)
class Rule:
    """One compiled rule; see the module docstring for the meaning of each part."""

    id: str
    title: str
    kind: str
    severity: str
    score: float
    stage: str
    entity: str
    entity_type: str
    attack: tuple[str, ...] = ()
    related: dict[str, str] = field(default_factory=dict)
    scope: dict[str, Any] = field(default_factory=dict)
    match: dict[str, Any] = field(default_factory=dict)
    novel: tuple[str, ...] = ()
    min_history: int = 0
    window: timedelta | None = None
    group_by: tuple[str, ...] = ()
    threshold: dict[str, Any] = field(default_factory=dict)
    cooldown: timedelta | None = None
    fresh: timedelta | None = None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Rule:
        """Build and check a rule from its TOML table."""
        rid = raw.get("id", "?")
        try:
            kind = raw["kind"]
            if kind not in KINDS:
                raise RuleError(f"unknown kind {kind!r}")
            severity = raw.get("severity", "medium")
            if severity not in SEVERITIES:
                raise RuleError(f"severity {severity!r} is not one of {SEVERITIES}")
            window = parse_duration(raw["window"]) if "window" in raw else None
            group_by = tuple(raw.get("group_by", ()))
            if window and not group_by:
                raise RuleError("a window rule needs group_by")
            if window and not raw.get("threshold"):
                raise RuleError("a window rule needs a threshold")
            entity = raw.get("entity") or (group_by[0] if group_by else None)
            if not entity:
                raise RuleError("name the entity column (entity = ...)")
            entity_type = raw.get("entity_type") or ENTITY_COLUMNS.get(kind, {}).get(entity)
            if not entity_type:
                raise RuleError(f"say which entity type column {entity!r} holds (entity_type)")
            known = set(KINDS[kind]) | {"time", "tenant", "event_id"}
            used = match_columns(raw.get("match")) | match_columns(raw.get("scope"))
            used |= (
                set(group_by) | set(raw.get("novel", ())) | {entity} | set(raw.get("related", {}))
            )
            for part in ("distinct", "sum"):
                used |= set(raw.get("threshold", {}).get(part, {}))
            unknown = {source_column(c) for c in used} - known
            if unknown and kind != "winlog":
                raise RuleError(f"fields not in the {kind} schema: {sorted(unknown)}")
            cooldown = raw.get("cooldown")
            rule = cls(
                id=rid,
                title=raw["title"],
                kind=kind,
                severity=severity,
                score=float(raw.get("score", 0.5)),
                stage=raw["stage"],
                entity=entity,
                entity_type=entity_type,
                attack=tuple(raw.get("attack", ())),
                related=dict(raw.get("related", {})),
                scope=dict(raw.get("scope", {})),
                match=dict(raw.get("match", {})),
                novel=tuple(raw.get("novel", ())),
                min_history=int(raw.get("min_history", 0)),
                window=window,
                group_by=group_by,
                threshold=dict(raw.get("threshold", {})),
                cooldown=parse_duration(cooldown) if cooldown else window,
                fresh=parse_duration(raw["fresh"]) if "fresh" in raw else None,
            )
            # compile once so that a broken condition fails at load time
            compile_match(rule.scope)
            compile_match(rule.match)
            return rule
        except KeyError as missing:
            raise RuleError(f"rule {rid}: missing {missing}") from None
        except RuleError as err:
            raise RuleError(f"rule {rid}: {err}") from None


def load_rules(*paths: Path) -> list[Rule]:
    """Rules from TOML files or folders of them (default: the built-in rule set)."""
    files: list[Path] = []
    for path in paths or (RULES_DIR,):
        files.extend(sorted(path.glob("*.toml")) if path.is_dir() else [path])
    rules: list[Rule] = []
    for file in files:
        with file.open("rb") as fh:
            try:
                doc = tomllib.load(fh)
            except tomllib.TOMLDecodeError as err:
                raise RuleError(f"{file}: {err}") from None
        rules.extend(Rule.from_dict(raw) for raw in doc.get("rule", []))
    ids = [r.id for r in rules]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise RuleError(f"duplicate rule ids: {dupes}")
    return rules


class RuleDetector(Detector):
    """Runs a set of declarative rules over batches.

    State is bounded: window tails hold only the last window of matching events, fired
    buckets older than two cooldowns are dropped, and novelty keeps at most `max_pairs`
    seen combinations per rule (least recently seen evicted first, and counted).
    """

    name: ClassVar[str] = "rules"
    kinds: ClassVar[frozenset[str]] = frozenset(KINDS)

    def __init__(self, rules: list[Rule] | None = None, max_pairs: int = 2_000_000) -> None:
        self.rules = load_rules() if rules is None else rules
        self.max_pairs = max_pairs
        self.state: dict[str, pl.DataFrame] = {}
        self.evicted = 0

    # --- protocol ---------------------------------------------------------------------

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        kind = batch["kind"][0]
        out = [self._run(rule, batch) for rule in self.rules if rule.kind == kind]
        out = [a for a in out if a.height]
        return pl.concat(out) if out else empty_alerts()

    def snapshot(self) -> Snapshot:
        return {"frames": dict(self.state), "evicted": self.evicted}

    def restore(self, state: Snapshot) -> None:
        self.state = dict(state.get("frames", {}))
        self.evicted = int(state.get("evicted", 0))

    # --- one rule ---------------------------------------------------------------------

    def _run(self, rule: Rule, batch: pl.DataFrame) -> pl.DataFrame:
        missing = self._missing_columns(rule, batch)
        if missing:
            return empty_alerts()
        scoped = apply_match(batch, rule.scope)
        if scoped.height == 0:
            return empty_alerts()
        if rule.novel:
            scoped = self._novelty(rule, scoped)
        fire = apply_match(scoped, rule.match)
        if rule.window:
            return self._window(rule, fire, batch["time"].max())
        return self._events(rule, fire)

    @staticmethod
    def _missing_columns(rule: Rule, batch: pl.DataFrame) -> set[str]:
        needed = match_columns(rule.scope) | match_columns(rule.match) | {rule.entity}
        needed |= set(rule.group_by) | set(rule.novel)
        return {source_column(c) for c in needed} - set(batch.columns)

    def _novelty(self, rule: Rule, scoped: pl.DataFrame) -> pl.DataFrame:
        """Keep the events whose key combination is new (or first seen within `fresh`)
        for an entity that already had `min_history` other events in scope."""
        keys = list(dict.fromkeys(["tenant", *rule.novel]))
        owner = list(dict.fromkeys(["tenant", rule.novel[0]]))
        scoped = scoped.filter(pl.all_horizontal(pl.col(k).is_not_null() for k in keys))
        if scoped.height == 0:
            return scoped
        seen = self.state.get(f"{rule.id}/seen")
        history = self.state.get(f"{rule.id}/history")
        marked = scoped.with_columns(
            _owner_before=pl.int_range(pl.len()).over(owner),
            _pair_before=pl.int_range(pl.len()).over(keys),
            _pair_first=pl.col("time").min().over(keys),
        )
        if seen is not None:
            marked = marked.join(seen.drop("last_seen"), on=keys, how="left")
        else:
            marked = marked.with_columns(
                first_seen=pl.lit(None, marked.schema["time"]), n=pl.lit(0, pl.Int64)
            )
        if history is not None:
            marked = marked.join(history, on=owner, how="left")
        else:
            marked = marked.with_columns(_n=pl.lit(0, pl.Int64))
        first = pl.coalesce("first_seen", "_pair_first")
        pair_n = pl.col("n").fill_null(0) + pl.col("_pair_before")
        owner_n = pl.col("_n").fill_null(0) + pl.col("_owner_before")
        is_fresh = pl.col("time") - first <= rule.fresh if rule.fresh else pair_n == 0
        new = marked.filter(is_fresh & (owner_n - pair_n >= rule.min_history))

        # learn from the whole scoped batch
        pairs = scoped.group_by(keys).agg(
            first_seen=pl.col("time").min(),
            last_seen=pl.col("time").max(),
            n=pl.len().cast(pl.Int64),
        )
        counts = scoped.group_by(owner).agg(_n=pl.len().cast(pl.Int64))
        if seen is not None:
            pairs = (
                pl.concat([seen, pairs])
                .group_by(keys)
                .agg(pl.col("first_seen").min(), pl.col("last_seen").max(), pl.col("n").sum())
            )
        if history is not None:
            counts = pl.concat([history, counts]).group_by(owner).agg(pl.col("_n").sum())
        if pairs.height > self.max_pairs:
            self.evicted += pairs.height - self.max_pairs
            pairs = pairs.sort("last_seen", descending=True).head(self.max_pairs)
            counts = counts.join(pairs.select(owner).unique(), on=owner, how="semi")
        self.state[f"{rule.id}/seen"] = pairs
        self.state[f"{rule.id}/history"] = counts
        return new.drop("_owner_before", "_pair_before", "_pair_first", "first_seen", "n", "_n")

    def _bucketed(self, rule: Rule, fire: pl.DataFrame, group: list[str]) -> pl.DataFrame:
        """At most one firing per group and cooldown bucket, never one fired before."""
        if rule.cooldown is None:
            return fire
        key = f"{rule.id}/fired"
        fire, self.state[key] = once_per_bucket(fire, group, rule.cooldown, self.state.get(key))
        return fire

    def _related(self, rule: Rule) -> list[pl.Expr]:
        return [
            pl.when(pl.col(c).is_not_null()).then(pl.lit(f"{t}:") + pl.col(c).cast(pl.String))
            for c, t in rule.related.items()
        ]

    def _base(self, rule: Rule) -> dict[str, pl.Expr]:
        return {
            "rule_id": pl.lit(rule.id),
            "title": pl.lit(rule.title),
            "severity": pl.lit(rule.severity),
            "score": pl.lit(rule.score),
            "stage": pl.lit(rule.stage),
            "attack": pl.lit(list(rule.attack), pl.List(pl.String)),
            "entity_type": pl.lit(rule.entity_type),
        }

    def _events(self, rule: Rule, fire: pl.DataFrame) -> pl.DataFrame:
        fire = fire.filter(pl.col(rule.entity).is_not_null())
        fire = self._bucketed(rule, fire, ["tenant", rule.entity])
        if fire.height == 0:
            return empty_alerts()
        shown = [c for c in (*rule.match, *rule.novel) if c in fire.columns][:6]
        parts: list[pl.Expr | str] = []
        for c in shown:
            parts += [f"{c}=", pl.col(c).cast(pl.String).fill_null("∅"), "; "]
        explanation = pl.concat_str(
            [pl.lit("matched "), *(pl.lit(p) if isinstance(p, str) else p for p in parts)]
        )
        if rule.novel:
            explanation = pl.lit(f"first time seen for this {rule.novel[0]}: ") + explanation
        related = self._related(rule)
        alerts = fire.select(
            "time",
            "tenant",
            entity_id=pl.col(rule.entity).cast(pl.String),
            event_ids=pl.concat_list(pl.col("event_id")),
            related=pl.concat_list(related).list.drop_nulls()
            if related
            else pl.lit([], pl.List(pl.String)),
            explanation=explanation.str.strip_chars_end("; "),
            _key=pl.col("_bucket").cast(pl.String) if rule.cooldown else pl.col("event_id"),
            **self._base(rule),
        )
        return make_alerts(alerts, "rules", ["rule_id", "tenant", "entity_id", "_key"])

    def _window(self, rule: Rule, fire: pl.DataFrame, batch_end: Any) -> pl.DataFrame:
        assert rule.window is not None
        group = ["tenant", *rule.group_by]
        distinct = dict(rule.threshold.get("distinct", {}))
        sums = dict(rule.threshold.get("sum", {}))
        derived = [e for e in (network(c) for c in rule.group_by) if e is not None]
        if derived:
            fire = fire.with_columns(derived)
        keep = list(
            dict.fromkeys(
                ["time", "event_id", *group, rule.entity, *distinct, *sums, *rule.related]
            )
        )
        tail_key = f"{rule.id}/tail"
        tail = self.state.get(tail_key)
        current = fire.select(keep).with_columns(_new=pl.lit(True))
        current = current.filter(pl.all_horizontal(pl.col(c).is_not_null() for c in group))
        rows = current if tail is None else pl.concat([tail, current], how="vertical_relaxed")
        rows = rows.sort("time", maintain_order=True)
        self.state[tail_key] = rows.filter(pl.col("time") > batch_end - rule.window).with_columns(
            _new=pl.lit(False)
        )
        if current.height == 0:
            return empty_alerts()
        period = _polars_period(rule.window)
        aggs = [pl.len().alias("_count"), pl.col("_new").last()]
        aggs += [pl.col(c).n_unique().alias(f"_distinct_{c}") for c in distinct]
        aggs += [pl.col(c).sum().alias(f"_sum_{c}") for c in sums]
        rolled = rows.rolling(index_column="time", period=period, group_by=group).agg(aggs)
        cond = [pl.col("_new"), pl.col("_count") >= int(rule.threshold.get("count", 1))]
        cond += [pl.col(f"_distinct_{c}") >= n for c, n in distinct.items()]
        cond += [pl.col(f"_sum_{c}") >= x for c, x in sums.items()]
        candidates = rolled.filter(pl.all_horizontal(cond)).sort("time", maintain_order=True)
        fires = self._bucketed(rule, candidates, group)
        if fires.height == 0:
            return empty_alerts()
        return self._window_alerts(rule, fires, rows, group, distinct, sums)

    def _window_alerts(
        self,
        rule: Rule,
        fires: pl.DataFrame,
        rows: pl.DataFrame,
        group: list[str],
        distinct: dict[str, int],
        sums: dict[str, float],
    ) -> pl.DataFrame:
        assert rule.window is not None
        evidence = (
            fires.select(*group, "_bucket", _end=pl.col("time"))
            .join(rows, on=group)
            .filter(
                (pl.col("time") <= pl.col("_end")) & (pl.col("time") > pl.col("_end") - rule.window)
            )
        )
        related = self._related(rule)
        agg = [
            pl.col("event_id").tail(_EVIDENCE_CAP).alias("event_ids"),
            pl.col(rule.entity).last().cast(pl.String).alias("entity_id"),
        ]
        if related:
            agg.append(
                pl.concat_list(related)
                .list.explode(keep_nulls=False, empty_as_null=False)
                .drop_nulls()
                .unique(maintain_order=True)
                .head(_RELATED_CAP)
                .alias("related")
            )
        ev = evidence.group_by([*group, "_bucket"], maintain_order=True).agg(agg)
        explained = fires.join(ev, on=[*group, "_bucket"], how="left")
        text: list[pl.Expr] = [pl.col("_count").cast(pl.String), pl.lit(" events")]
        for c, n in distinct.items():
            text += [
                pl.lit(f", {c}: "),
                pl.col(f"_distinct_{c}").cast(pl.String),
                pl.lit(f" distinct (≥ {n})"),
            ]
        for c, x in sums.items():
            text += [
                pl.lit(f", {c} total "),
                pl.col(f"_sum_{c}").round(2).cast(pl.String),
                pl.lit(f" (≥ {x:g})"),
            ]
        window_txt = f" within {human(rule.window)} for {'/'.join(rule.group_by)} "
        text += [
            pl.lit(window_txt),
            pl.concat_str([pl.col(g).cast(pl.String) for g in rule.group_by], separator="/"),
        ]
        alerts = explained.select(
            "time",
            "tenant",
            "entity_id",
            "event_ids",
            related=pl.col("related") if related else pl.lit([], pl.List(pl.String)),
            explanation=pl.concat_str(text),
            _key=pl.concat_str(
                [
                    *(pl.col(g).cast(pl.String) for g in rule.group_by),
                    pl.col("_bucket").cast(pl.String),
                ],
                separator="|",
            ),
            **self._base(rule),
        )
        return make_alerts(alerts, "rules", ["rule_id", "tenant", "_key"])
