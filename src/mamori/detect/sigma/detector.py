"""The Sigma detector: compiled Sigma rules run over `winlog` batches.

Per batch, rules are grouped by route (their log source): each route's row mask is computed
once and the batch is cut to those rows and prepared once (missing fields as nulls). Then,
per route (see `_Plan`):

* rules with a requirement (`prefilter`: literal text that must occur in some fields for
  the rule to match) are prefiltered together: each field is searched once for all the
  needles of all the route's rules (one Aho-Corasick pass, `str.extract_many`), anchored
  literals are checked on the pairs found, and each rule's exact compiled condition is
  evaluated only on its candidate rows: candidate rules are grouped (`_chunks`) so that one
  `select` over the union of a group's candidate rows, with only the columns they read,
  decides all of them (each rule's condition AND its candidate mask); often no rule of a
  route is a candidate and nothing more runs;
* the other rules (negations only, regexes, numbers, ...) are evaluated in one Polars
  `select` over the route's rows, so identical tests shared by several rules (Polars'
  common-subexpression elimination) run once;
* lower-cased copies of fields are made for the whole route only where the needle search or
  the rules evaluated in full read them, otherwise on a group's candidate rows; the keyword
  text likewise (a keyword needle is first searched ASCII case-insensitively in the fields
  themselves, see `_keyword_rows`).

The prefilter never decides a match: the compiled expressions do, on rows that include all
the rows that can match, so results are those of the plain expressions
(``SigmaDetector(rules, prefilter=False)`` evaluates every rule in full, for comparison).
Only the rows a rule matched are turned into alerts, with the named detections that were
true and the values of their fields as the explanation (a route's matched rows are gathered
once and the per-rule alert plans collected together); the rule's metadata, ids and the
alert schema are added for all of a batch's alerts in one pass.

The detector is stateless (correlation rules are a later step).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import polars as pl

from mamori.detect.base import Detector, make_alerts
from mamori.detect.sigma import metadata
from mamori.detect.sigma.compiler import (
    KEYWORDS,
    NUMERIC_FIELDS,
    CompiledRule,
    keyword_text,
    lc,
    prepare,
    searched,
)
from mamori.detect.sigma.loading import CompileReport, load_rules
from mamori.detect.sigma.logsource import Route, route_for
from mamori.detect.sigma.prefilter import requirement
from mamori.events.schema import empty_alerts

_USER_FIELDS = ("User", "TargetUserName", "SubjectUserName")
_VALUE_CAP = 200
_NO_USER = ("-", "", "SYSTEM", "LOCAL SERVICE", "NETWORK SERVICE")


class SigmaDetector(Detector):
    """Runs compiled Sigma rules (see `load_rules`) over `winlog` batches; with
    `prefilter=False` every rule's expression runs on every row of its route (slower, same
    results: for tests and comparisons).

    >>> det = SigmaDetector([])
    >>> det.name, sorted(det.kinds)
    ('sigma', ['winlog'])
    """

    name: ClassVar[str] = "sigma"
    kinds: ClassVar[frozenset[str]] = frozenset({"winlog"})

    def __init__(self, rules: Iterable[CompiledRule], prefilter: bool = True) -> None:
        self.rules = list(rules)
        self.prefilter = prefilter
        self.routes: dict[str, tuple[Route, list[CompiledRule]]] = {}
        self.unrouted: list[CompiledRule] = []
        for rule in self.rules:
            route = route_for(rule.rule.logsource)
            if route is None:
                self.unrouted.append(rule)
                continue
            self.routes.setdefault(route.key, (route, []))[1].append(rule)
        self.report: CompileReport | None = None
        self._index = {id(r): i for i, r in enumerate(self.rules)}
        self._meta: pl.DataFrame | None = None
        #: alert expressions by rule and the columns of its rows (built once, reused)
        self._alert_cache: dict[tuple[int, frozenset[str]], list[pl.Expr]] = {}
        self._plans = {key: _Plan(rules, prefilter) for key, (_, rules) in self.routes.items()}

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
            part = _columns_for(self._plans[key], route, batch)
            out.extend(self._run_route(route, rules, part if mask.all() else part.filter(mask)))
        return self._finish(out)

    def matches(self, batch: pl.DataFrame) -> dict[str, pl.Series]:
        """Row masks of the rules that matched at least one row, by rule id (for evaluation
        and hunting); masks are over the whole batch."""
        found: dict[str, pl.Series] = {}
        indexed = batch.with_row_index("\x00row")
        for key, (route, rules) in self.routes.items():
            part = (
                _columns_for(self._plans[key], route, indexed).filter(route.mask())
                if "Channel" in batch.columns
                else None
            )
            if part is None or part.height == 0:
                continue
            distinct, back = _distinct(part)
            hits = self._evaluate(route, rules, distinct)
            rows = part["\x00row"]
            for i, where in hits.items():
                rule = rules[i]
                mine = (
                    rows.gather(where) if back is None else rows.filter(back.is_in(where.implode()))
                )
                mask = pl.Series([False] * batch.height).scatter(mine, True)
                found[rule.id] = found[rule.id] | mask if rule.id in found else mask
        return found

    # --- one route ----------------------------------------------------------------------

    def _evaluate(
        self, route: Route, rules: list[CompiledRule], part: pl.DataFrame
    ) -> dict[int, pl.Series]:
        """The rules that matched (by index in `rules`) with the positions of their matching
        rows in `part`."""
        plan = self._plans[route.key]
        part = _apply_renames(route, part)
        return plan.evaluate(prepare(part, plan.fields, plan.lowercase, plan.keywords))

    def _run_route(
        self, route: Route, rules: list[CompiledRule], part: pl.DataFrame
    ) -> list[pl.DataFrame]:
        plan = self._plans[route.key]
        distinct, back = _distinct(part)
        prepared = prepare(
            _apply_renames(route, distinct), plan.fields, plan.lowercase, plan.keywords
        )

        def alerts(rule: CompiledRule, columns: set[str]) -> list[pl.Expr]:
            key = (id(rule), frozenset(columns))
            if key not in self._alert_cache:
                self._alert_cache[key] = self._alert_columns(rule, self._index[id(rule)], columns)
            return self._alert_cache[key]

        hits = plan.evaluate(prepared)
        if not hits:
            return []
        order = sorted(hits)
        chosen = [rules[i] for i in order]
        # all matched rows of all the route's rules gathered once, then one plan per rule
        # (collected together) turns each rule's rows into its alerts
        union = pl.concat([hits[i] for i in order]).unique().sort()
        frame = _union_rows(prepared, chosen, union, _ALERT_BASE)
        columns = set(prepared.columns)
        local = {i: union.search_sorted(hits[i], side="left").cast(pl.UInt32) for i in order}
        plans = [
            pl.concat([frame[local[i]], plan.shown[i]], how="horizontal")
            .lazy()
            .select(alerts(rules[i], _row_columns(rules[i], columns)))
            for i in order
        ]
        found = pl.concat(plans, how="vertical_relaxed").collect()
        if back is None:
            return [found]
        # alerts were built once per distinct content; each event that has it gets one
        events = part.select(_PER_ALERT).with_columns(back.alias(_DISTINCT))
        found = found.drop(_PER_ALERT).with_columns(
            pl.concat([hits[i] for i in order]).alias(_DISTINCT)
        )
        return [
            found.join(events, on=_DISTINCT, maintain_order="left_right").select(
                pl.col("time"),
                pl.col("tenant"),
                pl.col("event_id"),
                pl.exclude("time", "tenant", "event_id", _DISTINCT),
            )
        ]

    def _alert_columns(self, rule: CompiledRule, index: int, columns: set[str]) -> list[pl.Expr]:
        """The alert columns that depend on the rows (time, tenant, event_id, entity_id,
        related, explanation, and the rule's index in `rules`, see `_finish`), as expressions
        over a frame with `columns`."""
        names = list(rule.selections)
        parts: list[pl.Expr] = []
        for n in names:
            shown = [f for f in rule.selection_fields[n] if f in columns]
            values = [
                pl.lit(f"{f}=") + pl.col(f).cast(pl.String).fill_null("∅").str.head(_VALUE_CAP)
                for f in shown
            ]
            text = pl.lit(n) + (
                pl.lit(" (") + pl.concat_str(values, separator="; ") + pl.lit(")")
                if values
                else pl.lit("")
            )
            parts.append(pl.when(pl.col(_SHOWN + n)).then(text))
        explanation = pl.lit(f"Sigma rule '{rule.rule.title}' matched: ") + pl.concat_str(
            parts, separator=", ", ignore_nulls=True
        )
        users = [
            pl.when(pl.col(f).is_not_null() & ~pl.col(f).is_in(_NO_USER)).then(
                pl.lit("user:") + pl.col(f).cast(pl.String)
            )
            for f in _USER_FIELDS
            if f in columns
        ]
        related = (
            pl.concat_list(users).list.drop_nulls().list.unique(maintain_order=True)
            if users
            else pl.lit([], pl.List(pl.String))
        )
        host = (
            pl.col("Computer").cast(pl.String).fill_null("unknown")
            if "Computer" in columns
            else pl.lit("unknown")
        )
        return [
            pl.col("time"),
            pl.col("tenant"),
            pl.col("event_id"),
            pl.lit(index, pl.UInt32).alias(_RULE),
            host.alias("entity_id"),
            related.alias("related"),
            explanation.alias("explanation"),
        ]

    def _finish(self, found: list[pl.DataFrame]) -> pl.DataFrame:
        """All of a batch's alerts from the per-rule frames of `_alerts`, in one pass: rule
        metadata joined by rule index, then ids and the alert schema."""
        found = [f for f in found if f.height]
        if not found:
            return empty_alerts()
        frame = pl.concat(found, how="vertical_relaxed")
        meta = self._metadata()[frame[_RULE]]
        frame = pl.concat([frame.drop(_RULE), meta], how="horizontal").with_columns(
            entity_type=pl.lit("host"), event_ids=pl.concat_list(pl.col("event_id"))
        )
        return make_alerts(frame, self.name, ["rule_id", "tenant", "event_id"])

    def _metadata(self) -> pl.DataFrame:
        """One row per rule (by index in `rules`): the alert columns that only depend on
        the rule."""
        if self._meta is None:
            sigma = [r.rule for r in self.rules]
            self._meta = pl.DataFrame(
                {
                    "rule_id": [r.id for r in self.rules],
                    "title": [s.title for s in sigma],
                    "severity": [metadata.severity(s.level) for s in sigma],
                    "score": [metadata.score(s.level) for s in sigma],
                    "stage": [metadata.stage(s.tags) for s in sigma],
                    "attack": [metadata.techniques(s.tags) for s in sigma],
                },
                schema={
                    "rule_id": pl.String,
                    "title": pl.String,
                    "severity": pl.String,
                    "score": pl.Float64,
                    "stage": pl.String,
                    "attack": pl.List(pl.String),
                },
            )
        return self._meta


_RULE = "\x00rule"
#: Columns the alerts read besides the rule's own.
_ALERT_BASE = ("time", "tenant", "event_id", "Computer", *_USER_FIELDS)
_ROW = "\x00pos"


class _Plan:
    """How one route's rules are evaluated: the prepared columns they need, and the shared
    prefilter (see `prefilter`): per field, the needles of the rules that have a
    requirement and, per needle, those rules."""

    def __init__(self, rules: list[CompiledRule], prefilter: bool) -> None:
        self.rules = rules
        #: per rule matched in the last `evaluate`, its named detections' truth on its rows
        self.shown: dict[int, pl.DataFrame] = {}
        self.fields: set[str] = set()
        self.keywords = False
        for rule in rules:
            self.fields |= rule.fields
            self.keywords |= rule.keywords
        #: whether some rule searches keywords (reads every string field)
        self.any_keywords = self.keywords
        self.always: list[int] = []
        pairs: dict[str, list[tuple[str, str, int]]] = {}
        clause_rule: list[int] = []
        for i, rule in enumerate(rules):
            req = requirement(rule.rule, NUMERIC_FIELDS) if prefilter else None
            if not req or any(
                f not in rule.fields and not (f == KEYWORDS and rule.keywords)
                for c in req
                for f, _, _ in c
            ):
                self.always.append(i)
                continue
            for clause in req:
                for f, needle, kind in clause:
                    pairs.setdefault(f, []).append((needle, kind, len(clause_rule)))
                clause_rule.append(i)
        #: lower-cased copies made for the whole batch: those of the rules always evaluated
        #: in full and of the fields searched for needles; the other rules' copies are made
        #: on their candidate rows only (`_complete`)
        self.lowercase: set[str] = set(pairs) - {KEYWORDS}
        for i in self.always:
            self.lowercase |= rules[i].lowercase
        #: the keyword text is made for the whole batch only if a rule always evaluated in
        #: full reads it; otherwise only on the rows where a keyword may occur
        self.keywords = any(rules[i].keywords for i in self.always)
        #: per rule the number of its clauses
        self.clause_count = (
            pl.DataFrame({"rule": clause_rule}, schema={"rule": pl.UInt32})
            .group_by("rule")
            .len("clauses")
        )
        #: field → (needles, frame of needle → clause id and its rule)
        self.needles: dict[str, tuple[list[str], pl.DataFrame]] = {
            f: (
                sorted({n for n, _, _ in p}),
                pl.DataFrame(
                    {
                        "needle": [n for n, _, _ in p],
                        "kind": [k for _, k, _ in p],
                        "clause": [c for _, _, c in p],
                        "rule": [clause_rule[c] for _, _, c in p],
                    },
                    schema={
                        "needle": pl.String,
                        "kind": pl.String,
                        "clause": pl.UInt32,
                        "rule": pl.UInt32,
                    },
                ).unique(),
            )
            for f, p in sorted(pairs.items())
        }

    def _candidates(self, prepared: pl.DataFrame) -> pl.DataFrame:
        """(position, rule) pairs where every clause of the rule has a literal that holds: its
        needle occurs (one Aho-Corasick pass per field for all needles), and where the
        literal is anchored, it occurs at the start, at the end, or is the whole value."""
        found: list[pl.DataFrame] = []
        for f, (needles, table) in self.needles.items():
            if f == KEYWORDS and KEYWORDS not in prepared.columns:
                texts = _keyword_rows(prepared, needles)
            else:
                texts = prepared.lazy().select(
                    pl.int_range(pl.len(), dtype=pl.UInt32).alias(_ROW),
                    pl.col(lc(f) if f != KEYWORDS else KEYWORDS).alias("text"),
                )
            hits = (
                texts.with_columns(
                    pl.col("text")
                    .str.extract_many(needles, overlapping=True)
                    .list.unique()
                    .alias("needle"),
                )
                .explode("needle")
                .drop_nulls("needle")
                .join(table.lazy(), on="needle")
                .filter(
                    (pl.col("kind") == "contains")
                    | ((pl.col("kind") == "exact") & (pl.col("text") == pl.col("needle")))
                    | (
                        (pl.col("kind") == "startswith")
                        & pl.col("text").str.starts_with(pl.col("needle"))
                    )
                    | (
                        (pl.col("kind") == "endswith")
                        & pl.col("text").str.ends_with(pl.col("needle"))
                    )
                )
                .select(_ROW, "clause", "rule")
                .collect()
            )
            if hits.height:
                found.append(hits)
        if not found:
            return pl.DataFrame(schema={_ROW: pl.UInt32, "rule": pl.UInt32})
        return (
            pl.concat(found)
            .lazy()
            .unique()
            .group_by(_ROW, "rule")
            .len("n")
            .join(self.clause_count.lazy(), on="rule")
            .filter(pl.col("n") == pl.col("clauses"))
            .select(_ROW, "rule")
            .collect()
        )

    def _collect(
        self,
        decided: pl.DataFrame,
        indices: Sequence[int],
        positions: np.ndarray,
        out: dict[int, pl.Series],
    ) -> None:
        """Into `out` (and `shown`), the matches of rules `indices` from a frame of their
        `_decisions` over the prepared rows at `positions` (bookkeeping in NumPy: one frame
        conversion for all the rules, not a few Polars calls per rule)."""
        table = decided.to_numpy()
        column = {name: j for j, name in enumerate(decided.columns)}
        verdicts = table[:, [column[str(i)] for i in indices]]
        for k in np.flatnonzero(verdicts.any(axis=0)):
            i = indices[int(k)]
            where = verdicts[:, k]
            shown = [_SHOWN + n for n in self.rules[i].selections]
            out[i] = pl.Series(_ROW, positions[where], pl.UInt32)
            self.shown[i] = pl.DataFrame(
                {
                    name: table[where, column[f"{i}\x00{n}"]]
                    for name, n in zip(shown, self.rules[i].selections, strict=True)
                },
                schema=dict.fromkeys(shown, pl.Boolean),
            )

    def evaluate(self, prepared: pl.DataFrame) -> dict[int, pl.Series]:
        """Rule index → positions (UInt32, ascending) of the prepared rows it matches, only
        for rules with at least one match; `shown` then holds, per matched rule, which of its
        named detections were true on those rows (for explanations). The prefiltered rules
        are decided together: one lazy `select` over the union of their candidate rows
        evaluates each candidate rule's condition AND its candidate mask, and its named
        detections, so tests they share run once."""
        out: dict[int, pl.Series] = {}
        self.shown = {}
        if self.always:
            decided = (
                prepared.lazy()
                .select(
                    expr
                    for i in self.always
                    for expr in _decisions(i, self.rules[i], self.rules[i].condition)
                )
                .collect()
            )
            self._collect(decided, self.always, np.arange(prepared.height, dtype=np.uint32), out)
        if not self.needles:
            return out
        pairs = self._candidates(prepared)
        if pairs.height == 0:
            return out
        ordered = pairs.sort("rule", _ROW)
        rule_ids = ordered["rule"].to_numpy()
        positions = ordered[_ROW].to_numpy()
        bounds = np.r_[np.flatnonzero(np.r_[True, rule_ids[1:] != rule_ids[:-1]]), len(rule_ids)]
        rows = {
            int(rule_ids[a]): positions[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)
        }
        for chunk in _chunks(rows):
            union_np = np.unique(np.concatenate([rows[i] for i in chunk]))
            union = pl.Series(_ROW, union_np, pl.UInt32)
            frame = _union_rows(prepared, [self.rules[i] for i in chunk], union)
            table = np.zeros((len(chunk), len(union_np)), dtype=bool)
            for k, i in enumerate(chunk):
                table[k, np.searchsorted(union_np, rows[i])] = True
            masks = [pl.Series(f"\x00m{i}", table[k]) for k, i in enumerate(chunk)]
            # lazy, so that tests shared by the chunk's rules run once (Polars' common
            # subexpression elimination does not run on eager frames)
            decided = (
                frame.with_columns(masks)
                .lazy()
                .select(
                    expr
                    for i in chunk
                    for expr in _decisions(
                        i, self.rules[i], pl.col(f"\x00m{i}") & self.rules[i].condition
                    )
                )
                .collect()
            )
            self._collect(decided, chunk, union_np, out)
        return out


def _decisions(index: int, rule: CompiledRule, condition: pl.Expr) -> list[pl.Expr]:
    """A rule's decision (named by its index) and its named detections, for one query."""
    return [
        condition.fill_null(False).alias(str(index)),
        *(expr.fill_null(False).alias(f"{index}\x00{n}") for n, expr in rule.selections.items()),
    ]


#: Prefix of the columns that say whether a named detection was true on an alert's event.
_SHOWN = "\x00shown:"

#: Cost of one more Polars query, in rows evaluated by one rule: rules are evaluated
#: together over the union of their candidate rows while that wastes less than this.
_QUERY_ROWS = 4000


def _chunks(rows: dict[int, np.ndarray]) -> list[list[int]]:
    """Rules (keys of `rows`, their candidate positions) grouped so that evaluating each
    group's rules over the union of its rows costs little more than each on its own rows."""
    order = sorted(rows, key=lambda i: (len(rows[i]), i))
    out: list[list[int]] = []
    chunk: list[int] = []
    union: set[int] = set()
    own = 0
    for i in order:
        mine = rows[i].tolist()
        grown = union.union(mine)
        if chunk and len(grown) * (len(chunk) + 1) > 2 * (own + len(mine)) + _QUERY_ROWS:
            out.append(sorted(chunk))
            chunk, union, own = [], set(mine), 0
        else:
            union = grown
        chunk.append(i)
        own += len(mine)
    if chunk:
        out.append(sorted(chunk))
    return out


#: The only characters whose Unicode lower case has ASCII letters (K → k, İ → i̇): a row
#: holding one may match a lower-cased needle that an ASCII case-insensitive search misses.
_ASCII_LOWERING = ["\u212a", "\u0130"]


def _keyword_rows(prepared: pl.DataFrame, needles: list[str]) -> pl.LazyFrame:
    """Positions and keyword text (`KEYWORDS`) of the rows where a keyword needle may occur.

    The needles are ASCII without the field separator, so one that occurs in the lower-cased
    joined text occurs in the lower-cased value of one searched field, and there, for a value
    without `_ASCII_LOWERING` characters, ASCII case-insensitively: the fields are searched
    as they are (no lower-casing, no joining) and the text is only made for the rows found."""
    # an all-null field adds nothing to the keyword text: not searched (null counts are free)
    height = prepared.height
    text = [c for c in searched(prepared) if prepared[c].null_count() < height]
    if not text:
        maybe = pl.lit(False)
    else:
        search = [*needles, *_ASCII_LOWERING]  # one pass: the specials are not ASCII
        maybe = pl.any_horizontal(
            pl.col(c).str.contains_any(search, ascii_case_insensitive=True) for c in text
        ).fill_null(False)
    where = prepared.select(maybe.arg_true().cast(pl.UInt32)).to_series()
    rows = prepared[where]
    return rows.lazy().select(where.alias(_ROW), keyword_text(rows).alias("text"))


#: Columns that differ between events with the same content; rules never read them.
_PER_EVENT = frozenset({"event_id", "time", "tenant", "source", "kind", "\x00row"})
#: The per-event columns an alert carries.
_PER_ALERT = ["time", "tenant", "event_id"]
_DISTINCT = "\x00distinct"
#: Deduplicate a route's rows only when it leaves at most this share of them.
_DISTINCT_SHARE = 0.8


def _distinct(part: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series | None]:
    """The rows of `part` with distinct content, and for each row of `part` the position of
    its content among them (None when deduplicating would save little: `part` itself).

    Logs repeat: the same service start, the same process tree, the same logon, differing
    only in event id and time. Every column the route's rules can read (all but
    `_PER_EVENT`) makes the content, so a rule matches an event exactly when it matches the
    event's distinct content: rules run once per distinct content. Contents are told apart
    by a 64-bit row hash (two different contents in one batch of 10⁵ rows share a hash with
    a probability under 10⁻⁹).

    >>> part = pl.DataFrame({"event_id": ["a", "b", "c"], "Image": ["x", "y", "x"]})
    >>> distinct, back = _distinct(part)
    >>> distinct["event_id"].to_list(), back.to_list()
    (['a', 'b'], [0, 1, 0])
    """
    key = [c for c in part.columns if c not in _PER_EVENT]
    if part.height < 2 or not key:
        return part, None
    hashes = part.select(key).hash_rows()
    first = hashes.is_first_distinct()
    count = int(first.sum())
    if count > _DISTINCT_SHARE * part.height:
        return part, None
    table = pl.DataFrame(
        {"h": hashes.filter(first), _DISTINCT: pl.int_range(count, dtype=pl.UInt32, eager=True)}
    )
    back = (
        hashes.to_frame("h")
        .join(table, on="h", how="left", maintain_order="left")
        .get_column(_DISTINCT)
    )
    return part.filter(first), back


def _row_columns(rule: CompiledRule, columns: set[str]) -> set[str]:
    """The columns the alert expressions of `rule` may read over prepared rows with
    `columns` (with `_ALERT_BASE`): as if only the rule's own columns had been gathered."""
    needed = {*_ALERT_BASE, *rule.fields}
    out = (needed & columns) | {lc(f) for f in rule.lowercase}
    if rule.keywords:
        out.add(KEYWORDS)
    return out


def _union_rows(
    prepared: pl.DataFrame,
    rules: Sequence[CompiledRule],
    where: pl.Series,
    extra: Sequence[str] = (),
) -> pl.DataFrame:
    """The rows at positions `where` with the columns
    any of `rules` reads (and `extra` ones), missing lower-cased copies and the keyword text
    made on these rows only, with the same expressions as `prepare`."""
    columns = set(prepared.columns)
    lowercase = sorted({f for r in rules for f in r.lowercase})
    keywords = any(r.keywords for r in rules)
    needed = dict.fromkeys(
        [*extra, *sorted({f for r in rules for f in r.fields}), *(lc(f) for f in lowercase)]
    )
    if keywords:
        needed[KEYWORDS] = None
    if keywords and KEYWORDS not in columns:
        rows = prepared[where]
        rows = rows.with_columns(keyword_text(rows))
        columns = set(rows.columns)
    else:
        rows = prepared.select([c for c in needed if c in columns])[where]
    missing = [f for f in lowercase if lc(f) not in columns]
    if missing:
        rows = rows.with_columns(
            pl.col(f).cast(pl.String).str.to_lowercase().alias(lc(f)) for f in missing
        )
    have = columns | {lc(f) for f in missing}
    return rows.select([c for c in needed if c in have])


def _columns_for(plan: _Plan, route: Route, batch: pl.DataFrame) -> pl.DataFrame:
    """The columns of `batch` a route's rules and alerts can read: filtering a wide batch
    costs per column (all columns when a rule searches keywords in every field)."""
    if plan.any_keywords:
        return batch
    want = set(plan.fields) | set(_ALERT_BASE) | route.needs() | {"\x00row", "source", "kind"}
    for source in route.sources:
        for target, origin in source.renames:
            want |= {target, origin}
    keep = [c for c in batch.columns if c in want or c.replace(" ", "") in want]
    return batch if len(keep) == batch.width else batch.select(keep)


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
