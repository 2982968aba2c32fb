"""Which Kafka partition an event goes to, and which detectors stay exact when split that way.

A worker owns some partitions of a topic and keeps one set of detector state per partition.
A detector gives the same alerts on a split stream as on the whole stream only if every
group its state is kept by lies inside one partition. Each stream kind is therefore
partitioned by one entity key, chosen to be the entity most detectors of that kind keep
their state by:

==========  ===========  =================================================================
kind        key          why
==========  ===========  =================================================================
transaction customer     amount baselines and fraud rules are per customer; an account or
                         card belongs to one customer, so rules grouped by them stay whole
flow        src_ip       scans, floods, tunnels and the flow rules are per source host
auth        src_ip       password guessing and spraying are per source address
winlog      Computer     the Windows rules and their novelty are per host
log         host         SSH guessing is per host and source
==========  ===========  =================================================================

A group lies inside one partition when the key is one of its columns (or is determined by
one, as `customer` is by `account` and `card`). What is *not* partition-safe under these keys,
and why:

* `aml`: the transfer graph links accounts of different customers (fan-in, cycles, rings);
* `spike`: counts per destination, fed by many sources;
* `beaconing`, `exfiltration`: also count how many sources reach each destination;
* `lateral-movement`: learns each tenant's admin peers as a whole;
* `sigma_correlation`: chains grouped by user or workstation, not by host;
* `rare-template`, `template-surge`: one template miner learns from every host's lines;
* `source-flood`: per source, but its alerts depend on micro-batch boundaries;
* rules grouped by a /24 network, a device or a user on `auth`, and `winlog` novelty over
  users.

`partition_safe_detectors()` builds the default detectors minus these, with the rule set cut
to the rules that are safe; a worker runs them by default. To run a detector that is not
partition-safe exactly, give its kind's topic one partition (one worker then sees the whole
stream, and every detector is exact).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import polars as pl

from mamori.detect.base import Detector, Snapshot
from mamori.detect.match import network
from mamori.detect.rules import Rule, RuleDetector
from mamori.engine.pipeline import default_detectors
from mamori.events.ids import stable_ids

#: The entity column each stream kind is partitioned by.
PARTITION_KEYS: dict[str, str] = {
    "transaction": "customer",
    "flow": "src_ip",
    "auth": "src_ip",
    "winlog": "Computer",
    "log": "host",
}

#: Columns that each name exactly one value of the kind's key (an account or a card has one
#: owner), so a group by them never spans two partitions.
DETERMINE_KEY: dict[str, frozenset[str]] = {
    "transaction": frozenset({"customer", "account", "card"}),
    "flow": frozenset({"src_ip"}),
    "auth": frozenset({"src_ip"}),
    "winlog": frozenset({"Computer"}),
    "log": frozenset({"host"}),
}

#: Default detectors (by name) that are exact on a stream split by the key, for the kinds
#: they consume. The rule detector is judged rule by rule (`rule_is_partition_safe`).
SAFE_DETECTORS: dict[str, frozenset[str]] = {
    "transaction": frozenset({"baseline"}),
    "flow": frozenset({"network-scan", "dns-tunnel"}),
    "auth": frozenset({"brute-force"}),
    "winlog": frozenset(),
    "log": frozenset({"log-ssh-bruteforce"}),
}


def partition_of(batch: pl.DataFrame, partitions: int) -> pl.Series:
    """The partition (0 … partitions-1) of each event of a one-kind batch, from a stable hash
    of its tenant and key, so that one entity's events always land on one partition.

    >>> from mamori.events.schema import conform
    >>> b = conform(pl.DataFrame({"tenant": ["a"] * 3, "src_ip": ["10.0.0.1"] * 2 + ["x"]}), "flow")
    >>> p = partition_of(b, 8).to_list()
    >>> p[0] == p[1], all(0 <= x < 8 for x in p)
    (True, True)
    """
    if partitions < 1:
        raise ValueError(f"partitions must be at least 1, got {partitions}")
    kind = batch["kind"][0] if batch.height else "flow"
    key = PARTITION_KEYS.get(kind)
    if key is None:
        raise ValueError(f"no partition key for stream kind {kind!r}")
    ids = stable_ids(batch, ["tenant", key])
    return (ids.str.slice(0, 12).str.to_integer(base=16) % partitions).cast(pl.Int32)


def _determined(column: str, kind: str) -> bool:
    """True when `column` names one value of the kind's key (a derived network never does,
    unless the key itself is coarser, which no key here is)."""
    if network(column) is not None:
        return False
    return column in DETERMINE_KEY[kind]


def rule_is_partition_safe(rule: Rule) -> bool:
    """A declarative rule is exact on a split stream when it keeps no state (an event rule),
    or when the groups it keeps state by (window groups; novelty pairs and the history of
    their first column; cooldowns per entity) each contain a column that determines the
    partition key."""
    groups: list[tuple[str, ...]] = []
    if rule.window is not None:
        groups.append(rule.group_by)
    if rule.novel:
        groups += [rule.novel, rule.novel[:1]]
    if rule.cooldown is not None and rule.window is None:  # cooldown per (tenant, entity)
        groups.append((rule.entity,))
    return all(any(_determined(c, rule.kind) for c in g) for g in groups)


class PartitionSafeRules(RuleDetector):
    """The declarative rules that are exact on a stream partitioned by `PARTITION_KEYS`."""

    def __init__(self, rules: list[Rule] | None = None) -> None:
        super().__init__(rules)
        self.left_out = [r.id for r in self.rules if not rule_is_partition_safe(r)]
        self.rules = [r for r in self.rules if rule_is_partition_safe(r)]


class OnlyKinds(Detector):
    """A detector restricted to some of its kinds (those where it is partition-safe)."""

    name: ClassVar[str] = "only-kinds"
    kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, inner: Detector, kinds: frozenset[str]) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]  # alerts keep the wrapped detector's name
        self.kinds = kinds  # type: ignore[misc]

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        return self.inner.process(batch)

    def snapshot(self) -> Snapshot:
        return self.inner.snapshot()

    def restore(self, state: Snapshot) -> None:
        self.inner.restore(state)


def partition_safe_detectors(
    make: Callable[[], list[Detector]] = default_detectors,
) -> list[Detector]:
    """The detectors of `make()` cut to what is exact on a stream split by `PARTITION_KEYS`:
    each detector keeps only the kinds where it is partition-safe, the rule detector keeps
    only its partition-safe rules, and detectors safe for no kind are left out."""
    kept: list[Detector] = []
    for det in make():
        if isinstance(det, RuleDetector):
            kept.append(PartitionSafeRules(det.rules))
            continue
        kinds = frozenset(k for k in det.kinds if det.name in SAFE_DETECTORS.get(k, ()))
        if kinds == det.kinds:
            kept.append(det)
        elif kinds:
            kept.append(OnlyKinds(det, kinds))
    return kept


def safety_report(make: Callable[[], list[Detector]] = default_detectors) -> dict[str, Any]:
    """What `partition_safe_detectors` keeps and leaves out, for docs and `--help`."""
    kept = partition_safe_detectors(make)
    rules = next((d for d in kept if isinstance(d, PartitionSafeRules)), None)
    names = {d.name for d in kept}
    return {
        "keys": PARTITION_KEYS,
        "detectors_kept": sorted(names),
        "detectors_left_out": sorted({d.name for d in make()} - names),
        "rules_left_out": rules.left_out if rules else [],
    }
