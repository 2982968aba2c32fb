"""Pipeline benchmark: events per second through the default detectors, and memory.

The simulator streams hour-long chunks (generation time is not counted); the engine runs
the spine's detectors over them without a store, as `mamori run` does. Memory is the
process's resident set, sampled after every million events, and its peak.
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl
import psutil

from mamori.engine.pipeline import Pipeline, RunStats, micro_batches


def bench_pipeline(
    events: int = 1_000_000, customers: int = 20_000, seed: int = 5
) -> dict[str, Any]:
    """Push at least `events` simulated events through the pipeline; figures as a dict."""
    from mamori.simulate import SimConfig, simulate

    cfg = SimConfig(
        seed=seed,
        customers=customers,
        days=365,
        tenants=("bank-a",),
        start=datetime(2026, 1, 5, tzinfo=UTC),
    )
    pipeline = Pipeline(keep_alerts=False)
    stats = RunStats()
    process = psutil.Process()
    busy = 0.0
    samples: list[dict[str, float]] = []
    next_sample = 1_000_000

    def generated() -> Iterator[pl.DataFrame]:
        """Simulated batches until `events` rows; micro_batches then flushes every kind."""
        total = 0
        for chunk in simulate(cfg).chunks():
            for batch in chunk.batches.values():
                yield batch
                total += batch.height
            if total >= events:
                return

    for batch in micro_batches(generated(), pipeline.batch_rows):
        started = time.perf_counter()
        pipeline.process(batch, stats)
        busy += time.perf_counter() - started
        if stats.events >= next_sample:
            samples.append(
                {"events": stats.events, "rss_mb": round(process.memory_info().rss / 2**20, 1)}
            )
            next_sample += 1_000_000
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "events": stats.events,
        "events_by_kind": dict(stats.by_kind),
        "alerts": stats.alerts,
        "seconds": round(busy, 3),
        "events_per_s": round(stats.events / busy) if busy else None,
        "polars_threads": os.environ.get("POLARS_MAX_THREADS", "all"),
        "cores": os.cpu_count(),
        "detector_seconds": {k: round(v, 3) for k, v in stats.detector_seconds.items()},
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "rss_samples": samples,
    }
