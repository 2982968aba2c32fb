"""The batch engine: time-ordered micro-batches through the detectors, with checkpoints.

Input is any iterable of batches, each of one stream kind and in time order within its
kind (readers and the simulator produce exactly that). Batches are gathered per kind into
micro-batches of about `batch_rows` rows (see `micro_batches`); each goes to the event
lake, the entity links, and every detector that consumes its kind, and the alerts go to
the store. Detectors see each kind's events in order; no detector depends on the order
across kinds.

After every `checkpoint_every` micro-batches the engine saves its position and all detector
state. A run interrupted and restarted on the same input skips what the checkpoint covers
and continues from the saved state; since alert ids are stable and the store ignores an id
it already holds, a micro-batch processed twice (a crash after its alerts were stored but
before its checkpoint) raises no duplicate.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import polars as pl

from mamori.detect import logs, network
from mamori.detect.aml import AmlGraph
from mamori.detect.base import Detector
from mamori.detect.baseline import AmountBaseline
from mamori.detect.rules import RuleDetector
from mamori.detect.sigma.correlation import CHAINS, SigmaCorrelator
from mamori.detect.spike import FlowSpike
from mamori.engine.checkpoint import Checkpoint
from mamori.engine.incidents import IncidentPolicy, build_incidents
from mamori.engine.links import EntityLinks
from mamori.engine.suppression import Suppression
from mamori.events.schema import empty_alerts, schema


class AlertSink(Protocol):
    """Where alerts go (the operational store)."""

    def add_alerts(self, alerts: pl.DataFrame) -> int: ...


class EventSink(Protocol):
    """Where events go (the event lake)."""

    def write(self, batch: pl.DataFrame) -> int: ...


def default_detectors() -> list[Detector]:
    """The built-in detectors: declarative rules, per-customer amount baselines, flow spikes,
    and Mamori's own Sigma correlations of multi-stage intrusion chains."""
    return [
        RuleDetector(),
        AmountBaseline(),
        FlowSpike(),
        SigmaCorrelator.from_paths(CHAINS),
        AmlGraph(),
        network.ScanDetector(),
        network.BruteForce(),
        network.SourceFlood(),
        network.Beaconing(),
        network.ExfiltrationBaseline(),
        network.DnsTunnel(),
        network.NewInternalPeers(),
        logs.RareTemplate(),
        logs.TemplateSurge(),
        logs.SshBruteForce(),
    ]


@dataclass
class RunStats:
    """What a run did, for progress display and run records."""

    batches: int = 0
    skipped: int = 0
    events: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    new_alerts: int = 0
    by_detector: Counter[str] = field(default_factory=Counter)
    suppressed: Counter[str] = field(default_factory=Counter)
    detector_seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "skipped_batches": self.skipped,
            "events": self.events,
            "events_by_kind": dict(self.by_kind),
            "alerts": self.alerts,
            "new_alerts": self.new_alerts,
            "alerts_by_detector": dict(self.by_detector),
            "alerts_suppressed": dict(self.suppressed),
            "detector_seconds": {k: round(v, 3) for k, v in self.detector_seconds.items()},
            "seconds": round(self.seconds, 3),
        }


