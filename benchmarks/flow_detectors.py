"""Throughput of the behavioural network detectors on one core, in flows per second.

Builds a synthetic day slice of bank flows (workstations to servers, to the proxy and the
internet, DNS with names, admin protocols, internet noise against the web front), cuts it
into the pipeline's micro-batches, and times each detector alone and all of them together.
Prints JSON: flows per CPU second of this process (with one Polars thread, the cost on one
core, unaffected by other work on a shared machine) and per wall-clock second.

    POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/flow_detectors.py --flows 2000000
"""

from __future__ import annotations

import os

os.environ.setdefault("POLARS_MAX_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from datetime import UTC, datetime  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

from mamori.detect.base import Detector  # noqa: E402
from mamori.detect.network import (  # noqa: E402
    Beaconing,
    DnsTunnel,
    ExfiltrationBaseline,
    NewInternalPeers,
    ScanDetector,
    SourceFlood,
)
from mamori.events.schema import conform  # noqa: E402

DETECTORS: dict[str, Callable[[], Detector]] = {
    "network-scan": ScanDetector,
    "source-flood": SourceFlood,
    "beaconing": Beaconing,
    "exfiltration": ExfiltrationBaseline,
    "dns-tunnel": DnsTunnel,
    "lateral-movement": NewInternalPeers,
}


def synthetic_flows(n: int, seed: int = 7) -> pl.DataFrame:
    """`n` flows over 12 hours: 3,000 workstations, 40 servers, 20,000 internet addresses."""
    rng = np.random.default_rng(seed)
    ws = np.array([f"10.1.{i // 250}.{i % 250 + 1}" for i in range(3000)])
    servers = np.array([f"10.0.0.{i + 1}" for i in range(40)])
    internet = np.array([f"{a}.{b}.{c}.{d}" for a, b, c, d in rng.integers(1, 223, (20_000, 4))])
    kind = rng.choice(5, n, p=[0.35, 0.25, 0.2, 0.15, 0.05])
    src = np.where(
        kind == 4, internet[rng.integers(0, len(internet), n)], ws[rng.integers(0, 3000, n)]
    )
    dst = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [
            servers[rng.integers(0, 40, n)],
            internet[rng.zipf(1.5, n) % len(internet)],
            servers[0],
            servers[rng.integers(0, 40, n)],
        ],
        servers[1],
    )
    port = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 3],
        [
            rng.choice([8443, 1433, 389, 88], n),
            np.full(n, 443),
            np.full(n, 53),
            rng.choice([445, 3389, 135], n),
        ],
        np.full(n, 443),
    ).astype(np.int32)
    query = np.char.add(np.char.add("host", rng.integers(0, 5000, n).astype(str)), ".example.com")
    start = int(datetime(2026, 11, 2, 7, tzinfo=UTC).timestamp() * 1_000_000)
    times = np.sort(start + rng.integers(0, 12 * 3600 * 1_000_000, n))
    frame = pl.DataFrame(
        {
            "event_id": [f"f{i}" for i in range(n)],
            "time": pl.Series(times).cast(pl.Datetime("us", "UTC")),
            "tenant": "bank-a",
            "source": "bench",
            "src_ip": src,
            "src_port": rng.integers(49152, 65535, n).astype(np.int32),
            "dst_ip": dst,
            "dst_port": port,
            "protocol": np.where(kind == 2, "udp", "tcp"),
            "bytes_out": rng.lognormal(7.4, 1.5, n).astype(np.int64),
            "bytes_in": rng.lognormal(9.0, 1.5, n).astype(np.int64),
            "state": rng.choice(["established", "rejected", "reset"], n, p=[0.95, 0.03, 0.02]),
            "query": query,
        }
    ).with_columns(
        service=pl.when(pl.col("dst_port") == 53).then(pl.lit("dns")),
        query=pl.when(pl.col("dst_port") == 53).then(pl.col("query")),
    )
    return conform(frame, "flow")


def timed(
    make: list[Callable[[], Detector]], batches: list[pl.DataFrame]
) -> tuple[float, float, int]:
    """CPU seconds (this process, all its threads), wall seconds, and alerts raised."""
    detectors = [m() for m in make]
    alerts = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for b in batches:
        for d in detectors:
            alerts += d.process(b).height
    return time.process_time() - cpu, time.perf_counter() - wall, alerts


def rates(n: int, cpu: float, wall: float, alerts: int) -> dict[str, int]:
    return {
        "flows_per_cpu_s": round(n / cpu),
        "flows_per_wall_s": round(n / wall),
        "alerts": alerts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=2_000_000)
    parser.add_argument("--batch", type=int, default=250_000)
    args = parser.parse_args()
    flows = synthetic_flows(args.flows)
    batches = [flows.slice(i, args.batch) for i in range(0, flows.height, args.batch)]
    timed(list(DETECTORS.values()), batches[:1])  # warm-up
    result: dict[str, object] = {
        "flows": flows.height,
        "batch_rows": args.batch,
        "polars_max_threads": os.environ["POLARS_MAX_THREADS"],
    }
    per = {name: rates(flows.height, *timed([make], batches)) for name, make in DETECTORS.items()}
    result["all_flow_detectors"] = rates(flows.height, *timed(list(DETECTORS.values()), batches))
    result["per_detector"] = per
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
