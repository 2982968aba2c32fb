"""The indicator model: one row per observable value that an indicator names.

A STIX indicator whose pattern is an OR of five addresses and a domain becomes six rows
sharing one `indicator_id`; a MISP attribute becomes one row (two for `domain|ip`). Each row
carries what an analyst needs to judge a match: the indicator's name, the report it came
from, its TLP, confidence and validity window.

Values are normalised once, at load time, so that matching is an exact comparison:
addresses and networks become integer ranges (IPv4: the address; IPv6: the upper and the
lower 64 bits), domains are lower case without a trailing dot, URLs lose their scheme and
trailing slash and keep a lower-case host, hashes are lower-case hex.

>>> observable("ipv4", "10.1.2.3/24").value, observable("domain", "Evil.COM.").value
('10.1.2.0/24', 'evil.com')
>>> observable("url", "HTTP://Evil.com/a/B/").value
'evil.com/a/B'
>>> observable("ipv4", "0.0.0.0/0")
'network 0.0.0.0/0 is too broad (shorter than /8)'
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import polars as pl

from mamori.events.schema import TIME

#: Observable types an indicator row can carry, and what each is matched against.
TYPES = ("ipv4", "ipv6", "domain", "hostname", "url", "md5", "sha1", "sha256", "imphash", "file")
HASH_TYPES = ("md5", "sha1", "sha256", "imphash")
_HASH_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "imphash": 32}

#: Networks broader than these prefixes match too much of the Internet to be an indicator.
MIN_PREFIX = {"ipv4": 8, "ipv6": 16}

_U64 = (1 << 64) - 1
_HEX = re.compile(r"^[0-9a-f]+$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)

INDICATOR: dict[str, pl.DataType] = {
    "indicator_id": pl.String(),  # STIX id, or the MISP attribute's uuid
    "type": pl.String(),  # one of TYPES
    "value": pl.String(),  # normalised; a network in CIDR form
    "subdomains": pl.Boolean(),  # a domain that also covers its subdomains
    "clause": pl.Int32(),  # which OR-branch of the indicator this value belongs to
    "need": pl.Int32(),  # how many values of that branch must match one event (AND)
    "k1_lo": pl.UInt64(),  # address ranges: IPv4 address, or IPv6 upper 64 bits
    "k1_hi": pl.UInt64(),
    "k2_lo": pl.UInt64(),  # IPv6 lower 64 bits (0 for IPv4)
    "k2_hi": pl.UInt64(),
    "name": pl.String(),
    "pattern": pl.String(),  # the STIX pattern or the MISP "type: value", as written
    "report": pl.String(),  # the report (STIX) or event (MISP) it came from
    "tlp": pl.String(),  # e.g. TLP:AMBER; null when unmarked
    "confidence": pl.Int64(),  # 0-100, null when the source gives none
    "valid_from": TIME,  # inclusive; null: since ever
    "valid_until": TIME,  # exclusive; null: no end
    "source": pl.String(),  # the file it was loaded from
}


@dataclass(frozen=True)
class Observable:
    """One normalised value to look for in events."""

    type: str
    value: str
    subdomains: bool = False
    k1: tuple[int, int] | None = None
    k2: tuple[int, int] | None = None


@dataclass(frozen=True)
class Skipped:
    """An indicator, or part of one, that cannot be matched, and why."""

    source: str
    position: str  # the STIX object id or MISP attribute uuid
    reason: str


@dataclass
class IntelSet:
    """Indicators ready to match, and what was left out, with reasons.

    `objects` counts the indicators (STIX indicators, MISP attributes) read; each is either
    loaded (some rows in `indicators`), or in `skipped`. `partial` lists parts of loaded
    indicators that were left out (an OR branch on a type no event carries).
    """

    indicators: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=INDICATOR))
    skipped: list[Skipped] = field(default_factory=list)
    partial: list[Skipped] = field(default_factory=list)
    objects: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        """Indicators with at least one matchable value."""
        return self.indicators["indicator_id"].n_unique()

    def extend(self, other: IntelSet) -> None:
        """Add another set's indicators and reasons to this one."""
        self.indicators = pl.concat([self.indicators, other.indicators])
        self.skipped += other.skipped
        self.partial += other.partial
        self.objects += other.objects
        self.files += other.files

    def summary(self) -> dict[str, Any]:
        """Counts for people: loaded, skipped by reason, values by type."""
        reasons: dict[str, int] = {}
        for s in self.skipped:
            key = s.reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
        by_type = self.indicators.group_by("type").len().sort("type").rows()
        return {
            "files": len(self.files),
            "indicators_read": self.objects,
            "indicators_loaded": self.loaded,
            "indicators_skipped": len(self.skipped),
            "skipped_by_reason": reasons,
            "parts_left_out": len(self.partial),
            "values_by_type": dict(by_type),
        }


