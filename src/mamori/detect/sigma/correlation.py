"""Sigma correlation rules (Sigma v2): conditions over the matches of other rules in time.

A correlation names the rules it builds on, the fields matches are grouped by, a timespan
and a condition. The four types:

* `event_count` — at least (or at most…) N matches per group within the timespan;
* `value_count` — N distinct values of a field per group within the timespan;
* `temporal` — every referenced rule matched for the group within the timespan;
* `temporal_ordered` — they matched in the given order within the timespan.

`aliases` give one group-by name to fields that differ per rule (`user` is
`TargetUserName` in one rule and `SubjectUserName` in another). A correlation may build on
another correlation (chaining); its firings then count as the matches.

Windows are true sliding windows that carry across batches: each correlation keeps the
matches of the last timespan (its *tail*). Memory is bounded: when more than `max_groups`
groups are live, the least recently active ones are evicted, and `evicted` counts them. A
correlation fires at most once per group and timespan bucket; its alert id comes from the
correlation, the group and the bucket, so a replay raises nothing new.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
from sigma.collection import SigmaCollection
from sigma.correlations import SigmaCorrelationCondition, SigmaCorrelationRule
from sigma.rule import SigmaRule

from mamori.detect.base import Detector, Snapshot, make_alerts, once_per_bucket
from mamori.detect.rules import human
from mamori.detect.sigma import metadata
from mamori.detect.sigma.compiler import CompiledRule, compile_rule
from mamori.detect.sigma.detector import SigmaDetector
from mamori.detect.sigma.loading import rule_files
from mamori.events.schema import empty_alerts

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "eq": operator.eq,
    "neq": operator.ne,
}
_TYPES = ("event_count", "value_count", "temporal", "temporal_ordered")
#: The entity type a group-by field names, so correlation alerts link into incidents.
_ENTITY_TYPES = {
    "Computer": "host",
    "WorkstationName": "host",
    "host": "host",
    "TargetUserName": "user",
    "SubjectUserName": "user",
    "User": "user",
    "user": "user",
    "IpAddress": "ip",
    "SourceIp": "ip",
    "DestinationIp": "ip",
}
_EVIDENCE_CAP = 50
#: Mamori's own multi-stage chains, shipped with the package.
CHAINS = Path(__file__).with_name("rules")


class CorrelationError(ValueError):
    """A correlation rule Mamori cannot run; the message names it and the reason."""


@dataclass(frozen=True)
class Correlation:
    """One correlation rule, with its references resolved to rule ids."""

    id: str
    title: str
    level: Any  # pySigma's SigmaLevel, or None
    tags: tuple[Any, ...]  # pySigma's SigmaRuleTag
    type: str
    refs: tuple[str, ...]  # ids of the rules (or correlations) it builds on, in order
    group_by: tuple[str, ...]
    timespan: timedelta
    op: str
    count: int
    field: str | None  # the field value_count counts
    aliases: dict[str, dict[str, str]]  # group-by name -> rule id -> field of that rule

    @classmethod
    def from_sigma(cls, rule: SigmaCorrelationRule) -> Correlation:
        """Build from pySigma's parsed correlation (references already resolved)."""
        name = rule.title or str(rule.id)
        kind = rule.type.name.lower() if hasattr(rule.type, "name") else str(rule.type)
        if kind not in _TYPES:
            raise CorrelationError(f"{name}: correlation type {kind!r} is not supported")
        by_name = {ref.reference: str(ref.rule.id) for ref in rule.rules or []}
        aliases = {
            alias: {by_name[ref.reference]: field for ref, field in entry.mapping.items()}
            for alias, entry in (rule.aliases.aliases if rule.aliases else {}).items()
        }
        condition = rule.condition
        if not isinstance(condition, SigmaCorrelationCondition):
            raise CorrelationError(f"{name}: extended (boolean) conditions are not supported")
        if isinstance(condition.fieldref, list):
            raise CorrelationError(f"{name}: value_count over several fields is not supported")
        op = condition.op.name.lower()
        if op not in _OPS:
            raise CorrelationError(f"{name}: condition operator {op!r} is not supported")
        if kind == "value_count" and not condition.fieldref:
            raise CorrelationError(f"{name}: value_count needs condition.field")
        return cls(
            id=str(rule.id),
            title=name,
            level=rule.level,
            tags=tuple(rule.tags),
            type=kind,
            refs=tuple(by_name.values()),
            group_by=tuple(rule.group_by or ()),
            timespan=timedelta(seconds=rule.timespan.seconds),
            op=op,
            count=int(condition.count),
            field=condition.fieldref,
            aliases=aliases,
        )

    def field_of(self, name: str, rule_id: str) -> str:
        """The field of rule `rule_id` that the group-by `name` stands for."""
        return self.aliases.get(name, {}).get(rule_id, name)


