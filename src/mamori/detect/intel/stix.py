"""STIX 2.1 bundles: indicators, their patterns, reports and TLP markings.

Each object is validated with the `stix2` library on its own, so one malformed indicator is
reported (with its id and the library's message) and the rest of the bundle still loads. A
pattern is parsed by `stix2` into its expression tree and turned into observables:

- `[ipv4-addr:value = '198.51.100.7']`, `= '198.51.100.0/24'`, `ISSUBSET '198.51.100.0/24'`,
  the same for `ipv6-addr`, and `network-traffic:src_ref.value` / `dst_ref.value`;
- `[domain-name:value = …]` (the domain and its subdomains), `[url:value = …]`;
- `[file:hashes.'SHA-256' = …]`, `MD5`, `SHA-1`, and `[file:name = …]`;
- `IN (…)` lists and OR, at either level, of any of these.

An AND inside one observation (`[file:hashes.MD5 = … AND file:name = …]`) must hold on a
single event: every comparison must name a value Mamori reads from events, and all of them
must match the same event. What cannot be matched on one event is left out with a reason:
AND between observations (several events), FOLLOWEDBY, WITHIN/REPEATS/START qualifiers,
negation, LIKE and MATCHES, and object paths no event field carries (certificates, e-mail).

>>> clauses, notes = pattern_clauses(
...     "[ipv4-addr:value = '203.0.113.9' OR domain-name:value = 'Bad.example']")
>>> [(o.type, o.value) for clause in clauses for o in clause], notes
([('ipv4', '203.0.113.9'), ('domain', 'bad.example')], [])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import stix2
from stix2.exceptions import STIXError
from stix2.pattern_visitor import create_pattern_object

from mamori.detect.intel.model import (
    IntelSet,
    Observable,
    Skipped,
    indicator_frame,
    indicator_rows,
    observable,
    utc,
)

#: The TLP 1.0 marking definitions that STIX 2.1 predefines.
TLP_IDS = {
    stix2.TLP_WHITE.id: "TLP:WHITE",
    stix2.TLP_GREEN.id: "TLP:GREEN",
    stix2.TLP_AMBER.id: "TLP:AMBER",
    stix2.TLP_RED.id: "TLP:RED",
}

_HASHES = {"MD5": "md5", "SHA1": "sha1", "SHA256": "sha256"}


class IntelFormatError(ValueError):
    """A file that is not threat intelligence Mamori can read."""


class UnsupportedPattern(ValueError):
    """A pattern, or part of one, that cannot be matched on one event."""


def pattern_clauses(pattern: str, version: str = "2.1") -> tuple[list[list[Observable]], list[str]]:
    """The OR-clauses of a pattern, each a list of observables that must all match one event,
    and the reasons for the parts left out. Raises UnsupportedPattern when nothing is left."""
    try:
        tree = create_pattern_object(pattern, version=version)
    except (STIXError, ValueError) as err:  # stix2 refuses e.g. an AND across object types
        raise UnsupportedPattern(f"pattern refused by stix2: {err}") from None
    clauses: list[list[Observable]] = []
    notes: list[str] = []
    for branch in _branches(tree):
        try:
            clauses.extend(_clause(branch))
        except UnsupportedPattern as err:
            notes.append(str(err))
    if not clauses:
        raise UnsupportedPattern("; ".join(notes) or "no comparison to match")
    return clauses, notes


def _name(node: Any) -> str:
    return type(node).__name__


def _branches(node: Any) -> list[Any]:
    """The OR-branches of a pattern (observation or comparison level)."""
    kind = _name(node)
    if kind in ("ObservationExpression",):
        return _branches(node.operand)
    if kind == "ParentheticalExpression":
        return _branches(node.expression)
    if kind in ("OrObservationExpression", "OrBooleanExpression"):
        return [b for operand in node.operands for b in _branches(operand)]
    if kind == "AndObservationExpression":
        raise UnsupportedPattern("AND between observations needs several events")
    if kind == "FollowedByObservationExpression":
        raise UnsupportedPattern("FOLLOWEDBY needs a sequence of events")
    if kind == "QualifiedObservationExpression":
        raise UnsupportedPattern(f"qualifier {node.qualifier} needs several events or a window")
    return [node]


def _comparisons(node: Any) -> list[Any]:
    """The comparisons of one AND (or of a single comparison)."""
    kind = _name(node)
    if kind == "ParentheticalExpression":
        return _comparisons(node.expression)
    if kind == "AndBooleanExpression":
        return [c for operand in node.operands for c in _comparisons(operand)]
    if kind == "OrBooleanExpression":
        raise UnsupportedPattern("OR nested inside AND is not matched")
    return [node]


def _clause(branch: Any) -> list[list[Observable]]:
    """One OR-branch as clauses: a lone IN list gives one clause per value."""
    parts = _comparisons(branch)
    values = [_comparison(c) for c in parts]
    if len(values) == 1:
        return [[o] for o in values[0]]
    if any(len(v) != 1 for v in values):
        raise UnsupportedPattern("IN list inside AND is not matched")
    return [[v[0] for v in values]]


def _comparison(node: Any) -> list[Observable]:
    kind = _name(node)
    if kind not in (
        "EqualityComparisonExpression",
        "IsSubsetComparisonExpression",
        "InComparisonExpression",
    ):
        raise UnsupportedPattern(f"{getattr(node, 'operator', kind)} comparisons are not matched")
    if node.negated:
        raise UnsupportedPattern(f"negated comparison {node} is not matched")
    path = node.lhs
    props = [getattr(p, "property_name", "?") for p in path.property_path]
    target = _target(path.object_type_name, props)
    if target is None:
        raise UnsupportedPattern(f"{path} is not carried by any event field")
    if kind == "IsSubsetComparisonExpression" and target not in ("ipv4", "ipv6", "ip"):
        raise UnsupportedPattern(f"ISSUBSET on {path} is not matched")
    constants = node.rhs.value if kind == "InComparisonExpression" else [node.rhs]
    found = []
    for constant in constants:
        result = observable(target, str(constant.value))
        if isinstance(result, str):
            raise UnsupportedPattern(f"{path}: {result}")
        found.append(result)
    return found


def _target(object_type: str, props: list[str]) -> str | None:
    if props == ["value"] and object_type in ("ipv4-addr", "ipv6-addr"):
        return object_type.split("-")[0]
    if props == ["value"] and object_type == "domain-name":
        return "domain"
    if props == ["value"] and object_type == "url":
        return "url"
    if object_type == "network-traffic" and props in (["src_ref", "value"], ["dst_ref", "value"]):
        return "ip"
    if object_type == "file" and props == ["name"]:
        return "file"
    if object_type == "file" and len(props) == 2 and props[0] == "hashes":
        return _HASHES.get(props[1].upper().replace("-", ""))
    return None


def read_json(path: Path) -> Any:
    """A JSON file's content; IntelFormatError naming the file if it is not JSON."""
    import orjson

    try:
        return orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as err:
        raise IntelFormatError(f"{path}: not valid JSON ({err})") from None