def observable(kind: str, raw: str, *, subdomains: bool = True) -> Observable | str:
    """A normalised observable of `kind` (one of TYPES, `ip` for either family), or the
    reason why `raw` is not one."""
    text = raw.strip()
    if kind in ("ip", "ipv4", "ipv6"):
        return _address(kind, text)
    if kind in ("domain", "hostname"):
        name = text.lower().rstrip(".")
        if not _DOMAIN.match(name):
            return f"not a domain name: {raw!r}"
        return Observable(kind, name, subdomains=subdomains and kind == "domain")
    if kind == "url":
        url = normal_url(text)
        return Observable("url", url) if url else f"empty URL: {raw!r}"
    if kind in _HASH_LENGTHS:
        digest = text.lower()
        if len(digest) != _HASH_LENGTHS[kind] or not _HEX.match(digest):
            return f"not a {kind} hash: {raw!r}"
        return Observable(kind, digest)
    if kind == "file":
        return Observable("file", text.lower()) if text else "empty file name"
    return f"unsupported observable type {kind!r}"


def normal_url(text: str) -> str:
    """A URL without its scheme or trailing slash, its host in lower case."""
    rest = _SCHEME.sub("", text.strip())
    host, slash, path = rest.partition("/")
    return (host.lower() + slash + path).rstrip("/")


def _address(kind: str, text: str) -> Observable | str:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return f"not an IP address or network: {text!r}"
    family = f"ipv{net.version}"
    if kind != "ip" and kind != family:
        return f"{text!r} is not an {kind} address"
    if net.prefixlen < MIN_PREFIX[family]:
        return f"network {net} is too broad (shorter than /{MIN_PREFIX[family]})"
    lo, hi = int(net.network_address), int(net.broadcast_address)
    value = str(net.network_address) if net.num_addresses == 1 else str(net)
    if family == "ipv4":
        return Observable(family, value, k1=(lo, hi), k2=(0, 0))
    return Observable(family, value, k1=(lo >> 64, hi >> 64), k2=(lo & _U64, hi & _U64))


def indicator_rows(
    observables: list[Observable], meta: dict[str, Any]
) -> list[dict[str, Any]]:
    """Rows of INDICATOR for one indicator's observables and its shared metadata."""
    return [
        {
            **meta,
            "type": o.type,
            "value": o.value,
            "subdomains": o.subdomains,
            "clause": meta.get("clause", 0),
            "need": meta.get("need", 1),
            "k1_lo": o.k1[0] if o.k1 else None,
            "k1_hi": o.k1[1] if o.k1 else None,
            "k2_lo": o.k2[0] if o.k2 else None,
            "k2_hi": o.k2[1] if o.k2 else None,
        }
        for o in observables
    ]


def indicator_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """An INDICATOR frame from rows (missing keys are null)."""
    if not rows:
        return pl.DataFrame(schema=INDICATOR)
    return pl.DataFrame(
        [{k: row.get(k) for k in INDICATOR} for row in rows], schema=INDICATOR, orient="row"
    )


def utc(value: datetime | None) -> datetime | None:
    """A timestamp as UTC (naive ones are taken to be UTC)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
