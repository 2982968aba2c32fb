"""Simulator throughput: events generated per minute (one process, all cores).

.venv/bin/python benchmarks/simulate.py [customers] [days]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from mamori.simulate import SimConfig, simulate


def main() -> None:
    customers = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    cfg = SimConfig(
        seed=3,
        customers=customers,
        days=days,
        tenants=("bank-a",),
        start=datetime(2026, 11, 2, tzinfo=UTC),
    )
    started = time.perf_counter()
    events = sum(b.height for chunk in simulate(cfg).chunks() for b in chunk.batches.values())
    seconds = time.perf_counter() - started
    print(
        f"{events:,} events in {seconds:.1f} s = {events / seconds * 60:,.0f} events/min "
        f"({customers:,} customers, {days} days)"
    )


if __name__ == "__main__":
    main()
