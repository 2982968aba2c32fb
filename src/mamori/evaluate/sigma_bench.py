"""Sigma detector benchmark: events per second through all SigmaHQ Windows rules, and memory.

Every EVTX file under the data root's ``evtx`` folder is read as `winlog`, the frames are
concatenated and repeated (each copy with fresh, unique `event_id` values) to at least
`events` rows, made copy by copy so the repeated data is never held whole; all SigmaHQ
rules (``rules``, ``rules-emerging-threats``, ``rules-threat-hunting``) are loaded, and
`SigmaDetector.process` is timed over the micro-batches the live pipeline makes
(`mamori.engine.pipeline.micro_batches`: one stream a batch — a Windows channel, Sysmon's by
event id — of at most 100,000 rows, at most 200,000 events waiting). Only `process` is
timed (reading, loading and repeating are not): `events_per_s` by the wall clock,
`events_per_cpu_s` by the process's CPU time (the figure to quote on a shared machine,
with ``POLARS_MAX_THREADS=1``). `peak_rss_mb` is the process's peak resident set, rule
loading and the waiting events included (`peak_rss_mb_after_load`: the peak before the
first batch). The data root is ``$MAMORI_DATA`` or ``../shared/data`` next to the repository.

Run it on one core with ``benchmarks/sigma_rules.py`` (sets ``POLARS_MAX_THREADS=1``).
"""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import polars as pl

BATCH_ROWS = 100_000
RULE_SETS = ("rules", "rules-emerging-threats", "rules-threat-hunting")


def data_root() -> Path:
    """``$MAMORI_DATA``, or ``../shared/data`` relative to the repository root."""
    env = os.environ.get("MAMORI_DATA")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[3]
    return (repo / ".." / "shared" / "data").resolve()


def read_evtx(evtx_dir: Path) -> pl.DataFrame:
    """Every EVTX file under `evtx_dir` as one `winlog` frame."""
    from mamori.events.readers import read_path

    frames: list[pl.DataFrame] = []
    for path in sorted(evtx_dir.rglob("*")):
        if path.suffix.lower() != ".evtx" or not path.is_file():
            continue
        frames.extend(b for b in read_path(path, kind="winlog") if b.height)
    if not frames:
        raise FileNotFoundError(f"no EVTX events under {evtx_dir}")
    return pl.concat(frames, how="diagonal_relaxed", rechunk=True)


def repeat(
    frame: pl.DataFrame, events: int, batch_rows: int = BATCH_ROWS
) -> Iterator[pl.DataFrame]:
    """`frame` repeated to at least `events` rows (every copy with fresh unique event ids),
    as batches of `batch_rows`; made batch by batch, so the repeated data is never held
    whole (the peak memory is the detector's, not the benchmark's)."""
    copies = max(1, -(-events // frame.height))
    total = copies * frame.height
    for start in range(0, total, batch_rows):
        stop = min(start + batch_rows, total)
        parts = []
        for copy in range(start // frame.height, (stop - 1) // frame.height + 1):
            lo = max(start, copy * frame.height) - copy * frame.height
            hi = min(stop, (copy + 1) * frame.height) - copy * frame.height
            parts.append(
                frame.slice(lo, hi - lo).with_columns(
                    (pl.lit(f"b{copy}-") + pl.int_range(lo, hi).cast(pl.String)).alias("event_id")
                )
            )
        yield pl.concat(parts, rechunk=True)


def bench_sigma(
    events: int = 1_000_000,
    rules_dirs: Sequence[Path | str] | None = None,
    evtx_dir: Path | str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, Any]:
    """Time `SigmaDetector.process` over at least `events` EVTX events; figures as a dict."""
    from mamori.detect.sigma import SigmaDetector
    from mamori.engine.pipeline import micro_batches

    root = data_root()
    dirs = [Path(d) for d in rules_dirs] if rules_dirs else [root / "sigma" / s for s in RULE_SETS]
    frame = read_evtx(Path(evtx_dir) if evtx_dir else root / "evtx")
    load_started = time.perf_counter()
    detector = SigmaDetector.from_paths(*dirs)
    load_seconds = time.perf_counter() - load_started

    loaded_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    busy = cpu = 0.0
    alerts = 0
    total = 0
    # the live pipeline's micro-batching: one batch per Windows channel, ~batch_rows each
    for batch in micro_batches(repeat(frame, events, frame.height), batch_rows):
        started, started_cpu = time.perf_counter(), time.process_time()
        alerts += detector.process(batch).height
        busy += time.perf_counter() - started
        cpu += time.process_time() - started_cpu
        total += batch.height
        del batch  # not held while the next one is made
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "events": total,
        "events_per_s": round(total / busy) if busy else None,
        "seconds": round(busy, 3),
        "events_per_cpu_s": round(total / cpu) if cpu else None,
        "rules": len(detector.rules),
        "alerts": alerts,
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "polars_threads": os.environ.get("POLARS_MAX_THREADS", "all"),
        "load_seconds": round(load_seconds, 1),
        "peak_rss_mb_after_load": round(loaded_kb / 1024, 1),
    }
