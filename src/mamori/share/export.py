"""What a tenant releases to the sector: STIX 2.1 objects built from its alerts.

The release policy says which observables leave the bank, at which TLP 2.0 level, and to
which peers. Observables come from the alerts' `related` entities (``ip:…``, ``domain:…``,
``url:…``, ``hash:…``, ``account:…``, ``device:…``, ``wallet:…``) and their ATT&CK
techniques; the bank's own people and machines (customers, users, hosts, cards, internal
addresses) never leave. Each released value becomes

- an ``indicator`` (one per value, the same id at every bank: uuid5 of sector, type, value),
- a ``sighting`` of it (how often and when this bank saw it, with no reporter named),
- for techniques, an ``attack-pattern`` with its ATT&CK id, and a sighting of it.

Fraud indicators are salted: a mule account or a device fingerprint is shared as
HMAC-SHA256 keyed by the sector's salt, so peers holding the salt can match their own
counterparties while nobody can read an account number off the wire. Crypto wallets are
public identifiers and travel in clear.

No object names the source institution: ``created_by_ref`` is the sector's pseudonymous
identity, the same for every member.

TLP enforcement: TLP:RED never leaves; TLP:AMBER (and AMBER+STRICT) only to peers the
policy lists in `amber_peers`; TLP:GREEN and TLP:CLEAR to any sector peer.

>>> policy = ReleasePolicy(sector="jp-banks", salt="s3cret", tlp={"*": "green"})
>>> alerts = pl.DataFrame({"alert_id": ["a1"], "tenant": ["bank-a"], "severity": ["high"],
...     "time": [datetime(2026, 11, 2, tzinfo=UTC)], "related": [["ip:185.220.101.7",
...     "host:WS-1", "ip:10.0.0.5"]], "attack": [["T1071.001"]], "title": ["beacon"]})
>>> objs = release(alerts, policy, peer="sector-hub")
>>> sorted({o["type"] for o in objs})
['attack-pattern', 'identity', 'indicator', 'marking-definition', 'sighting']
>>> [o["pattern"] for o in objs if o["type"] == "indicator"]
["[ipv4-addr:value = '185.220.101.7']"]
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import tomllib
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import stix2

from mamori.events.schema import SEVERITIES

#: TLP 2.0 marking definitions (OASIS TLP 2.0 extension), ordered from least to most strict.
TLP_EXTENSION = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_IDS = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP_ORDER = tuple(TLP2_IDS)
TLP_BY_ID = {ident: level for level, ident in TLP2_IDS.items()}

#: Entity types a policy may release, and how each is written in a STIX pattern.
RELEASABLE = ("ip", "domain", "url", "hash", "account", "device", "wallet", "technique")
#: Fraud observables shared as salted hashes (custom STIX object types).
SALTED = {"account": "x-mamori-bank-account", "device": "x-mamori-device"}
WALLET_TYPE = "x-mamori-crypto-wallet"
_HASH_NAMES = {32: "MD5", 40: "SHA-1", 64: "SHA-256"}
_NAMESPACE = uuid.UUID("7d0c1f0e-6a0b-5b8e-9d55-6d616d6f7269")


class ReleaseError(ValueError):
    """A release policy that cannot be applied (unknown TLP level, type, missing salt)."""


def tlp_marking(level: str) -> dict[str, Any]:
    """The TLP 2.0 marking-definition object for a level (clear … red)."""
    level = level.lower()
    if level not in TLP2_IDS:
        raise ReleaseError(f"unknown TLP level {level!r}; known: {', '.join(TLP_ORDER)}")
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP2_IDS[level],
        "created": "2022-10-01T00:00:00.000Z",
        "name": f"TLP:{level.upper()}",
        "extensions": {TLP_EXTENSION: {"extension_type": "property-extension", "tlp_2_0": level}},
    }


def object_tlp(obj: dict[str, Any]) -> str | None:
    """The TLP 2.0 level an object is marked with (the strictest, if several), or None."""
    levels = [TLP_BY_ID[r] for r in obj.get("object_marking_refs", []) if r in TLP_BY_ID]
    return max(levels, key=TLP_ORDER.index) if levels else None


def stricter(level: str, other: str | None) -> str:
    """The stricter of two TLP levels (`other` may be None: no marking)."""
    if other is None:
        return level
    return max(level, other, key=TLP_ORDER.index)


def received_levels(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The TLP level each indicator pattern and attack-pattern id came in under, from
    objects pulled from the sector (the strictest, if it came more than once). `release`
    never sends them out again under a lower level.

    >>> received_levels([{"type": "indicator", "pattern": "[url:value = 'x']",
    ...     "object_marking_refs": [TLP2_IDS["amber"]]}])
    {"[url:value = 'x']": 'amber'}
    """
    found: dict[str, str] = {}
    for obj in objects:
        kind = obj.get("type")
        key = obj.get("pattern") if kind == "indicator" else obj.get("id")
        level = object_tlp(obj) if kind in ("indicator", "attack-pattern") else None
        if key and level:
            found[key] = stricter(level, found.get(key))
    return found


