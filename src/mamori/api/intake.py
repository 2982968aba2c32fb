"""HTTP ingest: batches through the spine's validation and quarantine, then each tenant's engine.

One request is one *ingest batch* of JSON lines (or a JSON array, turned into lines). It is
handled in three steps:

1. **Spool.** The body is written to ``spool/<tenant>/<seq>.ndjson``, lines naming another
   tenant blanked out first (they are quarantined with their line and the reason
   ``foreign_tenant``: a caller ingests for its own tenant only).
2. **Validate.** The spool file (its name carries the sequence and the kind asked for) is
   read with `mamori.events.readers.read_path`, exactly as ``mamori run`` reads a file:
   parse, validate, quarantine (``quarantine/api-<tenant>.jsonl``) and fill the envelope
   with stable event ids. The answer to the request gives the counts (read = accepted +
   quarantined) before any detector runs.
3. **Detect.** The accepted batches go to the tenant's `TenantEngine`: one `Pipeline` per
   tenant with the default detectors, fed by a queue and run on its own thread. It writes
   the events to the lake and alerts to the store, rebuilds the tenant's incidents every
   `incident_every_s` and when it falls idle, and checkpoints its detectors' state every
   `checkpoint_every_s`. A spool file is deleted only once a checkpoint covers it; on start
   the engine restores its checkpoint and replays the spool files left, so a crash loses
   nothing (event and alert ids are stable, so what is replayed is stored once).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from mamori.engine.checkpoint import Checkpoint
from mamori.engine.pipeline import Pipeline, RunStats, micro_batches
from mamori.events.quarantine import Quarantine
from mamori.events.readers import UnknownKindError, read_path
from mamori.events.schema import KINDS
from mamori.events.summary import ReadSummary
from mamori.share.client import SharedIntel
from mamori.store.lake import EventLake
from mamori.store.sql import OperationalStore

__all__ = ["IngestResult", "Intake", "TenantEngine", "ndjson_of_json"]

log = logging.getLogger("mamori.api.intake")

FOREIGN_TENANT = "foreign_tenant"


class IngestRefused(ValueError):
    """A body that cannot be ingested at all (not JSON, unknown kind …)."""


class EngineBusy(RuntimeError):
    """Too many events wait for the tenant's engine: retry later."""


@dataclass
class IngestResult:
    """What one ingest batch came to."""

    batch_id: str
    read: int
    accepted: int
    quarantined: int
    by_reason: dict[str, int]
    by_kind: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def ndjson_of_json(body: bytes) -> bytes:
    """A JSON array of objects (or ``{"events": [...]}``) as JSON lines.

    >>> ndjson_of_json(b'[{"a": 1}, {"a": 2}]')
    b'{"a":1}\\n{"a":2}'
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise IngestRefused(f"the body is not JSON: {error}") from error
    if isinstance(value, dict):
        value = value.get("events")
    if not isinstance(value, list):
        raise IngestRefused('a JSON body must be an array of events or {"events": [...]}')
    return b"\n".join(map(orjson.dumps, value))


def _blank_foreign_lines(body: bytes, tenant: str) -> tuple[bytes, pl.DataFrame]:
    """Blank the lines whose `tenant` field names another tenant; return them as rejects."""
    if b'"tenant"' not in body:  # the common case costs one scan
        return body, pl.DataFrame()
    lines = pl.Series("record", [body.decode("utf-8", "replace")]).str.split("\n").explode()
    named = lines.str.json_path_match("$.tenant")
    foreign = (named.is_not_null() & (named != tenant)).fill_null(False)
    if not foreign.any():
        return body, pl.DataFrame()
    rejected = pl.DataFrame(
        {
            "_line": pl.int_range(1, len(lines) + 1, eager=True).filter(foreign),
            "reason": pl.repeat(FOREIGN_TENANT, int(foreign.sum()), eager=True),
            "detail": 'tenant="' + named.filter(foreign) + f'": this caller ingests for {tenant}',
            "record": lines.filter(foreign),
        }
    )
    kept = pl.select(pl.when(foreign).then(pl.lit("")).otherwise(lines)).to_series()
    return "\n".join(kept.to_list()).encode(), rejected


@dataclass
class _Item:
    spool: Path
    batches: list[pl.DataFrame]
    events: int


@dataclass
class _Shared:
    """What the sector hub shared (`mamori.share.follow`): indicators to match, alerts to store."""

    objects: list[dict[str, Any]]
    alerts: pl.DataFrame


@dataclass
class EngineStatus:
    """What a tenant's engine has done so far."""

    pending_events: int = 0
    processed_events: int = 0
    alerts: int = 0
    incidents: int = 0
    errors: list[str] = field(default_factory=list)