def is_bundle(doc: Any) -> bool:
    """Whether a parsed JSON document is a STIX bundle."""
    return isinstance(doc, dict) and doc.get("type") == "bundle"


def _check(doc: Any, path: Path) -> dict[str, Any]:
    if not is_bundle(doc):
        raise IntelFormatError(f"{path}: not a STIX bundle (no top-level \"type\": \"bundle\")")
    if not isinstance(doc.get("objects", []), list):
        raise IntelFormatError(f"{path}: the bundle's \"objects\" is not a list")
    return doc


def _parse(obj: Any, source: str, notes: list[Skipped]) -> Any:
    """A stix2 object, or None with the reason noted."""
    ident = obj.get("id", "?") if isinstance(obj, dict) else "?"
    try:
        return stix2.parse(obj, allow_custom=True)
    except (STIXError, ValueError, TypeError, KeyError) as err:
        notes.append(Skipped(source, str(ident), f"invalid STIX object: {err}"))
        return None


def _markings(objects: list[Any]) -> dict[str, str]:
    tlp = dict(TLP_IDS)
    for obj in objects:
        if not isinstance(obj, dict) or obj.get("type") != "marking-definition":
            continue
        if obj.get("id") in TLP_IDS:
            continue
        definition = obj.get("definition") or {}
        name = obj.get("name") or ""
        if obj.get("definition_type") == "tlp" and "tlp" in definition:
            tlp[obj["id"]] = f"TLP:{str(definition['tlp']).upper()}"
        elif name.upper().startswith("TLP:"):  # TLP 2.0 marking definitions
            tlp[obj["id"]] = name.upper()
    return tlp


