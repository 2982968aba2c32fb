"""Sigma detector throughput and memory on the EVTX samples, on one core.

Sets POLARS_MAX_THREADS=1 before Polars is imported, runs
`mamori.evaluate.sigma_bench.bench_sigma` (what `mamori bench sigma` runs) and prints its JSON.

    .venv/bin/python benchmarks/sigma_rules.py            # 1,000,000 events
    .venv/bin/python benchmarks/sigma_rules.py 100000     # another size
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    os.environ["POLARS_MAX_THREADS"] = "1"
    from mamori.evaluate.sigma_bench import bench_sigma

    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    print(json.dumps(bench_sigma(events=events), indent=1))


if __name__ == "__main__":
    main()
