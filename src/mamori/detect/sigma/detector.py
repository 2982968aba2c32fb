"""The Sigma detector: compiled Sigma rules run over `winlog` batches.

Per batch, rules are grouped by route (their log source): each route's row mask is computed
once, the batch is cut to those rows and prepared once (missing fields as nulls, lower-cased
copies of the fields the route's rules read), and all the route's rule conditions are
evaluated in one Polars `select`, so identical tests shared by several rules (Polars'
common-subexpression elimination) run once. Only the rows a rule matched are then turned
into alerts, with the named detections that were true and the values of their fields as
the explanation.

The detector is stateless (correlation rules are a later step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import polars as pl

from mamori.detect.base import Detector, make_alerts
from mamori.detect.sigma import metadata
from mamori.detect.sigma.compiler import KEYWORDS, CompiledRule, lc, prepare
from mamori.detect.sigma.loading import CompileReport, load_rules
from mamori.detect.sigma.logsource import Route, route_for
from mamori.events.schema import empty_alerts

_USER_FIELDS = ("User", "TargetUserName", "SubjectUserName")
_VALUE_CAP = 200
_NO_USER = ("-", "", "SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE")


class SigmaDetector(Detector):
    """Runs compiled Sigma rules (see `load_rules`) over `winlog` batches.

    >>> det = SigmaDetector([])
    >>> det.name, sorted(det.kinds)
    ('sigma', ['winlog'])
    """

    name: ClassVar[str] = "sigma"
    kinds: ClassVar[frozenset[str]] = frozenset({"winlog"})

    def __init__(self, rules: Iterable[CompiledRule]) -> None:
        self.rules = list(rules)
        self.routes: dict[str, tuple[Route, list[CompiledRule]]] = {}
        self.unrouted: list[CompiledRule] = []
        for rule in self.rules:
            route = route_for(rule.rule.logsource)
            if route is None:
                self.unrouted.append(rule)
                continue
            self.routes.setdefault(route.key, (route, []))[1].append(rule)
        self.report: CompileReport | None = None

    @classmethod
    def from_paths(
        cls, *paths: Path | str, placeholders: Mapping[str, Sequence[str]] | None = None
    ) -> SigmaDetector:
        """A detector with the rules in files and folders; `report` says what was left out."""
        rules, report = load_rules(*paths, placeholders=placeholders, routed_only=True)
        detector = cls(rules)
        detector.report = report
        return detector

    # --- protocol -----------------------------------------------------------------------

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0 or not self.routes:
            return empty_alerts()
        masks = batch.select(
            [route.mask().alias(key) for key, (route, _) in self.routes.items()]
            if "Channel" in batch.columns
            else [pl.lit(False).alias(key) for key in self.routes]
        )
        out: list[pl.DataFrame] = []
        for key, (route, rules) in self.routes.items():
            mask = masks[key]
            if not mask.any():
                continue
            out.extend(self._run_route(route, rules, batch.filter(mask)))
        out = [a for a in out if a.height]
        return pl.concat(out) if out else empty_alerts()

    def matches(self, batch: pl.DataFrame) -> dict[str, pl.Series]:
        """Row masks of the rules that matched at least one row, by rule id (for evaluation
        and hunting); masks are over the whole batch."""
        found: dict[str, pl.Series] = {}
        indexed = batch.with_row_index("\x00row")
        for _, (route, rules) in self.routes.items():
            part = indexed.filter(route.mask()) if "Channel" in batch.columns else None
            if part is None or part.height == 0:
                continue
            hits, _ = self._evaluate(route, rules, part)
            rows = part["\x00row"]
            for i, rule in enumerate(rules):
                col = hits[str(i)]
                if col.any():
                    mask = pl.Series([False] * batch.height)
                    mask = mask.scatter(rows.filter(col), True)
                    found[rule.id] = found[rule.id] | mask if rule.id in found else mask
        return found

    # --- one route ----------------------------------------------------------------------

    def _evaluate(
        self, route: Route, rules: list[CompiledRule], part: pl.DataFrame
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The rules' hit columns (named by index) and the prepared rows."""
        fields: set[str] = set()
        lowercase: set[str] = set()
        keywords = False
        for rule in rules:
            fields |= rule.fields
            lowercase |= rule.lowercase
            keywords |= rule.keywords
        part = _apply_renames(route, part)
        prepared = prepare(part, fields, lowercase, keywords)
        hits = (
            prepared.lazy()
            .select([r.condition.alias(str(i)) for i, r in enumerate(rules)])
            .collect()
        )
        return hits, prepared

    def _run_route(
        self, route: Route, rules: list[CompiledRule], part: pl.DataFrame
    ) -> list[pl.DataFrame]:
        hits, prepared = self._evaluate(route, rules, part)
        counts = hits.select(pl.all().sum()).row(0)
        base = ["time", "tenant", "event_id", "Computer", *_USER_FIELDS]
        out = []
        for i, (rule, n) in enumerate(zip(rules, counts, strict=True)):
            if not n:
                continue
            # only the columns the alert needs: filtering a wide frame costs per column
            needed = dict.fromkeys([*base, *rule.fields, *(lc(f) for f in rule.lowercase)])
            if rule.keywords:
                needed[KEYWORDS] = None
            rows = prepared.select([c for c in needed if c in prepared.columns])
            out.append(self._alerts(rule, rows.filter(hits[str(i)])))
        return out

    def _alerts(self, rule: CompiledRule, rows: pl.DataFrame) -> pl.DataFrame:
        sigma = rule.rule
        names = list(rule.selections)
        flags = rows.select([rule.selections[n].alias(f"\x00sel:{n}") for n in names])
        parts: list[pl.Expr] = []
        for n in names:
            shown = [f for f in rule.selection_fields[n] if f in rows.columns]
            values = [
                pl.lit(f"{f}=") + pl.col(f).cast(pl.String).fill_null("∅").str.head(_VALUE_CAP)
                for f in shown
            ]
            text = pl.lit(n) + (
                pl.lit(" (") + pl.concat_str(values, separator="; ") + pl.lit(")")
                if values
                else pl.lit("")
            )
            parts.append(pl.when(flags[f"\x00sel:{n}"]).then(text))
        explanation = pl.lit(f"Sigma rule '{sigma.title}' matched: ") + pl.concat_str(
            parts, separator=", ", ignore_nulls=True
        )
        users = [
            pl.when(pl.col(f).is_not_null() & ~pl.col(f).is_in(_NO_USER)).then(
                pl.lit("user:") + pl.col(f).cast(pl.String)
            )
            for f in _USER_FIELDS
            if f in rows.columns
        ]
        related = (
            pl.concat_list(users).list.drop_nulls().list.unique(maintain_order=True)
            if users
            else pl.lit([], pl.List(pl.String))
        )
        host = (
            pl.col("Computer").cast(pl.String).fill_null("unknown")
            if "Computer" in rows.columns
            else pl.lit("unknown")
        )
        frame = rows.select(
            "time",
            "tenant",
            "event_id",
            rule_id=pl.lit(rule.id),
            title=pl.lit(sigma.title),
            severity=pl.lit(metadata.severity(sigma.level)),
            score=pl.lit(metadata.score(sigma.level)),
            stage=pl.lit(metadata.stage(sigma.tags), pl.String),
            attack=pl.lit(metadata.techniques(sigma.tags), pl.List(pl.String)),
            entity_type=pl.lit("host"),
            entity_id=host,
            related=related,
            event_ids=pl.concat_list(pl.col("event_id")),
            explanation=explanation,
        )
        return make_alerts(frame, self.name, ["rule_id", "tenant", "event_id"])


def _apply_renames(route: Route, part: pl.DataFrame) -> pl.DataFrame:
    """Fill Sigma field names from the fields a source uses instead (4688's NewProcessName
    becomes Image on the rows of that source)."""
    fixes: list[pl.Expr] = []
    for source in route.sources:
        for target, origin in source.renames:
            if origin not in part.columns:
                continue
            current = pl.col(target) if target in part.columns else pl.lit(None, pl.String)
            fixes.append(
                pl.when(source.mask()).then(pl.col(origin)).otherwise(current).alias(target)
            )
    return part.with_columns(fixes) if fixes else part
