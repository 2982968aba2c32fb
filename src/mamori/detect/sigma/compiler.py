"""Sigma detections compiled to Polars expressions.

pySigma parses a rule and resolves its modifiers into typed values (`SigmaString` with
wildcards, `SigmaRegularExpression`, `SigmaCIDRExpression`, `SigmaCompareExpression`,
`SigmaFieldReference`, `SigmaExists`, `SigmaNull`, `SigmaExpansion`, ...). This module walks
the rule's named detections and its condition and turns those values into one boolean
Polars expression per rule, plus one per named detection (used to explain a match).

Semantics, following the Sigma specification:

* string matching is case-insensitive unless the value is `|cased`; regular expressions
  (`|re`) are case-sensitive unless flagged `|i`, and match anywhere in the value (use
  ``^``/``$`` to anchor); `m` and `s` flags are honoured;
* a field absent from the batch is null, and every test on a null value is false (so
  ``not filter`` is true when the filter's field is missing); `|exists: false` is true;
  a `null` value matches a missing or null field;
* numbers compare numerically on numeric columns (`EventID`, ...) and as strings on
  string columns; `|gt`, `|gte`, `|lt`, `|lte` parse string columns as numbers;
* a list of values is OR-linked, or AND-linked with `|all`; values expanded by a modifier
  (`windash`, `base64offset`) are always OR-linked among themselves;
* keywords (values without a field) are searched in every string field of the event;
* `|cidr` matches IPv4/IPv6 networks, `|fieldref` compares two fields, `|expand`
  placeholders are replaced from a mapping (an unknown placeholder fails the rule);
* conditions: `and`, `or`, `not`, parentheses, `1 of x*`, `all of x*`, `1 of them`,
  `all of them`; several conditions in one rule are OR-linked.

Expressions read the prepared frame built by `prepare`: every field a rule reads is present
(null when the batch lacks it) and string tests read a lower-cased copy (`lc(field)`).

>>> from sigma.rule import SigmaRule
>>> rule = SigmaRule.from_yaml('''
... title: whoami
... logsource: {product: windows, category: process_creation}
... detection:
...     sel: {Image|endswith: '\\\\whoami.exe'}
...     condition: sel
... ''')
>>> compiled = compile_rule(rule)
>>> df = pl.DataFrame({"Image": ["C:\\\\Windows\\\\System32\\\\WHOAMI.EXE", "cmd.exe"]})
>>> ready = prepare(df, compiled.fields, compiled.lowercase)
>>> ready.select(compiled.condition).to_series().to_list()
[True, False]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl
from pyparsing import ParseResults
from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionItem,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.modifiers import SigmaWideModifier, modifier_mapping
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    CompareOperators,
    Placeholder,
    SigmaBool,
    SigmaCasedString,
    SigmaCIDRExpression,
    SigmaCompareExpression,
    SigmaExists,
    SigmaExpansion,
    SigmaFieldReference,
    SigmaNull,
    SigmaNumber,
    SigmaRegularExpression,
    SigmaRegularExpressionFlag,
    SigmaString,
    SigmaTimestampPart,
    SigmaType,
    TimestampPart,
)

from mamori.detect.sigma.strings import UnsupportedValue, match_any, search
from mamori.events.schema import WINLOG

# The Sigma specification names `utf16le` as an alias of `wide`; pySigma 2.0.1 lacks it.
modifier_mapping.setdefault("utf16le", SigmaWideModifier)

#: Fields whose values are numbers in `winlog` batches; all other fields are strings.
NUMERIC_FIELDS: frozenset[str] = frozenset(
    name for name, dtype in WINLOG.items() if dtype.is_numeric()
)
#: The prepared column holding every string field of an event, for keyword searches.
KEYWORDS = "\x00keywords"
#: Envelope columns never searched by keywords.
_NOT_SEARCHED = frozenset({"event_id", "time", "tenant", "source", "kind"})


class SigmaCompileError(ValueError):
    """A rule that cannot be compiled; the message says why."""


def lc(name: str) -> str:
    """The prepared column with the lower-cased string form of a field."""
    return f"\x00lc:{name}"


@dataclass(frozen=True)
class CompiledRule:
    """One Sigma rule as Polars expressions over a prepared frame.

    `condition` is true on the rows the rule matches; `selections` holds one expression per
    named detection and `selection_fields` the fields each reads (for explanations).
    `fields` are all the fields read, `lowercase` those read through their lower-cased copy,
    and `keywords` says whether the rule searches all string fields.
    """

    rule: SigmaRule
    condition: pl.Expr
    selections: dict[str, pl.Expr]
    selection_fields: dict[str, tuple[str, ...]]
    fields: frozenset[str]
    lowercase: frozenset[str]
    keywords: bool = False
    path: str | None = None

    @property
    def id(self) -> str:
        """The Sigma rule id (or the title when the rule has none)."""
        return str(self.rule.id) if self.rule.id else self.rule.title


@dataclass
class _Compiler:
    """Compiles one rule; collects the fields its expressions read."""

    placeholders: Mapping[str, Sequence[str]]
    numeric: frozenset[str]
    fields: set[str] = field(default_factory=set)
    lowercase: set[str] = field(default_factory=set)
    keywords: bool = False

    # --- columns ------------------------------------------------------------------------

    def raw(self, name: str) -> pl.Expr:
        self.fields.add(name)
        return pl.col(name)

    def text(self, name: str, lower: bool = True) -> pl.Expr:
        self.fields.add(name)
        if lower:
            self.lowercase.add(name)
            return pl.col(lc(name))
        return pl.col(name) if name not in self.numeric else pl.col(name).cast(pl.String)

    # --- values -------------------------------------------------------------------------

    def expand(self, values: list[SigmaType]) -> list[SigmaType]:
        """Replace `|expand` placeholders from the mapping (each becomes several values)."""
        out: list[SigmaType] = []
        for value in values:
            if isinstance(value, (SigmaString, SigmaRegularExpression)) and (
                value.contains_placeholder()
            ):
                out.extend(self._replace(value))
            elif isinstance(value, SigmaExpansion):
                out.append(SigmaExpansion(self.expand(value.values)))
            else:
                out.append(value)
        return out

    def _replace(self, value: SigmaString | SigmaRegularExpression) -> list[SigmaType]:
        def callback(p: Placeholder) -> Any:
            if p.name not in self.placeholders:
                raise SigmaCompileError(f"unknown placeholder %{p.name}% (no mapping given)")
            yield from self.placeholders[p.name]

        replaced = value.replace_placeholders(callback)
        if isinstance(value, SigmaCasedString):
            return [
                SigmaCasedString.from_sigma_string(v)
                for v in replaced
                if isinstance(v, SigmaString)
            ]
        return list(replaced)

    def value(self, name: str | None, value: SigmaType) -> pl.Expr:
        """One value tested against one field (or, without a field, as a keyword)."""
        if name is None:
            return self.keyword(value)
        if isinstance(value, SigmaExpansion):
            return self.any_of(name, value.values)
        if isinstance(value, SigmaNull):
            return self.raw(name).is_null()
        if isinstance(value, SigmaExists):
            present = self.raw(name).is_not_null()
            return present if value.exists else ~present
        if isinstance(value, SigmaCasedString):
            return match_any(self.text(name, lower=False), [value], lower=False)
        if isinstance(value, SigmaString):
            return self.string(name, [value])
        if isinstance(value, SigmaBool):
            return self.text(name) == ("true" if value.boolean else "false")
        if isinstance(value, SigmaTimestampPart):
            return self.timestamp(value)
        if isinstance(value, SigmaNumber):
            if name in self.numeric:
                return self.raw(name) == value.number
            return self.text(name) == str(value.number)
        if isinstance(value, SigmaCompareExpression):
            return self.compare(name, value)
        if isinstance(value, SigmaRegularExpression):
            return self.regex(self.text(name, lower=False), value)
        if isinstance(value, SigmaCIDRExpression):
            prefixes = value.expand(wildcard="*")
            return match_any(self.text(name), [SigmaString(p) for p in prefixes], lower=True)
        if isinstance(value, SigmaFieldReference):
            return self.fieldref(name, value)
        raise SigmaCompileError(f"unsupported value type {type(value).__name__} on {name}")

    def string(self, name: str, values: list[SigmaString]) -> pl.Expr:
        """Case-insensitive Sigma strings; numbers in a numeric field compare as numbers."""
        if name in self.numeric:
            numbers, rest = [], []
            for v in values:
                plain = str(v) if not v.contains_special() else None
                try:
                    numbers.append(float(plain)) if plain is not None else rest.append(v)
                except ValueError:
                    rest.append(v)
            tests = [self.raw(name).cast(pl.Float64).is_in(numbers)] if numbers else []
            if rest:
                tests.append(match_any(self.text(name), rest, lower=True))
            return tests[0] if len(tests) == 1 else pl.any_horizontal(tests)
        try:
            return match_any(self.text(name), values, lower=True)
        except UnsupportedValue as err:
            raise SigmaCompileError(f"{name}: {err}") from None

    def any_of(self, name: str | None, values: list[SigmaType]) -> pl.Expr:
        """OR of values, with plain case-insensitive strings tested in one grouped pass."""
        flat: list[SigmaType] = []
        for v in values:
            flat.extend(v.values if isinstance(v, SigmaExpansion) else [v])
        plain: list[SigmaString] = []  # exactly SigmaString: not cased, grouped in one pass
        other: list[SigmaType] = []
        for v in flat:
            if type(v) is SigmaString and name is not None:
                plain.append(v)
            else:
                other.append(v)
        tests = [self.string(name, plain)] if plain and name is not None else []
        tests += [self.value(name, v).fill_null(False) for v in other]
        if not tests:
            return pl.lit(False)
        return tests[0] if len(tests) == 1 else pl.any_horizontal(tests)

    def keyword(self, value: SigmaType) -> pl.Expr:
        self.keywords = True
        column = pl.col(KEYWORDS)
        if isinstance(value, SigmaExpansion):
            return pl.any_horizontal([self.keyword(v).fill_null(False) for v in value.values])
        if isinstance(value, SigmaCasedString):
            raise SigmaCompileError("case-sensitive keywords are not supported")
        if isinstance(value, SigmaString):
            return search(column, value, lower=True)
        if isinstance(value, SigmaNumber):
            return column.str.contains(str(value.number), literal=True)
        if isinstance(value, SigmaRegularExpression):
            flags = set(value.flags) | {SigmaRegularExpressionFlag.IGNORECASE}
            return self.regex(column, SigmaRegularExpression(str(value.regexp), flags))
        raise SigmaCompileError(f"unsupported keyword value {type(value).__name__}")

    def compare(self, name: str, value: SigmaCompareExpression) -> pl.Expr:
        column = self.raw(name)
        if name not in self.numeric:
            column = column.cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        n = value.number.number
        op = value.op
        if op == CompareOperators.LT:
            return column < n
        if op == CompareOperators.LTE:
            return column <= n
        if op == CompareOperators.GT:
            return column > n
        if op == CompareOperators.GTE:
            return column >= n
        return column != n

    def timestamp(self, value: SigmaTimestampPart) -> pl.Expr:
        self.fields.add("time")
        time = pl.col("time")
        part = {
            TimestampPart.MINUTE: time.dt.minute(),
            TimestampPart.HOUR: time.dt.hour(),
            TimestampPart.DAY: time.dt.day(),
            TimestampPart.WEEK: time.dt.week(),
            TimestampPart.MONTH: time.dt.month(),
            TimestampPart.YEAR: time.dt.year(),
        }[value.timestamp_part]
        return part == value.number

    def regex(self, column: pl.Expr, value: SigmaRegularExpression) -> pl.Expr:
        """Unanchored regex search; patterns the Rust engine refuses (look-around,
        back-references) fall back to Python's `re` on the column's values."""
        if value.contains_placeholder():
            raise SigmaCompileError(f"unresolved placeholder in regex {value.regexp}")
        flags = "".join(sorted(SigmaRegularExpression.sigma_to_re_flag[f] for f in value.flags))
        pattern = str(value.regexp)
        full = f"(?{flags}){pattern}" if flags else pattern
        try:
            pl.Series([""], dtype=pl.String).str.contains(full)
            return column.str.contains(full)
        except pl.exceptions.PolarsError:
            pass
        try:
            compiled = re.compile(full)
        except re.error as err:
            raise SigmaCompileError(f"invalid regular expression {pattern!r}: {err}") from None

        def python_search(s: pl.Series) -> pl.Series:
            return pl.Series(
                [None if v is None else compiled.search(v) is not None for v in s],
                dtype=pl.Boolean,
            )

        return column.map_batches(python_search, return_dtype=pl.Boolean)

    def fieldref(self, name: str, value: SigmaFieldReference) -> pl.Expr:
        left, right = self.text(name), self.text(value.field)
        if value.starts_with and value.ends_with:
            return left.str.contains(right, literal=True)
        if value.starts_with:
            return left.str.starts_with(right)
        if value.ends_with:
            return left.str.ends_with(right)
        return left == right

    # --- detections ---------------------------------------------------------------------

    def item(self, item: SigmaDetectionItem) -> pl.Expr:
        """A field with its value list, AND- or OR-linked, possibly negated (`|neq`)."""
        values = self.expand(list(item.value))
        if not values:  # an empty list means the field is null
            test = self.raw(item.field).is_null() if item.field else pl.lit(False)
        elif item.value_linking is ConditionAND:
            test = pl.all_horizontal([self.value(item.field, v).fill_null(False) for v in values])
        else:
            test = self.any_of(item.field, values)
        test = test.fill_null(False)
        return ~test if item.negated else test

    def detection(self, det: SigmaDetection) -> pl.Expr:
        tests = [
            self.detection(d) if isinstance(d, SigmaDetection) else self.item(d)
            for d in det.detection_items
        ]
        if len(tests) == 1:
            return tests[0]
        if det.item_linking is ConditionAND:
            return pl.all_horizontal(tests)
        return pl.any_horizontal(tests)


def _unwrap(node: Any) -> Any:
    while isinstance(node, ParseResults):
        if len(node) != 1:
            raise SigmaCompileError("unexpected condition parse result")
        node = node[0]
    return node


def _condition(node: Any, selections: dict[str, pl.Expr], rule: SigmaRule) -> pl.Expr:
    """A parsed (not post-processed) condition tree over the named detections."""
    node = _unwrap(node)
    if isinstance(node, ConditionIdentifier):
        if node.identifier not in selections:
            raise SigmaCompileError(f"condition names unknown detection {node.identifier!r}")
        return selections[node.identifier]
    if isinstance(node, ConditionSelector):
        names = [c.identifier for c in node.resolve_referenced_detections(rule.detection)]
        if not names:
            raise SigmaCompileError(f"'{node.args[0]} of {node.pattern}' names no detection")
        tests = [selections[n] for n in names]
        if node.cond_class is ConditionAND:
            return pl.all_horizontal(tests)
        return pl.any_horizontal(tests)
    if isinstance(node, ConditionNOT):
        return ~_condition(node.args[0], selections, rule)
    if isinstance(node, (ConditionAND, ConditionOR)):
        tests = [_condition(a, selections, rule) for a in node.args]
        return (
            pl.all_horizontal(tests) if isinstance(node, ConditionAND) else pl.any_horizontal(tests)
        )
    if isinstance(node, ConditionItem):
        raise SigmaCompileError(f"unsupported condition element {type(node).__name__}")
    raise SigmaCompileError(f"unsupported condition element {node!r}")


def compile_rule(
    rule: SigmaRule,
    placeholders: Mapping[str, Sequence[str]] | None = None,
    numeric: frozenset[str] = NUMERIC_FIELDS,
    path: str | None = None,
) -> CompiledRule:
    """Compile a parsed Sigma rule; raises `SigmaCompileError` with the reason if it cannot."""
    if rule.errors:
        raise SigmaCompileError("; ".join(str(e) for e in rule.errors))
    compiler = _Compiler(placeholders or {}, numeric)
    selections: dict[str, pl.Expr] = {}
    selection_fields: dict[str, tuple[str, ...]] = {}
    try:
        for name, det in rule.detection.detections.items():
            before = set(compiler.fields)
            selections[name] = compiler.detection(det).fill_null(False)
            used = compiler.fields - before
            selection_fields[name] = tuple(sorted(used | _fields_of(det)))
        conditions = [
            _condition(c.parse(postprocess=False), selections, rule)
            for c in rule.detection.parsed_condition
        ]
    except SigmaCompileError:
        raise
    except UnsupportedValue as err:
        raise SigmaCompileError(str(err)) from None
    except Exception as err:  # pySigma raises its own errors while resolving conditions
        raise SigmaCompileError(f"{type(err).__name__}: {err}") from None
    condition = conditions[0] if len(conditions) == 1 else pl.any_horizontal(conditions)
    return CompiledRule(
        rule=rule,
        condition=condition.fill_null(False),
        selections=selections,
        selection_fields=selection_fields,
        fields=frozenset(compiler.fields),
        lowercase=frozenset(compiler.lowercase),
        keywords=compiler.keywords,
        path=path,
    )


def _fields_of(det: SigmaDetection) -> set[str]:
    out: set[str] = set()
    for d in det.detection_items:
        if isinstance(d, SigmaDetection):
            out |= _fields_of(d)
        elif d.field:
            out.add(d.field)
    return out


def prepare(
    frame: pl.DataFrame,
    fields: frozenset[str] | set[str],
    lowercase: frozenset[str] | set[str],
    keywords: bool = False,
    numeric: frozenset[str] = NUMERIC_FIELDS,
) -> pl.DataFrame:
    """The frame compiled rules read: missing fields added as nulls, numeric fields as
    numbers and other fields as strings, lower-cased copies, and the keyword text.

    A field some logs write with spaces (Defender's ``Threat Name``) is found under the
    Sigma name without them (``ThreatName``)."""
    columns = set(frame.columns)
    spaced = {c.replace(" ", ""): c for c in columns if " " in c}
    fix: list[pl.Expr] = []
    for name in sorted(fields):
        if name == "time" and name in columns:
            continue
        want = pl.Float64 if name in numeric else pl.String
        if name not in columns and name in spaced:  # Defender's "Threat Name" is ThreatName
            fix.append(pl.col(spaced[name]).cast(want, strict=False).alias(name))
        elif name not in columns:
            fix.append(pl.lit(None, want).alias(name))
        elif name in numeric and not frame.schema[name].is_numeric():
            fix.append(pl.col(name).cast(pl.String).cast(pl.Float64, strict=False))
        elif name not in numeric and frame.schema[name] != pl.String:
            fix.append(pl.col(name).cast(pl.String))
    if fix:
        frame = frame.with_columns(fix)
    extra = [
        pl.col(name).cast(pl.String).str.to_lowercase().alias(lc(name))
        for name in sorted(lowercase)
    ]
    if keywords:
        extra.append(keyword_text(frame))
    return frame.with_columns(extra) if extra else frame


def searched(frame: pl.DataFrame) -> list[str]:
    """The columns keywords search: the string fields of the event."""
    return [
        c
        for c, t in frame.schema.items()
        if t == pl.String and c not in _NOT_SEARCHED and not c.startswith("\x00")
    ]


def keyword_text(frame: pl.DataFrame) -> pl.Expr:
    """The `KEYWORDS` column of a frame whose fields are ready (see `prepare`)."""
    text = searched(frame)
    joined = (
        pl.concat_str([pl.col(c) for c in text], separator="\x1f", ignore_nulls=True)
        if text
        else pl.lit("")
    )
    return joined.str.to_lowercase().alias(KEYWORDS)
