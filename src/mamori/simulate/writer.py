"""Writing a simulation to disk: one Parquet file per hour, kind and tenant, plus the truth
and the reference tables."""

from __future__ import annotations

import time
from pathlib import Path

from mamori.simulate.config import SimConfig
from mamori.simulate.simulation import simulate


def write_simulation(cfg: SimConfig, out_dir: str | Path) -> dict:
    """Generate a simulation and write it under `out_dir`:

    events/<kind>/<tenant>-<YYYYMMDD>-<HH>.parquet   one per chunk, kind and tenant (non-empty)
    truth.parquet                                    one row per scenario instance
    reference/<name>.parquet                         customers, employees, hosts

    Returns {"events": N, "by_kind": {kind: N}, "scenarios": N, "seconds": s}.
    """
    began = time.perf_counter()
    out = Path(out_dir)
    sim = simulate(cfg)
    by_kind: dict[str, int] = {}
    for chunk in sim.chunks():
        stamp = chunk.start.strftime("%Y%m%d-%H")
        for kind, batch in chunk.batches.items():
            if batch.height == 0:
                continue
            folder = out / "events" / kind
            folder.mkdir(parents=True, exist_ok=True)
            for (tenant,), rows in batch.partition_by("tenant", as_dict=True).items():
                rows.write_parquet(folder / f"{tenant}-{stamp}.parquet")
            by_kind[kind] = by_kind.get(kind, 0) + batch.height
    truth = sim.truth()
    truth.write_parquet(out / "truth.parquet")
    (out / "reference").mkdir(parents=True, exist_ok=True)
    for name, table in sim.reference().items():
        table.write_parquet(out / "reference" / f"{name}.parquet")
    return {
        "events": sum(by_kind.values()),
        "by_kind": by_kind,
        "scenarios": truth.height,
        "seconds": round(time.perf_counter() - began, 3),
    }
