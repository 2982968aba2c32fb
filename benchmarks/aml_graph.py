"""Throughput of the AML stream detector: transfers per second on one core.

A synthetic bank of `--accounts` accounts makes `--transfers` transfers over `--days` days
(payees drawn from each account's small circle, some to outside accounts, a device and an
address per account), fed to `AmlGraph` in time-ordered batches of `--batch-rows`, with
the graph's default 90-day window. Only `process()` is timed, by the wall clock and by the
process's CPU time (the fairer per-core figure on a shared machine). Prints JSON.

Run: POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/aml_graph.py
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from datetime import UTC, datetime

import numpy as np
import polars as pl

from mamori.detect.aml import AmlGraph
from mamori.events.schema import conform


def transfers(n: int, accounts: int, days: int, seed: int = 7) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    start = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1e6)
    who = rng.integers(0, accounts, n)
    circle = (who + rng.integers(1, 12, n)) % accounts
    outside = rng.random(n) < 0.3
    payee = np.where(outside, rng.integers(0, accounts * 10, n), circle)
    frame = pl.DataFrame(
        {
            "event_id": pl.int_range(n, eager=True).cast(pl.String),
            "time": np.sort(start + rng.integers(0, days * 86_400_000_000, n)),
            "tenant": "bank-a",
            "account": pl.Series(who).cast(pl.String),
            "counterparty": pl.Series(
                np.where(outside, "X", "") + pl.Series(payee).cast(pl.String).to_numpy()
            ),
            "amount": np.round(rng.lognormal(5, 1.2, n), 2),
            "direction": np.where(rng.random(n) < 0.6, "debit", "credit"),
            "channel": "online",
            "device": pl.Series(who).cast(pl.String),
            "ip": pl.Series(who % (accounts // 2)).cast(pl.String),
        }
    ).with_columns(pl.from_epoch("time", time_unit="us").dt.replace_time_zone("UTC"))
    return conform(frame, "transaction")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transfers", type=int, default=1_000_000)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    args = parser.parse_args()
    batch = transfers(args.transfers, args.accounts, args.days)
    detector = AmlGraph()
    alerts = 0
    started, cpu = time.perf_counter(), time.process_time()
    for offset in range(0, batch.height, args.batch_rows):
        alerts += detector.process(batch.slice(offset, args.batch_rows)).height
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    print(
        json.dumps(
            {
                "transfers": batch.height,
                "accounts": args.accounts,
                "days": args.days,
                "batch_rows": args.batch_rows,
                "seconds": round(seconds, 2),
                "transfers_per_s": round(batch.height / seconds),
                "cpu_seconds": round(cpu_seconds, 2),
                "transfers_per_cpu_s": round(batch.height / cpu_seconds),
                "alerts": alerts,
                "edges_held": detector.graph.edges.height,
                "evicted_edges": detector.graph.evicted_edges,
                "paths_cut": detector.paths_cut,
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                "polars_max_threads": os.environ.get("POLARS_MAX_THREADS"),
            }
        )
    )


if __name__ == "__main__":
    main()