class TenantEngine:
    """One tenant's pipeline on its own thread, fed through a queue (see the module text)."""

    def __init__(
        self,
        tenant: str,
        data_dir: Path,
        store: OperationalStore,
        lake: EventLake,
        *,
        batch_rows: int,
        incident_every_s: float,
        checkpoint_every_s: float,
        pipeline_factory: Callable[[], Pipeline] | None = None,
        on_change: Callable[[str], None] | None = None,
        sector_salt: str | None = None,
    ) -> None:
        """With a `sector_salt` (the tenant follows a sector hub) the pipeline also runs a
        `SharedIntel` detector that `share` feeds."""
        self.tenant = tenant
        self.on_change = on_change
        self.store = store
        self.spool = data_dir / "spool" / tenant
        self.spool.mkdir(parents=True, exist_ok=True)
        self.checkpoint = Checkpoint(data_dir / "checkpoints" / f"api-{tenant}")
        self.pipeline = (pipeline_factory or Pipeline)()
        self.pipeline.lake, self.pipeline.store = lake, store
        self.pipeline.keep_alerts = False
        self.batch_rows = batch_rows
        self.incident_every_s = incident_every_s
        self.checkpoint_every_s = checkpoint_every_s
        self.status = EngineStatus()
        self._queue: queue.Queue[Any] = queue.Queue()
        self._settled = threading.Condition()
        self._unsettled = 0
        self._position = 0
        saved, state = self.checkpoint.load(), None
        if saved is not None:
            self._position, state, _ = saved
            self.pipeline.restore(state)
        self.shared: SharedIntel | None = None
        if sector_salt is not None:
            # last, so checkpoints written before the tenant followed a hub still restore
            self.shared = SharedIntel(sector_salt)
            self.pipeline.append(self.shared, state)
        self._thread = threading.Thread(target=self._loop, name=f"engine-{tenant}", daemon=True)
        self._thread.start()

    def submit(self, spool: Path, batches: list[pl.DataFrame]) -> None:
        """Queue a validated batch's events for detection."""
        events = sum(b.height for b in batches)
        with self._settled:
            self._unsettled += 1
            self.status.pending_events += events
        self._queue.put(_Item(spool, batches, events))

    def share(self, objects: list[dict[str, Any]], alerts: pl.DataFrame) -> None:
        """Queue what the sector hub shared: indicators for `SharedIntel` (ignored unless the
        tenant follows a hub) and sector-campaign alerts of this tenant to store."""
        with self._settled:
            self._unsettled += 1
        self._queue.put(_Shared(objects, alerts))

    def rebuild_incidents(self) -> None:
        """Rebuild the tenant's incidents soon, on the engine's thread (alerts that another
        process wrote to the store, see `mamori.api.incident_watch`)."""
        self._queue.put(_REBUILD)

    def wait_settled(self, timeout_s: float = 60.0) -> bool:
        """Wait until every submitted batch is detected, its incidents built and
        checkpointed; False on timeout."""
        with self._settled:
            return self._settled.wait_for(lambda: self._unsettled == 0, timeout=timeout_s)

    def close(self) -> None:
        """Finish what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout=120)

    # --- the engine thread ------------------------------------------------------------------

    def _loop(self) -> None:
        done: list[_Item] = []  # detected, not yet covered by a checkpoint
        dirty = False  # alerts stored since the last incident rebuild
        taken = 0  # shared items applied, settled once their incidents are built
        last_rebuild = last_checkpoint = time.monotonic()
        stopping = False
        while not stopping:
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                first = _IDLE
            items = [] if first is _IDLE else [first]
            while len(items) < 256:  # drain what else is waiting
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stopping = None in items
            dirty |= any(i is _REBUILD for i in items)
            shared = [i for i in items if isinstance(i, _Shared)]
            if shared:
                dirty |= self._take_shared(shared)
                taken += len(shared)
            work = [i for i in items if isinstance(i, _Item)]
            if work:
                try:
                    dirty |= self._detect(work)
                except Exception as error:  # noqa: BLE001 - keep the engine alive, say why
                    log.exception("engine %s failed on a batch", self.tenant)
                    self.status.errors.append(f"{type(error).__name__}: {error}")
                done.extend(work)
            idle = self._queue.empty()
            now = time.monotonic()
            if dirty and (idle or stopping or now - last_rebuild >= self.incident_every_s):
                self._rebuild_incidents()
                dirty, last_rebuild = False, now
            if done and (idle or stopping or now - last_checkpoint >= self.checkpoint_every_s):
                self._checkpoint(done)
                done, last_checkpoint = [], now
            if taken and not dirty:
                with self._settled:
                    self._unsettled -= taken
                    self._settled.notify_all()
                taken = 0

    def _detect(self, items: list[_Item]) -> bool:
        stats = RunStats()
        found = 0
        batches = [b for item in items for b in item.batches]
        for batch in micro_batches(batches, self.batch_rows):
            alerts = self.pipeline.process(batch, stats)
            if alerts.height:
                found += self.store.add_alerts(alerts)
        events = sum(i.events for i in items)
        with self._settled:
            self.status.pending_events -= events
            self.status.processed_events += events
            self.status.alerts += found
        if found:
            self._changed()
        return found > 0

    def _take_shared(self, items: list[_Shared]) -> bool:
        found = 0
        for item in items:
            try:
                if item.objects and self.shared is not None:
                    self.shared.add(item.objects, source="sector")
                if item.alerts.height:
                    found += self.store.add_alerts(item.alerts)
            except Exception as error:  # noqa: BLE001 - keep the engine alive, say why
                log.exception("engine %s could not take what the sector shared", self.tenant)
                self.status.errors.append(f"{type(error).__name__}: {error}")
        with self._settled:
            self.status.alerts += found
        if found:
            self._changed()
        return found > 0

    def _rebuild_incidents(self) -> None:
        alerts = self.store.alerts(self.tenant)
        incidents, membership = self.pipeline.incidents(alerts)
        self.store.replace_incidents(self.tenant, incidents, membership)
        self.status.incidents = incidents.height
        self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change(self.tenant)

    def _checkpoint(self, done: list[_Item]) -> None:
        self._position += len(done)
        self.checkpoint.save(self._position, self.pipeline.state())
        for item in done:
            item.spool.unlink(missing_ok=True)
        with self._settled:
            self._unsettled -= len(done)
            self._settled.notify_all()


_IDLE: Any = object()
_REBUILD: Any = object()


class Intake:
    """Ingest for every tenant: spools, validates, and hands batches to tenant engines."""

    def __init__(
        self,
        data_dir: Path,
        store: OperationalStore,
        lake: EventLake,
        *,
        batch_rows: int = 250_000,
        incident_every_s: float = 2.0,
        checkpoint_every_s: float = 5.0,
        max_pending_events: int = 5_000_000,
        pipeline_factory: Callable[[], Pipeline] | None = None,
        on_change: Callable[[str], None] | None = None,
        followers: dict[str, str] | None = None,
    ) -> None:
        """`on_change(tenant)` is called (on the engine's thread) after the engine stored
        alerts or rebuilt incidents of the tenant. `followers` maps each tenant that follows
        a sector hub to the sector's salt (see `mamori.share.follow`)."""
        self.followers = dict(followers or {})
        self.data_dir = Path(data_dir)
        self.store, self.lake = store, lake
        self.max_pending_events = max_pending_events
        self._engine_args: dict[str, Any] = {
            "batch_rows": batch_rows,
            "incident_every_s": incident_every_s,
            "checkpoint_every_s": checkpoint_every_s,
            "pipeline_factory": pipeline_factory,
            "on_change": on_change,
        }
        self._engines: dict[str, TenantEngine] = {}
        self._lock = threading.Lock()
        self._seq = 0

    def running(self, tenant: str) -> TenantEngine | None:
        """The tenant's engine if it has been started, without starting it."""
        with self._lock:
            return self._engines.get(tenant)

    def engine(self, tenant: str) -> TenantEngine:
        """The tenant's engine, started (and its spool replayed) on first use."""
        with self._lock:
            engine = self._engines.get(tenant)
            if engine is not None:
                return engine
            engine = TenantEngine(
                tenant, self.data_dir, self.store, self.lake, **self._engine_args,
                sector_salt=self.followers.get(tenant),
            )
            self._engines[tenant] = engine
        for leftover in sorted(engine.spool.glob("*.ndjson")):
            kind = leftover.stem.rpartition("--")[2]
            self._validate(tenant, leftover, None, engine, None if kind == "any" else kind)
        return engine

    def resume(self) -> None:
        """Start the engines of tenants with spooled batches left from an earlier run."""
        spool = self.data_dir / "spool"
        if spool.is_dir():
            for folder in sorted(p for p in spool.iterdir() if any(p.glob("*.ndjson"))):
                self.engine(folder.name)

    def ingest(
        self, tenant: str, body: bytes, *, kind: str | None, json_array: bool
    ) -> IngestResult:
        """Ingest one batch for `tenant` (see the module text)."""
        if kind is not None and kind not in KINDS:
            raise IngestRefused(f"unknown kind {kind!r}; kinds: {', '.join(sorted(KINDS))}")
        engine = self.engine(tenant)
        if engine.status.pending_events > self.max_pending_events:
            raise EngineBusy(
                f"{engine.status.pending_events:,} events wait for detection; retry shortly"
            )
        if json_array:
            body = ndjson_of_json(body)
        body, foreign = _blank_foreign_lines(body, tenant)
        with self._lock:
            self._seq += 1
            name = f"{time.time_ns():020d}-{self._seq:06d}--{kind or 'any'}.ndjson"
        path = engine.spool / name
        path.write_bytes(body)
        try:
            return self._validate(tenant, path, foreign, engine, kind)
        except BaseException:
            path.unlink(missing_ok=True)
            raise

    def _validate(
        self,
        tenant: str,
        path: Path,
        foreign: pl.DataFrame | None,
        engine: TenantEngine,
        kind: str | None,
    ) -> IngestResult:
        quarantine = Quarantine(self.data_dir / "quarantine" / f"api-{tenant}.jsonl")
        summary = ReadSummary()
        if foreign is not None and foreign.height:
            counts = quarantine.add(str(path), foreign)
            summary.file(str(path)).add(read=foreign.height, quarantined=counts)
        try:
            batches = list(
                read_path(path, kind=kind, tenant=tenant, quarantine=quarantine, summary=summary)
            )
        except UnknownKindError as error:
            raise IngestRefused(
                "say the kind of the events: ?kind=... or a 'kind' field in each record"
            ) from error
        except pl.exceptions.PolarsError as error:  # a reader gap: refuse clearly, not 500
            log.warning("ingest batch %s could not be read: %s", path.name, error)
            raise IngestRefused(f"the batch could not be read: {error}") from error
        if batches:
            engine.submit(path, batches)
        else:
            path.unlink(missing_ok=True)
        by_kind: dict[str, int] = {}
        for batch in batches:
            by_kind[batch["kind"][0]] = by_kind.get(batch["kind"][0], 0) + batch.height
        return IngestResult(
            batch_id=path.stem,
            read=summary.read,
            accepted=summary.accepted,
            quarantined=summary.quarantined,
            by_reason=dict(summary.by_reason),
            by_kind=by_kind,
        )

    def status(self, tenant: str) -> EngineStatus:
        """The tenant's engine status (an idle one if it has not ingested)."""
        with self._lock:
            engine = self._engines.get(tenant)
        return engine.status if engine is not None else EngineStatus()

    def wait_settled(self, tenant: str, timeout_s: float = 60.0) -> bool:
        """Wait for the tenant's engine to detect and checkpoint all it was given."""
        with self._lock:
            engine = self._engines.get(tenant)
        return True if engine is None else engine.wait_settled(timeout_s)

    def close(self) -> None:
        """Finish the queued work of every engine and stop them."""
        with self._lock:
            engines = list(self._engines.values())
        for engine in engines:
            engine.close()