def load_correlations(*paths: Path | str) -> tuple[list[CompiledRule], list[Correlation]]:
    """The base rules and the correlations in files and folders (one collection, so a
    correlation may refer to rules in other files)."""
    collection = SigmaCollection.load_ruleset([str(p) for p in rule_files(paths)])
    collection.resolve_rule_references()
    bases = [compile_rule(r) for r in collection if isinstance(r, SigmaRule)]
    correlations = [
        Correlation.from_sigma(r) for r in collection if isinstance(r, SigmaCorrelationRule)
    ]
    return bases, _in_dependency_order(correlations)


def _in_dependency_order(correlations: list[Correlation]) -> list[Correlation]:
    by_id = {c.id: c for c in correlations}
    ordered: list[Correlation] = []
    seen: set[str] = set()

    def visit(c: Correlation, path: tuple[str, ...]) -> None:
        if c.id in seen:
            return
        if c.id in path:
            raise CorrelationError(f"{c.title}: correlations refer to each other in a loop")
        for ref in c.refs:
            if ref in by_id:
                visit(by_id[ref], (*path, c.id))
        seen.add(c.id)
        ordered.append(c)

    for c in correlations:
        visit(c, ())
    return ordered


class SigmaCorrelator(Detector):
    """Runs Sigma correlations over the matches of `base` (a SigmaDetector)."""

    name: ClassVar[str] = "sigma_correlation"
    kinds: ClassVar[frozenset[str]] = frozenset({"winlog"})

    def __init__(
        self, base: SigmaDetector, correlations: Iterable[Correlation], max_groups: int = 100_000
    ) -> None:
        self.base = base
        self.correlations = list(correlations)
        self.max_groups = max_groups
        self.tails: dict[str, pl.DataFrame] = {}
        self.fired: dict[str, pl.DataFrame] = {}
        self.evicted = 0
        known = {r.id for r in base.rules} | {c.id for c in self.correlations}
        for c in self.correlations:
            missing = [r for r in c.refs if r not in known]
            if missing:
                raise CorrelationError(f"{c.title}: refers to rules not loaded: {missing}")

    @classmethod
    def from_paths(cls, *paths: Path | str, max_groups: int = 100_000) -> SigmaCorrelator:
        bases, correlations = load_correlations(*paths)
        return cls(SigmaDetector(bases), correlations, max_groups=max_groups)

    # --- protocol -------------------------------------------------------------------------

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0 or not self.correlations:
            return empty_alerts()
        masks = self.base.matches(batch)
        fired_rows: dict[str, pl.DataFrame] = {}
        alerts = []
        for corr in self.correlations:
            matches = self._matches(corr, batch, masks, fired_rows)
            fires = self._window(corr, matches, batch["time"].max())
            fired_rows[corr.id] = fires
            if fires.height:
                alerts.append(self._alerts(corr, fires))
        return pl.concat(alerts) if alerts else empty_alerts()

    def snapshot(self) -> Snapshot:
        frames = {f"tail/{k}": v for k, v in self.tails.items()}
        frames |= {f"fired/{k}": v for k, v in self.fired.items()}
        return {"frames": frames, "evicted": self.evicted}

    def restore(self, state: Snapshot) -> None:
        frames = state.get("frames", {})
        self.tails = {k[5:]: v for k, v in frames.items() if k.startswith("tail/")}
        self.fired = {k[6:]: v for k, v in frames.items() if k.startswith("fired/")}
        self.evicted = int(state.get("evicted", 0))

    # --- matches --------------------------------------------------------------------------

    def _matches(
        self,
        corr: Correlation,
        batch: pl.DataFrame,
        masks: dict[str, pl.Series],
        fired_rows: dict[str, pl.DataFrame],
    ) -> pl.DataFrame:
        """(time, tenant, event_id, _ref, group fields, _value) rows for this correlation."""
        parts = []
        for ref in corr.refs:
            if ref in fired_rows:  # a chained correlation: its firings are the matches
                if fired_rows[ref].height == 0:
                    continue
                source = fired_rows[ref].with_columns(event_id=pl.col("event_ids").list.last())
            elif ref in masks:
                source = batch.filter(masks[ref])
            else:
                continue
            if source.height == 0:
                continue
            cols: dict[str, pl.Expr] = {}
            for name in corr.group_by:
                field = corr.field_of(name, ref)
                cols[name] = (
                    pl.col(field).cast(pl.String)
                    if field in source.columns
                    else pl.lit(None, pl.String)
                )
            value = corr.field_of(corr.field, ref) if corr.field else None
            cols["_value"] = (
                pl.col(value).cast(pl.String)
                if value and value in source.columns
                else pl.lit(None, pl.String)
            )
            parts.append(source.select("time", "tenant", "event_id", _ref=pl.lit(ref), **cols))
        schema = pl.Schema(
            {
                "time": pl.Datetime("us", "UTC"),
                "tenant": pl.String(),
                "event_id": pl.String(),
                "_ref": pl.String(),
                **{g: pl.String() for g in corr.group_by},
                "_value": pl.String(),
            }
        )
        if not parts:
            return pl.DataFrame(schema=schema)
        return pl.concat(parts).cast(schema).sort("time", maintain_order=True)

    # --- windows ---------------------------------------------------------------------------

    def _window(self, corr: Correlation, matches: pl.DataFrame, batch_end: Any) -> pl.DataFrame:
        group = ["tenant", *corr.group_by]
        tail = self.tails.get(corr.id)
        current = matches.with_columns(_new=pl.lit(True))
        rows = current if tail is None else pl.concat([tail, current])
        rows = rows.sort("time", maintain_order=True)
        kept = rows.filter(pl.col("time") > batch_end - corr.timespan).with_columns(
            _new=pl.lit(False)
        )
        self.tails[corr.id] = self._bounded(kept, group)
        if current.height == 0:
            return current.clear()
        period = f"{int(corr.timespan.total_seconds() * 1_000_000)}us"
        if corr.type == "temporal_ordered":
            scored = self._ordered(corr, rows, group)
        else:
            measure = {
                "event_count": pl.len(),
                "value_count": pl.col("_value").drop_nulls().n_unique(),
                "temporal": pl.col("_ref").n_unique(),
            }[corr.type]
            scored = rows.rolling(index_column="time", period=period, group_by=group).agg(
                _measure=measure, _new=pl.col("_new").last(), event_id=pl.col("event_id").last()
            )
        compare = _OPS[corr.op]
        candidates = scored.filter(pl.col("_new") & compare(pl.col("_measure"), corr.count))
        return self._once_per_bucket(
            corr, candidates.sort("time", maintain_order=True), group, rows
        )

    def _ordered(self, corr: Correlation, rows: pl.DataFrame, group: list[str]) -> pl.DataFrame:
        """For each match of the last rule: did the earlier rules match before it, in order,
        all within the timespan? Found step by step with as-of joins (latest chain start)."""
        steps = [rows.filter(pl.col("_ref") == ref) for ref in corr.refs]
        chain = steps[0].select(*group, "time", _start=pl.col("time"))
        for step in steps[1:]:
            here = step.select(*group, "time", "_new", "event_id").sort("time")
            previous = chain.sort("time").rename({"time": "_prev"})
            chain = here.join_asof(
                previous,
                left_on="time",
                right_on="_prev",
                by=group,
                strategy="backward",
                check_sortedness=False,  # both sides are sorted by time above
            ).filter(
                pl.col("_start").is_not_null()
                & (pl.col("time") - pl.col("_start") <= corr.timespan)
            )
            chain = chain.select(*group, "time", "_start", "_new", "event_id")
        if chain.height == 0 or "_new" not in chain.columns:
            return (
                rows.clear()
                .select(*group, "time", "_new", "event_id")
                .with_columns(_measure=pl.lit(0, pl.UInt32))
            )
        return chain.with_columns(_measure=pl.lit(len(corr.refs), pl.UInt32)).select(
            *group, "time", "_new", "event_id", "_measure"
        )

    def _bounded(self, tail: pl.DataFrame, group: list[str]) -> pl.DataFrame:
        """At most `max_groups` live groups: the least recently active are evicted."""
        if tail.height == 0:
            return tail
        recent = tail.group_by(group).agg(_last=pl.col("time").max())
        if recent.height <= self.max_groups:
            return tail
        self.evicted += recent.height - self.max_groups
        keep = recent.sort("_last", descending=True).head(self.max_groups).select(group)
        return tail.join(keep, on=group, how="semi", nulls_equal=True)

    def _once_per_bucket(
        self, corr: Correlation, candidates: pl.DataFrame, group: list[str], rows: pl.DataFrame
    ) -> pl.DataFrame:
        if candidates.height == 0:
            return candidates.select(*group, "time", "event_id").with_columns(
                _bucket=pl.lit(None, pl.Datetime("us", "UTC")),
                _measure=pl.lit(0, pl.UInt32),
                event_ids=pl.lit([], pl.List(pl.String)),
            )
        fires, self.fired[corr.id] = once_per_bucket(
            candidates, group, corr.timespan, self.fired.get(corr.id)
        )
        evidence = (
            fires.select(*group, "_bucket", _end=pl.col("time"))
            .join(rows.select(*group, "time", "event_id"), on=group, nulls_equal=True)
            .filter(
                (pl.col("time") <= pl.col("_end"))
                & (pl.col("time") > pl.col("_end") - corr.timespan)
            )
            .group_by([*group, "_bucket"], maintain_order=True)
            .agg(event_ids=pl.col("event_id").tail(_EVIDENCE_CAP))
        )
        return fires.select(*group, "time", "_bucket", "_measure").join(
            evidence, on=[*group, "_bucket"], how="left", nulls_equal=True
        )

    # --- alerts ----------------------------------------------------------------------------

    def _alerts(self, corr: Correlation, fires: pl.DataFrame) -> pl.DataFrame:
        shown = [pl.lit(f"{g}=") + pl.col(g).fill_null("∅") for g in corr.group_by]
        what = {
            "event_count": "matching events",
            "value_count": f"distinct {corr.field}",
            "temporal": "of the rules matched",
            "temporal_ordered": "rules matched in order",
        }[corr.type]
        explanation = pl.concat_str(
            [
                pl.lit(f"Sigma correlation '{corr.title}': "),
                pl.col("_measure").cast(pl.String),
                pl.lit(f" {what} within {human(corr.timespan)} ({corr.op} {corr.count})"),
                *([pl.lit(" for ")] if shown else []),
                pl.concat_str(shown, separator=", ") if shown else pl.lit(""),
            ]
        )
        entity = corr.group_by[0] if corr.group_by else None
        frame = fires.select(
            "time",
            "tenant",
            "event_ids",
            rule_id=pl.lit(corr.id),
            title=pl.lit(corr.title),
            severity=pl.lit(metadata.severity(corr.level)),
            score=pl.lit(metadata.score(corr.level)),
            stage=pl.lit(metadata.stage(corr.tags), pl.String),
            attack=pl.lit(metadata.techniques(corr.tags), pl.List(pl.String)),
            entity_type=pl.lit(_ENTITY_TYPES.get(entity or "", "group")),
            entity_id=pl.col(entity).fill_null("∅") if entity else pl.lit("all"),
            explanation=explanation,
            _key=pl.concat_str(
                [
                    *(pl.col(g).fill_null("∅") for g in corr.group_by),
                    pl.col("_bucket").cast(pl.String),
                ],
                separator="|",
            ),
        )
        return make_alerts(frame, self.name, ["rule_id", "tenant", "_key"])