def _tlp(refs: list[str] | None, tlp: dict[str, str]) -> str | None:
    return next((tlp[r] for r in refs or [] if r in tlp), None)


def load_stix(path: Path) -> IntelSet:
    """The indicators of one STIX 2.x bundle file.

    Raises IntelFormatError when the file is not a bundle; malformed objects and patterns
    that cannot be matched are listed in the result's `skipped`, with their id and reason.
    """
    return from_bundle(read_json(path), path)


def from_bundle(raw: Any, path: Path) -> IntelSet:
    """The indicators of a parsed STIX bundle read from `path`."""
    source = str(path)
    doc = _check(raw, path)
    objects = doc.get("objects", [])
    result = IntelSet(files=[source])
    tlp = _markings(objects)
    in_reports: dict[str, list[Any]] = {}
    for obj in objects:
        if isinstance(obj, dict) and obj.get("type") == "report":
            report = _parse(obj, source, result.partial)
            for ref in getattr(report, "object_refs", []) or []:
                in_reports.setdefault(ref, []).append(report)
    rows: list[dict[str, Any]] = []
    for position, obj in enumerate(objects):
        if not isinstance(obj, dict) or obj.get("type") != "indicator":
            continue
        result.objects += 1
        ident = str(obj.get("id", f"objects[{position}]"))
        indicator = _parse(obj, source, result.skipped)
        if indicator is None:
            continue
        if indicator.get("revoked"):
            result.skipped.append(Skipped(source, ident, "revoked"))
            continue
        if indicator.get("pattern_type", "stix") != "stix":
            result.skipped.append(
                Skipped(source, ident, f"pattern type {indicator['pattern_type']!r} not matched")
            )
            continue
        version = str(obj.get("spec_version", doc.get("spec_version", "2.1")))
        try:
            clauses, notes = pattern_clauses(
                indicator["pattern"], "2.0" if version == "2.0" else "2.1"
            )
        except UnsupportedPattern as err:
            result.skipped.append(Skipped(source, ident, f"pattern not matchable: {err}"))
            continue
        result.partial += [Skipped(source, ident, n) for n in notes]
        reports = in_reports.get(ident, [])
        meta = {
            "indicator_id": ident,
            "name": indicator.get("name") or indicator["pattern"],
            "pattern": indicator["pattern"],
            "report": "; ".join(r.get("name", r.id) for r in reports) or None,
            "tlp": _tlp(indicator.get("object_marking_refs"), tlp)
            or next((_tlp(r.get("object_marking_refs"), tlp) for r in reports), None),
            "confidence": indicator.get("confidence")
            or next((r.get("confidence") for r in reports if r.get("confidence")), None),
            "valid_from": utc(indicator.get("valid_from")),
            "valid_until": utc(indicator.get("valid_until")),
            "source": source,
        }
        for number, clause in enumerate(clauses):
            unique = list(dict.fromkeys(clause))
            rows += indicator_rows(unique, {**meta, "clause": number, "need": len(unique)})
    result.indicators = indicator_frame(rows)
    return result