def sector_identity(sector: str) -> dict[str, Any]:
    """The pseudonymous identity every member's objects are created by: it names the sector,
    never the bank."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": f"identity--{uuid.uuid5(_NAMESPACE, 'sector|' + sector)}",
        "created": "2020-01-01T00:00:00.000Z",
        "modified": "2020-01-01T00:00:00.000Z",
        "name": f"{sector} sector member",
        "identity_class": "organization",
        "sectors": ["financial-services"],
    }


def salted(salt: str, kind: str, value: str) -> str:
    """A fraud observable as the sector shares it: HMAC-SHA256(salt, "kind:value") in hex.

    >>> salted("s3cret", "account", "1234-567")[:16]
    'ac58c299da97adb5'
    """
    message = f"{kind}:{value.strip().lower()}".encode()
    return hmac.new(salt.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ReleasePolicy:
    """What a tenant releases to its sector.

    sector       the sector's name (the pseudonymous identity and indicator ids derive from it)
    salt         the sector's shared salt for account and device hashes
    types        the entity types released (see RELEASABLE)
    min_severity alerts below this severity release nothing
    tlp          TLP level per type; "*" is the default for types not listed
    amber_peers  peers that may receive TLP:AMBER and AMBER+STRICT objects
    detectors    only alerts of these detectors are released (empty: all)
    lookback     indicators are valid from this long before the bank first saw them, so
                 peers also match the campaign's earlier contacts with their own customers
    """

    sector: str
    salt: str
    types: frozenset[str] = frozenset(RELEASABLE)
    min_severity: str = "medium"
    tlp: dict[str, str] = field(default_factory=lambda: {"*": "amber"})
    amber_peers: frozenset[str] = frozenset()
    detectors: frozenset[str] = frozenset()
    lookback: timedelta = timedelta(days=7)

    def __post_init__(self) -> None:
        unknown = set(self.types) - set(RELEASABLE)
        if unknown:
            raise ReleaseError(f"unknown release types {sorted(unknown)}; known: {RELEASABLE}")
        bad = {v for v in self.tlp.values() if v.lower() not in TLP2_IDS}
        if bad:
            raise ReleaseError(f"unknown TLP levels {sorted(bad)}; known: {TLP_ORDER}")
        if self.min_severity not in SEVERITIES:
            raise ReleaseError(f"min_severity must be one of {SEVERITIES}")
        if not self.salt and {"account", "device"} & set(self.types):
            raise ReleaseError("releasing accounts or devices needs the sector's salt")

    def level(self, kind: str) -> str:
        """The TLP level a type is released at."""
        return self.tlp.get(kind, self.tlp.get("*", "amber")).lower()

    def allows(self, level: str, peer: str) -> bool:
        """Whether an object at `level` may go to `peer`."""
        if level == "red":
            return False
        if level in ("amber", "amber+strict"):
            return peer in self.amber_peers
        return True

    @classmethod
    def from_toml(cls, path: Path) -> ReleasePolicy:
        """A policy from a TOML file's ``[share]`` table; the salt may come from the
        variable named by ``salt_env`` instead of the file."""
        try:
            table = tomllib.loads(Path(path).read_text()).get("share", {})
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ReleaseError(f"{path}: cannot read the release policy ({err})") from None
        salt = table.get("salt") or os.environ.get(table.get("salt_env", "MAMORI_SECTOR_SALT"), "")
        if "sector" not in table:
            raise ReleaseError(f"{path}: [share] needs a `sector` name")
        return cls(
            sector=table["sector"],
            salt=salt,
            types=frozenset(table.get("types", RELEASABLE)),
            min_severity=table.get("min_severity", "medium"),
            tlp=dict(table.get("tlp", {"*": "amber"})),
            amber_peers=frozenset(table.get("amber_peers", ())),
            detectors=frozenset(table.get("detectors", ())),
        )


def observables(alerts: pl.DataFrame, policy: ReleasePolicy) -> pl.DataFrame:
    """The releasable observables in alerts: one row per (type, value) with when and how
    often it was seen, the alert ids and the titles. Internal entities never appear."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    chosen = alerts.filter(
        pl.col("severity").replace_strict(rank, default=-1) >= rank[policy.min_severity]
    )
    if policy.detectors and "detector" in chosen.columns:
        chosen = chosen.filter(pl.col("detector").is_in(list(policy.detectors)))
    entities = chosen.select(
        "alert_id", "time", "title", entity=pl.col("related").fill_null([])
    ).explode("entity")
    techniques = chosen.select(
        "alert_id",
        "time",
        "title",
        entity=pl.col("attack").fill_null([]).list.eval(pl.lit("technique:") + pl.element()),
    ).explode("entity")
    frames = [entities, techniques] if "attack" in chosen.columns else [entities]
    parts = (
        pl.concat(frames, how="vertical_relaxed")
        .drop_nulls("entity")
        .with_columns(pl.col("entity").str.split_exact(":", 1).alias("_p"))
        .unnest("_p")
        .rename({"field_0": "type", "field_1": "value"})
        .filter(pl.col("type").is_in(list(policy.types)) & pl.col("value").is_not_null())
    )
    if parts.height == 0:
        return pl.DataFrame(
            schema={"type": pl.String(), "value": pl.String(), "first_seen": pl.Datetime(
                "us", "UTC"), "last_seen": pl.Datetime("us", "UTC"), "count": pl.UInt32(),
                "alert_ids": pl.List(pl.String()), "title": pl.String()}
        )
    grouped = parts.group_by("type", "value", maintain_order=True).agg(
        first_seen=pl.col("time").min(),
        last_seen=pl.col("time").max(),
        count=pl.col("alert_id").n_unique().cast(pl.UInt32),
        alert_ids=pl.col("alert_id").unique(maintain_order=True),
        title=pl.col("title").first(),
    )
    public_ip = grouped["value"].map_elements(_is_public_ip, return_dtype=pl.Boolean)
    return grouped.filter((pl.col("type") != "ip") | public_ip)


