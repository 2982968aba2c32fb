"""Sigma correlation throughput with many active groups, on one core.

A synthetic Security log of failed and successful logons spread over `groups` accounts is
run through Mamori's correlation chains (`detect/sigma/rules/mamori-chains.yml`) in
micro-batches of 100,000 events; the figure is events per second of `process` time.

    POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/sigma_correlation.py [events] [groups]
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

from mamori.detect.sigma.correlation import CHAINS, SigmaCorrelator
from mamori.events.schema import conform


def stream(events: int, groups: int, seed: int = 1) -> pl.DataFrame:
    """Logon events, 500 a second, over `groups` accounts."""
    rng = np.random.default_rng(seed)
    start = datetime(2026, 11, 2, tzinfo=UTC)
    offsets = np.sort(rng.uniform(0, events / 500, events))  # 500 events a second
    frame = pl.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(events)],
            "time": pl.Series(offsets * 1e6).cast(pl.Int64).cast(pl.Duration("us")) + start,
            "tenant": "bank-a",
            "Channel": "Security",
            "Computer": "DC01",
            "EventID": np.where(rng.random(events) < 0.7, 4625, 4624).astype(np.int32),
            "LogonType": 3,
            "TargetUserName": pl.Series(rng.integers(0, groups, events)).cast(pl.String),
            "WorkstationName": pl.Series(rng.integers(0, 2000, events)).cast(pl.String),
        }
    )
    return conform(frame, "winlog")


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    groups = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    data = stream(events, groups)
    correlator = SigmaCorrelator.from_paths(CHAINS, max_groups=2 * groups)
    busy, alerts, live = 0.0, 0, 0
    for offset in range(0, data.height, 100_000):
        part = data.slice(offset, 100_000)
        started = time.perf_counter()
        alerts += correlator.process(part).height
        busy += time.perf_counter() - started
        live = max(
            live,
            max(
                (
                    t["TargetUserName"].n_unique()
                    for t in correlator.tails.values()
                    if "TargetUserName" in t.columns
                ),
                default=0,
            ),
        )
    print(
        json.dumps(
            {
                "events": events,
                "groups": groups,
                "max_live_groups": live,
                "alerts": alerts,
                "seconds": round(busy, 3),
                "events_per_s": round(events / busy),
                "evicted": correlator.evicted,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "polars_threads": os.environ.get("POLARS_MAX_THREADS", "all"),
            }
        )
    )


if __name__ == "__main__":
    main()
