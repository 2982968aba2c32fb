"""Necessary conditions of Sigma rules, for a shared multi-pattern prefilter.

Most Sigma rules can only match an event if some field contains some literal text: a rule
``Image|endswith: '\\\\whoami.exe'`` needs ``\\whoami.exe`` in the lower-cased `Image`. This
module derives, from a rule's detections and condition, a *requirement*: clauses, each a
set of ``(field, needle, kind)`` literals, such that whenever the rule matches a row, every
clause has a literal that holds on that row: the lower-cased value of the field contains
the needle (kind ``contains``), starts or ends with it (``startswith``, ``endswith``) or
equals it (``exact``). A rule without one (a negation at the top, a regex, a numeric
comparison, ...) gets `None` and is always evaluated in full.

The detector then searches each field once per batch for all the needles of all its rules
(one Aho-Corasick pass, `str.extract_many`), checks the anchored literals on what it found,
and evaluates a rule's exact compiled condition only on the rows where all its clauses
hold. The requirement is only ever a filter:
every match is still decided by the compiled expression, so results are identical.

Derivation (``req`` of a node; `None` means "no requirement"):

* a string value (`SigmaString`) on a string field: its shape (`strings.shape`, on the
  same lower-cased copy with the same lower-cased needle as the compiled test); for a
  wildcard pattern that needs a regex, its longest plain part as ``contains``; a `|cased`
  value: its longest plain part lower-cased as ``contains``, when ASCII; a number on a
  string field: its text as ``exact``; a keyword (a value without a field): its longest
  plain part lower-cased, or a number's text, as ``contains`` on the `KEYWORDS` text, when
  ASCII; anything else (regex, CIDR, null, exists, field references, placeholders,
  numeric fields, non-ASCII keywords, an empty needle): `None`;
* AND (an `|all` value list, a detection's items, ``and``, ``all of``): the clauses of
  all operands that have a requirement;
* OR (a value list, a list of detections, ``or``, ``1 of``, several conditions): `None` if
  some operand has none, else one clause: the union of each operand's best clause (the
  one whose shortest needle is longest, then the one with fewer needles);
* a negated item (`|neq`) and ``not``: `None`.
"""

from __future__ import annotations

from typing import Any

from sigma.conditions import (
    ConditionAND,
    ConditionIdentifier,
    ConditionNOT,
    ConditionOR,
    ConditionSelector,
)
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import (
    SigmaCasedString,
    SigmaExpansion,
    SigmaNumber,
    SigmaString,
)

from mamori.detect.sigma.compiler import KEYWORDS, _unwrap
from mamori.detect.sigma.strings import UnsupportedValue, parts, shape

Clause = frozenset[tuple[str, str, str]]
#: A conjunction of clauses (each a disjunction of needles), or None for no requirement.
Requirement = tuple[Clause, ...] | None


def _rank(clause: Clause) -> tuple[int, int]:
    return (min(len(n) for _, n, _ in clause), -len(clause))


def _all(options: list[Requirement]) -> Requirement:
    """AND of the options: every clause of every option holds (duplicates dropped)."""
    clauses = dict.fromkeys(c for o in options if o for c in o)
    return tuple(clauses) or None


def _any(options: list[Requirement]) -> Requirement:
    """OR of the options: one clause, the union of each option's best clause."""
    if not options or any(not o for o in options):
        return None
    out: set[tuple[str, str, str]] = set()
    for o in options:
        out |= max(o, key=_rank)  # type: ignore[arg-type]
    return (frozenset(out),)


def _string(name: str, value: SigmaString) -> Requirement:
    try:
        if value.contains_placeholder():
            return None
        if isinstance(value, SigmaCasedString):
            plain = [p for p in parts(value) if isinstance(p, str)]
            needle = max(plain, key=len, default="")
            if not needle.isascii():
                return None
            kind, needle = "contains", needle.lower()
        else:
            kind, needle = shape(value, lower=True)
    except UnsupportedValue:
        return None
    if kind == "any":
        return None
    if kind == "regex":  # the longest plain part must occur
        plain = [p for p in parts(value) if isinstance(p, str)]
        kind, needle = "contains", max(plain, key=len, default="").lower()
    return (frozenset({(name, needle, kind)}),) if needle else None


def _keyword(value: Any) -> Requirement:
    """A keyword's needle in the `KEYWORDS` text, when ASCII (see `Plan` for why)."""
    if isinstance(value, SigmaExpansion):
        return _any([_keyword(v) for v in value.values])
    if isinstance(value, SigmaCasedString) or not isinstance(value, (SigmaString, SigmaNumber)):
        return None
    try:
        if isinstance(value, SigmaString):
            if value.contains_placeholder():
                return None
            plain = [p for p in parts(value) if isinstance(p, str)]
            needle = max(plain, key=len, default="").lower()
        else:
            needle = str(value.number)
    except UnsupportedValue:
        return None
    if not needle or not needle.isascii() or "\x1f" in needle:
        return None
    return (frozenset({(KEYWORDS, needle, "contains")}),)


def _value(name: str | None, value: Any, numeric: frozenset[str]) -> Requirement:
    if name is None:
        return _keyword(value)
    if name in numeric:
        return None
    if isinstance(value, SigmaExpansion):
        return _any([_value(name, v, numeric) for v in value.values])
    if isinstance(value, SigmaString):  # SigmaCasedString included
        return _string(name, value)
    if isinstance(value, SigmaNumber):
        text = str(value.number)
        return (frozenset({(name, text, "exact")}),) if text else None
    return None


def _item(item: SigmaDetectionItem, numeric: frozenset[str]) -> Requirement:
    if item.negated or not item.value:
        return None
    reqs = [_value(item.field, v, numeric) for v in item.value]
    if item.value_linking is ConditionAND:
        return _all(reqs)
    return _any(reqs)


def _detection(det: SigmaDetection, numeric: frozenset[str]) -> Requirement:
    reqs = [
        _detection(d, numeric) if isinstance(d, SigmaDetection) else _item(d, numeric)
        for d in det.detection_items
    ]
    if len(reqs) == 1:
        return reqs[0]
    if det.item_linking is ConditionAND:
        return _all(reqs)
    return _any(reqs)


def _condition(node: Any, selections: dict[str, Requirement], rule: SigmaRule) -> Requirement:
    node = _unwrap(node)
    if isinstance(node, ConditionIdentifier):
        return selections.get(node.identifier)
    if isinstance(node, ConditionSelector):
        names = [c.identifier for c in node.resolve_referenced_detections(rule.detection)]
        reqs = [selections.get(n) for n in names]
        return _all(reqs) if node.cond_class is ConditionAND else _any(reqs)
    if isinstance(node, ConditionNOT):
        return None
    if isinstance(node, ConditionAND):
        return _all([_condition(a, selections, rule) for a in node.args])
    if isinstance(node, ConditionOR):
        return _any([_condition(a, selections, rule) for a in node.args])
    return None


def requirement(rule: SigmaRule, numeric: frozenset[str]) -> Requirement:
    """The rule's ``(field, needle)`` requirement, or `None` when it has none."""
    try:
        selections = {
            name: _detection(det, numeric) for name, det in rule.detection.detections.items()
        }
        return _any(
            [
                _condition(c.parse(postprocess=False), selections, rule)
                for c in rule.detection.parsed_condition
            ]
        )
    except Exception:  # anything unexpected: no prefilter, the rule runs in full
        return None