def _is_public_ip(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.strip()).is_global
    except ValueError:
        return False


def pattern(kind: str, value: str, salt: str) -> str | None:
    """The STIX pattern of one released observable, or None when it has no pattern."""
    v = value.strip().replace("\\", "\\\\").replace("'", "\\'")
    if kind == "ip":
        family = ipaddress.ip_address(value.strip()).version
        return f"[ipv{family}-addr:value = '{v}']"
    if kind == "domain":
        return f"[domain-name:value = '{v.lower()}']"
    if kind == "url":
        return f"[url:value = '{v}']"
    if kind == "hash":
        name = _HASH_NAMES.get(len(value.strip()))
        return f"[file:hashes.'{name}' = '{v.lower()}']" if name else None
    if kind in SALTED:
        return f"[{SALTED[kind]}:hash = '{salted(salt, kind, value)}']"
    if kind == "wallet":
        return f"[{WALLET_TYPE}:value = '{v}']"
    return None


def indicator_id(sector: str, kind: str, pattern_text: str) -> str:
    """The indicator id of a pattern: the same at every member of the sector."""
    return f"indicator--{uuid.uuid5(_NAMESPACE, f'{sector}|{kind}|{pattern_text}')}"


def attack_pattern_id(technique: str) -> str:
    """The attack-pattern id of an ATT&CK technique, the same everywhere."""
    return f"attack-pattern--{uuid.uuid5(_NAMESPACE, 'attack|' + technique.upper())}"


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _key(kind: str, value: str, policy: ReleasePolicy) -> str | None:
    """What a released observable is known by: its pattern, or a technique's attack-pattern
    id (None: it has no pattern)."""
    return attack_pattern_id(value) if kind == "technique" else pattern(kind, value, policy.salt)


