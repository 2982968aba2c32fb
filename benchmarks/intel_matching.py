"""Threat-intel matching speed: 100,000 indicators against 1,000,000 events on one core.

Indicators: exact IPv4 addresses, IPv4 networks (/16 to /30), domains and file hashes (MD5,
SHA-1, SHA-256), built through the same normalisation the STIX and MISP loaders use. Events:
flows (source, destination, DNS name or URL), logons (source address) and Sysmon process
events (`Hashes`, `IpAddress`), drawn from pools of distinct values as a bank's traffic is
(`--pool` sets their size; `--pool 0` makes every value distinct, the worst case); about 1 %
of the events carry a listed value. Events go through `IntelMatcher.process` in micro-batches
of 250,000 rows, as `mamori run` sends them; the figure is the time spent there.

    POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/intel_matching.py
    POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/intel_matching.py --pool 0
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from mamori.detect.intel import IntelMatcher
from mamori.detect.intel.model import indicator_frame, indicator_rows, observable
from mamori.events.schema import conform

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def _ips(rng: np.random.Generator, n: int) -> list[str]:
    a = rng.integers(1 << 24, 224 << 24, n, dtype=np.uint64)
    return [f"{x >> 24}.{(x >> 16) & 255}.{(x >> 8) & 255}.{x & 255}" for x in a.tolist()]


def _hex(rng: np.random.Generator, n: int, length: int) -> list[str]:
    return [bytes(row).hex() for row in rng.integers(0, 256, (n, length // 2), dtype=np.uint8)]


def _names(rng: np.random.Generator, n: int, tag: str) -> list[str]:
    return [f"{tag}{i:x}.c{rng.integers(1000)}.example" for i in range(n)]


def indicators(rng: np.random.Generator, n: int) -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """n indicators (40 % addresses, 10 % networks, 25 % domains, 25 % hashes) and the
    listed values events can carry."""
    n_ip, n_net, n_dom = int(n * 0.4), int(n * 0.1), int(n * 0.25)
    n_hash = n - n_ip - n_net - n_dom
    listed = {
        "ip": _ips(rng, n_ip),
        "domain": _names(rng, n_dom, "bad"),
        "md5": _hex(rng, n_hash // 3, 32),
        "sha1": _hex(rng, n_hash // 3, 40),
        "sha256": _hex(rng, n_hash - 2 * (n_hash // 3), 64),
    }
    prefixes = rng.integers(16, 31, n_net).tolist()
    nets = [f"{a}/{p}" for a, p in zip(_ips(rng, n_net), prefixes, strict=True)]
    values = [("ip", v) for v in listed["ip"] + nets] + [
        (kind, v) for kind in ("domain", "md5", "sha1", "sha256") for v in listed[kind]
    ]
    rows = []
    for i, (kind, value) in enumerate(values):
        found = observable(kind, value)
        assert not isinstance(found, str), found
        rows += indicator_rows(
            [found],
            {
                "indicator_id": f"indicator--{i}",
                "name": f"{kind} {value}",
                "report": "benchmark feed",
                "tlp": "TLP:AMBER",
                "confidence": 80,
                "valid_from": T0 - timedelta(days=30),
            },
        )
    return indicator_frame(rows), listed


def _pool(rng: np.random.Generator, make: list[str], size: int, n: int) -> np.ndarray:
    """n draws from a pool of `size` values (every draw distinct when size is 0)."""
    pool = np.array(make if size == 0 else make[:size], dtype=object)
    return pool if size == 0 else pool[rng.integers(0, len(pool), n)]


def _plant(rng: np.random.Generator, column: np.ndarray, listed: list[str], share: float) -> None:
    at = rng.random(len(column)) < share
    column[at] = np.array(listed, dtype=object)[rng.integers(0, len(listed), int(at.sum()))]


def events(
    rng: np.random.Generator, n: int, pool: int, listed: dict[str, list[str]]
) -> list[pl.DataFrame]:
    """n events: 70 % flows, 15 % logons, 15 % Sysmon process events."""
    n_flow, n_auth = int(n * 0.7), int(n * 0.15)
    n_win = n - n_flow - n_auth
    hashes = listed["md5"] + listed["sha1"] + listed["sha256"]

    def envelope(kind: str, m: int) -> dict[str, object]:
        """Ids, tenant, and times spread over a working day from 08:00."""
        start = int((T0 + timedelta(hours=8)).timestamp() * 1_000_000)
        micros = start + np.arange(m, dtype=np.int64) * (8 * 3600 * 1_000_000 // m)
        return {
            "event_id": [f"{kind[0]}{i}" for i in range(m)],
            "time": pl.Series(micros).cast(pl.Datetime("us", "UTC")),
            "tenant": ["bank-a"] * m,
        }

    size = max(pool, 1) if pool else 0
    dst = _pool(rng, _ips(rng, n_flow if pool == 0 else size), pool, n_flow)
    _plant(rng, dst, listed["ip"], 0.01)
    query = _pool(rng, _names(rng, n_flow if pool == 0 else size, "www"), pool, n_flow)
    _plant(rng, query, listed["domain"], 0.005)
    flows = {
        **envelope("flow", n_flow),
        "src_ip": _pool(rng, _ips(rng, n_flow if pool == 0 else 5000), pool and 5000, n_flow),
        "dst_ip": dst,
        "query": query,
    }
    auth_src = _pool(rng, _ips(rng, n_auth if pool == 0 else size), pool, n_auth)
    _plant(rng, auth_src, listed["ip"], 0.01)
    sysmon_hashes = _pool(rng, _hex(rng, n_win if pool == 0 else size, 64), pool, n_win)
    _plant(rng, sysmon_hashes, hashes, 0.01)
    md5 = _hex(rng, 1, 32)[0]
    winlog = {
        **envelope("winlog", n_win),
        "EventID": [1] * n_win,
        "Computer": [f"WS{i % 3000}" for i in range(n_win)],
        "Hashes": [f"MD5={md5},SHA256={h.upper()}" for h in sysmon_hashes.tolist()],
        "IpAddress": _pool(rng, _ips(rng, n_win if pool == 0 else size), pool, n_win),
    }
    return [
        conform(pl.DataFrame(flows), "flow"),
        conform(pl.DataFrame({**envelope("auth", n_auth), "src_ip": auth_src}), "auth"),
        conform(pl.DataFrame(winlog), "winlog"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--indicators", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--pool", type=int, default=200_000, help="distinct values (0: all)")
    parser.add_argument("--batch-rows", type=int, default=250_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    table, listed = indicators(rng, args.indicators)
    batches = events(rng, args.events, args.pool, listed)
    started = time.perf_counter()
    matcher = IntelMatcher(table)
    build = time.perf_counter() - started
    seconds: dict[str, float] = {}
    alerts = matched = 0
    for batch in batches:
        kind = batch["kind"][0]
        for offset in range(0, batch.height, args.batch_rows):
            part = batch.slice(offset, args.batch_rows)
            started = time.perf_counter()
            out = matcher.process(part)
            seconds[kind] = seconds.get(kind, 0.0) + time.perf_counter() - started
            alerts += out.height
            matched += int(out["event_ids"].list.len().sum() or 0)
    total = sum(seconds.values())
    print(
        json.dumps(
            {
                "indicators": table["indicator_id"].n_unique(),
                "indicators_by_type": dict(table.group_by("type").len().sort("type").rows()),
                "events": sum(b.height for b in batches),
                "pool": args.pool,
                "batch_rows": args.batch_rows,
                "polars_max_threads": os.environ.get("POLARS_MAX_THREADS"),
                "index_build_seconds": round(build, 3),
                "seconds": round(total, 3),
                "seconds_by_kind": {k: round(v, 3) for k, v in seconds.items()},
                "events_per_second": round(sum(b.height for b in batches) / total),
                "alerts": alerts,
                "events_in_alerts": matched,
            }
        )
    )


if __name__ == "__main__":
    main()
