"""MISP events (JSON export): attributes marked for detection become indicators.

Only attributes with `to_ids` set are matched: MISP uses the flag to separate indicators
from context (reference links, analysts' notes, e-mail subjects), and so does Mamori;
attributes without it, deleted ones, and types no event field carries are listed with the
reason. Attributes inside MISP objects (a `file` object's hashes) count like the event's own.

Types matched: `ip-src`, `ip-dst` (an address or a network), their `|port` forms (the
address), `domain` (with subdomains), `hostname` (exactly), `domain|ip` (both), `hostname|port`,
`url`, `md5`, `sha1`, `sha256`, `imphash`, `filename`, and `filename|md5` / `|sha1` /
`|sha256` (the hash: it names the file exactly, the name alone does not).

Validity: an attribute's `first_seen` opens its window and `last_seen` closes it (both
inclusive); with `max_age`, an attribute also stops matching `max_age` after its last
sighting or, without one, its last change (`timestamp`). TLP comes from the attribute's tags,
else the event's; confidence from an `estimative-language:confidence-in-analytic-judgment`
tag (low 30, moderate 60, high 90), else none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mamori.detect.intel.model import (
    IntelSet,
    Observable,
    Skipped,
    indicator_frame,
    indicator_rows,
    observable,
    utc,
)
from mamori.detect.intel.stix import IntelFormatError, read_json

#: MISP attribute type → what each `|`-separated part is (None: not matched).
ATTRIBUTE_TYPES: dict[str, tuple[str | None, ...]] = {
    "ip-src": ("ip",),
    "ip-dst": ("ip",),
    "ip-src|port": ("ip", None),
    "ip-dst|port": ("ip", None),
    "domain": ("domain",),
    "hostname": ("hostname",),
    "domain|ip": ("domain", "ip"),
    "hostname|port": ("hostname", None),
    "url": ("url",),
    "md5": ("md5",),
    "sha1": ("sha1",),
    "sha256": ("sha256",),
    "imphash": ("imphash",),
    "filename": ("file",),
    "filename|md5": (None, "md5"),
    "filename|sha1": (None, "sha1"),
    "filename|sha256": (None, "sha256"),
}

_CONFIDENCE_TAG = "estimative-language:confidence-in-analytic-judgment="
_CONFIDENCE = {"low": 30, "moderate": 60, "high": 90}


def _events(doc: Any, path: Path) -> list[dict[str, Any]]:
    """The events of a MISP export: one event, a list of them, or a REST `response`."""
    if isinstance(doc, dict) and "response" in doc:
        doc = doc["response"]
    items = doc if isinstance(doc, list) else [doc]
    events = [i.get("Event", i) for i in items if isinstance(i, dict)]
    if not events or not all("Attribute" in e or "Object" in e for e in events):
        raise IntelFormatError(f"{path}: not a MISP event export (no Event with Attribute)")
    return events


def _tags(tags: list[dict[str, Any]] | None) -> tuple[str | None, int | None]:
    names = [str(t.get("name", "")).lower() for t in tags or []]
    tlp = next((n.split(":", 1)[1].upper() for n in names if n.startswith("tlp:")), None)
    confidence = next(
        (
            _CONFIDENCE.get(n[len(_CONFIDENCE_TAG) :].strip('"'))
            for n in names
            if n.startswith(_CONFIDENCE_TAG)
        ),
        None,
    )
    return (f"TLP:{tlp}" if tlp else None), confidence


def _time(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, int | float) or str(value).isdigit():
        return datetime.fromtimestamp(int(value), UTC)
    return utc(datetime.fromisoformat(str(value).replace("Z", "+00:00")))


def attribute_observables(kind: str, value: str) -> list[Observable] | str:
    """The observables of one MISP attribute, or why it has none."""
    parts_kinds = ATTRIBUTE_TYPES.get(kind)
    if parts_kinds is None:
        return f"type {kind!r} is not matched against events"
    parts = value.split("|") if len(parts_kinds) > 1 else [value]
    if len(parts) != len(parts_kinds):
        return f"{kind} value {value!r} does not have {len(parts_kinds)} parts"
    found = []
    for part_kind, part in zip(parts_kinds, parts, strict=True):
        if part_kind is None:
            continue
        result = observable(part_kind, part)
        if isinstance(result, str):
            return result
        found.append(result)
    return found


def load_misp(path: Path, max_age: timedelta | None = None) -> IntelSet:
    """The indicators of one MISP JSON file (an event, a list of events, or a REST answer)."""
    return from_misp(read_json(path), path, max_age)


def from_misp(doc: Any, path: Path, max_age: timedelta | None = None) -> IntelSet:
    """The indicators of a parsed MISP export read from `path`."""
    source = str(path)
    result = IntelSet(files=[source])
    rows: list[dict[str, Any]] = []
    for event in _events(doc, path):
        event_tlp, event_confidence = _tags(event.get("Tag"))
        attributes = [(a, None) for a in event.get("Attribute", [])]
        for obj in event.get("Object", []) or []:
            attributes += [(a, obj.get("name")) for a in obj.get("Attribute", [])]
        for position, (attr, object_name) in enumerate(attributes):
            result.objects += 1
            ident = str(attr.get("uuid") or f"{event.get('uuid')}/{position}")
            kind, value = str(attr.get("type")), str(attr.get("value", ""))
            if attr.get("deleted") in (True, "1", 1):
                result.skipped.append(Skipped(source, ident, "deleted"))
                continue
            if attr.get("to_ids") not in (True, "1", 1):
                result.skipped.append(Skipped(source, ident, "to_ids is not set (context only)"))
                continue
            found = attribute_observables(kind, value)
            if isinstance(found, str):
                result.skipped.append(Skipped(source, ident, f"not matchable: {found}"))
                continue
            tlp, confidence = _tags(attr.get("Tag"))
            try:
                first, last = _time(attr.get("first_seen")), _time(attr.get("last_seen"))
                changed = _time(attr.get("timestamp"))
            except ValueError as err:
                result.skipped.append(Skipped(source, ident, f"bad first/last seen: {err}"))
                continue
            until = last + timedelta(microseconds=1) if last else None
            seen = last or changed
            if max_age is not None and seen is not None:
                aged = seen + max_age
                until = min(until, aged) if until else aged
            label = f"{kind} {value}" + (f" ({object_name} object)" if object_name else "")
            comment = attr.get("comment")
            meta = {
                "indicator_id": ident,
                "name": f"{label}: {comment}" if comment else label,
                "pattern": f"{kind}: {value}",
                "report": event.get("info"),
                "tlp": tlp or event_tlp,
                "confidence": confidence if confidence is not None else event_confidence,
                "valid_from": first,
                "valid_until": until,
                "source": source,
            }
            rows += indicator_rows(found, meta)
    result.indicators = indicator_frame(rows)
    return result
