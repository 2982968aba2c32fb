"""Throughput of the log-anomaly detectors (lines/s), printed as JSON.

The loghub OpenSSH and Linux samples are repeated to `--lines` lines (times shifted so the
stream runs forward, the last octet of every address varied so masking has work to do) and
streamed in batches through template mining, rare templates, template surges and SSH
guessing. Run with POLARS_MAX_THREADS=1 for a per-core figure:

    POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/log_anomaly.py --lines 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import timedelta
from pathlib import Path

import polars as pl

from mamori.detect.logs import RareTemplate, SshBruteForce, TemplateSurge
from mamori.events.loghub import read_loghub


def stream(root: Path, lines: int) -> pl.DataFrame:
    samples = [
        read_loghub(root / name, year=2017).events for name in ("OpenSSH_2k.log", "Linux_2k.log")
    ]
    base = pl.concat(samples).sort("time")
    span = base["time"].max() - base["time"].min() + timedelta(seconds=1)
    copies = -(-lines // base.height)
    frames = [
        base.with_columns(
            time=pl.col("time") + span * i,
            event_id=pl.col("event_id") + f"-{i}",
            message=pl.col("message").str.replace_all(r"\.(\d{1,3})\b", f".{i % 250}"),
        )
        for i in range(copies)
    ]
    return pl.concat(frames).head(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    args = parser.parse_args()
    root = Path(os.environ.get("MAMORI_DATA", "../shared/data")) / "logs" / "loghub"
    events = stream(root, args.lines)
    result: dict[str, object] = {
        "lines": events.height,
        "batch_rows": args.batch_rows,
        "polars_threads": pl.thread_pool_size(),
    }
    for detector in (RareTemplate(), TemplateSurge(), SshBruteForce()):
        started = time.perf_counter()
        alerts = 0
        for offset in range(0, events.height, args.batch_rows):
            alerts += detector.process(events.slice(offset, args.batch_rows)).height
        seconds = time.perf_counter() - started
        result[detector.name] = {
            "lines_per_s": round(events.height / seconds),
            "seconds": round(seconds, 2),
            "alerts": alerts,
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