def micro_batches(
    batches: Iterable[pl.DataFrame], rows: int, waiting: int | None = None
) -> Iterator[pl.DataFrame]:
    """Micro-batches of at most `rows` rows, each of one stream, in each stream's own order.

    A stream is a kind, and for `winlog` a kind and an event log channel (Security, ...),
    with Sysmon's channel split by event id (each Sysmon event id is its own log source):
    Windows events of one stream share their fields, so its batch holds only those columns
    (a mixed batch carries the union of every channel's fields, each column costing memory
    on every row) and Sigma rules, routed by log source, see one batch of their events
    instead of a slice of them in every batch. Small batches of a stream are gathered until
    they reach `rows` (detectors pay a cost per batch); large ones are cut; when more than
    `waiting` events (default twice `rows`) wait in all streams, the fullest stream goes out
    early, which bounds memory. Streams are buffered apart, so the order across streams may
    change, never the order within one. Empty batches vanish. Deterministic: the same input
    always gives the same micro-batches.

    >>> import polars as pl
    >>> parts = [pl.DataFrame({"kind": [k] * n}) for k, n in [("a", 2), ("b", 5), ("a", 2)]]
    >>> [(b["kind"][0], b.height) for b in micro_batches(parts, 3)]
    [('b', 3), ('a', 3), ('b', 2), ('a', 1)]
    """
    waiting = 2 * rows if waiting is None else waiting
    pending: dict[tuple[str, str | None], list[pl.DataFrame]] = {}
    sizes: dict[tuple[str, str | None], int] = {}
    for batch in batches:
        for stream, part in _streams(batch):
            pending.setdefault(stream, []).append(part)
            sizes[stream] = sizes.get(stream, 0) + part.height
            if sizes[stream] < rows:
                continue
            whole = _gather(pending.pop(stream))
            sizes.pop(stream)
            cut = whole.height - whole.height % rows
            for offset in range(0, cut, rows):
                yield whole.slice(offset, rows)
            if cut < whole.height:
                pending[stream], sizes[stream] = [whole.slice(cut)], whole.height - cut
        # many streams each filling up to `rows` would hold many batches' worth of events:
        # past `waiting` events in all, the fullest stream goes out early
        while sum(sizes.values()) > waiting:
            fullest = max(sizes, key=lambda k: (sizes[k], str(k)))
            sizes.pop(fullest)
            yield _gather(pending.pop(fullest))
    for parts in pending.values():
        yield _gather(parts)


def _streams(batch: pl.DataFrame) -> Iterator[tuple[tuple[str, str | None], pl.DataFrame]]:
    """A batch's parts by stream: `winlog` split by channel (Sysmon's also by event id),
    without the columns that no event of the part has (beyond the declared ones); other
    kinds whole."""
    if batch.height == 0:
        return
    kind = batch["kind"][0]
    if kind != "winlog" or "Channel" not in batch.columns:
        yield (kind, None), batch
        return
    declared = schema(kind)
    stream = (
        pl.when(pl.col("Channel") == _SYSMON)
        .then(pl.concat_str(pl.col("Channel"), pl.lit("#"), pl.col("EventID").cast(pl.String)))
        .otherwise(pl.col("Channel"))
        .alias(_STREAM)
    )
    for (name,), part in (
        batch.with_columns(stream).partition_by(_STREAM, maintain_order=True, as_dict=True).items()
    ):
        part = part.drop(_STREAM)
        empty = [
            c for c in part.columns if c not in declared and part[c].null_count() == part.height
        ]
        yield (kind, name), part.drop(empty) if empty else part  # type: ignore[misc]


_SYSMON = "Microsoft-Windows-Sysmon/Operational"
_STREAM = "\x00stream"


def _gather(parts: list[pl.DataFrame]) -> pl.DataFrame:
    """One frame from parts of one stream (Windows channels may differ in their fields)."""
    return parts[0] if len(parts) == 1 else pl.concat(parts, how="diagonal_relaxed")