def _build(
    row: dict[str, Any], policy: ReleasePolicy, creator: str, key: str, level: str
) -> list[dict[str, Any]]:
    kind, value = row["type"], row["value"]
    marking = [TLP2_IDS[level]]
    first, last = _stamp(row["first_seen"]), _stamp(row["last_seen"])
    common = {"created_by_ref": creator, "object_marking_refs": marking, "created": first,
              "modified": first, "allow_custom": True}
    if kind == "technique":
        target = key
        sdo = stix2.AttackPattern(
            id=target,
            name=value.upper(),
            external_references=[{"source_name": "mitre-attack", "external_id": value.upper()}],
            **common,
        )
    else:
        text = key
        target = indicator_id(policy.sector, kind, text)
        sdo = stix2.Indicator(
            id=target,
            name=f"Sector-reported {kind}" + ("" if kind in SALTED else f" {value}"),
            pattern=text,
            pattern_type="stix",
            valid_from=_stamp(row["first_seen"] - policy.lookback),
            indicator_types=["malicious-activity"],
            labels=[f"mamori-{kind}"],
            **common,
        )
    sighting_key = "|".join([target, *sorted(row["alert_ids"])])
    sighting = stix2.Sighting(
        id=f"sighting--{uuid.uuid5(_NAMESPACE, sighting_key)}",
        sighting_of_ref=target,
        where_sighted_refs=[creator],
        count=int(row["count"]),
        first_seen=first,
        last_seen=last if last > first else None,
        **common,
    )
    return [orjson.loads(sdo.serialize()), orjson.loads(sighting.serialize())]


def release(
    alerts: pl.DataFrame,
    policy: ReleasePolicy,
    peer: str,
    received: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """The STIX objects (as dicts) a tenant's alerts release to `peer` under `policy`:
    the sector identity, the TLP markings used, and per observable its indicator or attack
    pattern with a sighting. Objects whose TLP the peer may not receive are left out.

    `received` (from `received_levels` of what the tenant pulled) is the re-release guard:
    an observable that came in under TLP:AMBER goes out at AMBER or stricter whatever the
    policy says, so only to `amber_peers`; never again as GREEN or CLEAR."""
    creator = sector_identity(policy.sector)
    floors = received or {}
    out: list[dict[str, Any]] = []
    levels: set[str] = set()
    for row in observables(alerts, policy).iter_rows(named=True):
        key = _key(row["type"], row["value"], policy)
        if key is None:
            continue
        level = stricter(policy.level(row["type"]), floors.get(key))
        if not policy.allows(level, peer):
            continue
        levels.add(level)
        out += _build(row, policy, creator["id"], key, level)
    if not out:
        return []
    markings = [tlp_marking(level) for level in TLP_ORDER if level in levels]
    return [creator, *markings, *out]


def bundle(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """A STIX 2.1 bundle of objects (its id derives from theirs, so it is stable)."""
    ids = "|".join(sorted(o["id"] + o.get("modified", "") for o in objects))
    return {
        "type": "bundle",
        "id": f"bundle--{uuid.uuid5(_NAMESPACE, ids)}",
        "objects": objects,
    }
