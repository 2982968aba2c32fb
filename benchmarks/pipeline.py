"""Pipeline throughput and memory on the simulator mix, on one core.

Runs `mamori bench pipeline` in a fresh process per size (so each peak RSS is its own),
with POLARS_MAX_THREADS=1 so the figure is per core, and prints a table and the JSON.

    .venv/bin/python benchmarks/pipeline.py            # 1 M and 10 M events
    .venv/bin/python benchmarks/pipeline.py 2000000    # other sizes
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

MAMORI = Path(sys.executable).with_name("mamori")


def run(events: int) -> dict:
    env = {**os.environ, "POLARS_MAX_THREADS": "1"}
    done = subprocess.run(
        [str(MAMORI), "bench", "pipeline", "--events", str(events), "--json"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(done.stdout)


def main() -> None:
    sizes = [int(a) for a in sys.argv[1:]] or [1_000_000, 10_000_000]
    results = [run(n) for n in sizes]
    print(f"{'events':>12} {'events/s (1 core)':>18} {'peak RSS MB':>12}")
    for r in results:
        print(f"{r['events']:>12,} {r['events_per_s']:>18,} {r['peak_rss_mb']:>12,.0f}")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