class Pipeline:
    """Runs detectors over batches, keeps links and alerts, checkpoints its progress."""

    def __init__(
        self,
        detectors: list[Detector] | None = None,
        *,
        store: AlertSink | None = None,
        lake: EventSink | None = None,
        checkpoint: Checkpoint | None = None,
        batch_rows: int = 250_000,
        checkpoint_every: int = 1,
        learn_until: datetime | None = None,
        keep_alerts: bool = True,
        suppression: Suppression | None = None,
    ) -> None:
        self.detectors = default_detectors() if detectors is None else detectors
        self.store, self.lake, self.checkpoint = store, lake, checkpoint
        self.batch_rows, self.checkpoint_every = batch_rows, checkpoint_every
        self.learn_until = learn_until
        self.keep_alerts = keep_alerts
        self.suppression = suppression
        self.links = EntityLinks()
        self._alerts: list[pl.DataFrame] = []

    # --- state -------------------------------------------------------------------------

    def _keys(self) -> list[str]:
        return [f"{i}:{d.name}" for i, d in enumerate(self.detectors)]

    def state(self) -> dict[str, Any]:
        """Every detector's snapshot and the entity links."""
        state = {k: d.snapshot() for k, d in zip(self._keys(), self.detectors, strict=True)}
        state["links"] = self.links.snapshot()
        if self.suppression is not None:
            state["suppression"] = self.suppression.snapshot()
        return state

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from `state()` of a pipeline with the same detectors."""
        missing = set(self._keys()) - set(state)
        if missing:
            raise ValueError(
                f"checkpoint does not match these detectors (missing {sorted(missing)})"
            )
        for key, det in zip(self._keys(), self.detectors, strict=True):
            det.restore(state[key])
        self.links.restore(state["links"])
        if self.suppression is not None and "suppression" in state:
            self.suppression.restore(state["suppression"])

    def append(self, detector: Detector, state: dict[str, Any] | None = None) -> None:
        """Add `detector` after the others, restored from its part of `state` (a `state()`)
        where that holds one: a checkpoint written before it was added restores all the
        same."""
        self.detectors.append(detector)
        key = self._keys()[-1]
        if state is not None and key in state:
            detector.restore(state[key])

    # --- running -----------------------------------------------------------------------

    def process(self, batch: pl.DataFrame, stats: RunStats) -> pl.DataFrame:
        """One micro-batch through the lake, the links and the detectors; its alerts."""
        if self.lake is not None:
            self.lake.write(batch)
        self.links.observe(batch)
        kind = batch["kind"][0]
        found = []
        for det in self.detectors:
            if kind not in det.kinds:
                continue
            started = time.perf_counter()
            alerts = det.process(batch)
            stats.detector_seconds[det.name] += time.perf_counter() - started
            if alerts.height:
                found.append(alerts)
        alerts = pl.concat(found) if found else empty_alerts()
        if self.learn_until is not None and alerts.height:
            alerts = alerts.filter(pl.col("time") >= self.learn_until)
        if self.suppression is not None:
            alerts, suppressed = self.suppression.apply(alerts)
            stats.suppressed.update(suppressed)
        stats.batches += 1
        stats.events += batch.height
        stats.by_kind[kind] += batch.height
        stats.alerts += alerts.height
        for name, n in Counter(alerts["detector"].to_list()).items():
            stats.by_detector[name] += n
        return alerts

    def run(
        self, batches: Iterable[pl.DataFrame], on_batch: Callable[[RunStats], None] | None = None
    ) -> RunStats:
        """Process every batch; resume from the checkpoint if there is one."""
        stats = RunStats()
        started = time.perf_counter()
        position = 0
        if self.checkpoint is not None:
            saved = self.checkpoint.load()
            if saved is not None:
                position, state, _ = saved
                self.restore(state)
        for index, batch in enumerate(micro_batches(batches, self.batch_rows)):
            if index < position:
                stats.skipped += 1
                continue
            alerts = self.process(batch, stats)
            if alerts.height:
                if self.store is not None:
                    stats.new_alerts += self.store.add_alerts(alerts)
                else:
                    stats.new_alerts += alerts.height
                if self.keep_alerts:
                    self._alerts.append(alerts)
            if self.checkpoint is not None and (index + 1) % self.checkpoint_every == 0:
                self.checkpoint.save(index + 1, self.state())
            if on_batch is not None:
                on_batch(stats)
        stats.seconds = time.perf_counter() - started
        return stats

    def alerts(self) -> pl.DataFrame:
        """Alerts raised by this pipeline object (not those of an earlier, resumed run)."""
        return pl.concat(self._alerts) if self._alerts else empty_alerts()

    def incidents(
        self, alerts: pl.DataFrame | None = None, policy: IncidentPolicy | None = None
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Incidents over `alerts` (default: this run's), per tenant, with learned links."""
        alerts = self.alerts() if alerts is None else alerts
        parts, members = [], []
        for tenant in sorted(set(alerts["tenant"].to_list())):
            inc, mem = build_incidents(
                alerts.filter(pl.col("tenant") == tenant),
                self.links.frame(tenant).select("a", "b"),
                policy,
            )
            parts.append(inc)
            members.append(mem)
        if not parts:
            return build_incidents(alerts)
        return pl.concat(parts).sort("risk", "last_seen", descending=[True, True]), pl.concat(
            members
        )
