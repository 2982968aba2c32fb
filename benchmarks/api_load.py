"""Load on `mamori serve`: listing latency at N concurrent users, and ingest over HTTP.

The server runs in its own process (``mamori serve`` under uvicorn, one worker, SQLite) over a
fresh data folder seeded with alerts and incidents; this process is the load generator.
Each simulated user has its own API token and its own keep-alive connection, like an
analyst's browser.

* Listing: every user loops GET /v1/incidents?limit=50 and GET /v1/alerts?limit=50, pausing
  `--think` seconds (uniform 0..2×think) between requests; p50/p95/p99 over all requests.
  ``--think 0`` gives the saturation figure (every user back-to-back). The users speak
  HTTP/1.1 over plain asyncio streams (a request costs the generator ~0.1 ms of CPU, a tenth
  of httpx's), so on a small machine the generator does not starve the server; the CPU
  seconds both processes used during the run, and the machine's load average, are reported
  with the figures.
* Ingest: `--events` transactions as JSON lines in batches of `--batch`, posted by
  `--senders` concurrent clients; events/s accepted over HTTP (validated, quarantined,
  spooled), then the time until the engine has detected them all, and a check that the lake
  holds every event sent (nothing lost).

Run: python benchmarks/api_load.py --users 100 --seconds 20 --events 1000000 --json
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import polars as pl

from mamori.localhost import free_port

TENANT = "bank-a"


def seed(data_dir: Path, users: int, alerts: int, incidents: int) -> list[str]:
    """A tenant, `users` users with a token each, and stored alerts and incidents."""
    import sqlalchemy as sa

    from mamori.events.schema import conform_alerts
    from mamori.govern.identity import Identity
    from mamori.store.migrations import upgrade
    from mamori.store.sql import OperationalStore

    url = f"sqlite:///{data_dir / 'mamori.db'}"
    store = OperationalStore(url)
    engine = sa.create_engine(url)
    upgrade(engine)
    identity = Identity(engine)
    identity.create_tenant(TENANT)
    tokens = []
    for i in range(users):
        identity.create_user(TENANT, f"user{i}", ["analyst"])
        tokens.append(identity.issue_token(f"user{i}", "load")[0])
    t0 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    rng = np.random.default_rng(7)
    store.add_alerts(
        conform_alerts(
            pl.DataFrame(
                {
                    "alert_id": [f"a{i}" for i in range(alerts)],
                    "tenant": TENANT,
                    "time": [
                        t0 + dt.timedelta(seconds=int(s)) for s in rng.integers(0, 86400, alerts)
                    ],
                    "detector": rng.choice(["rules", "aml", "network", "sigma"], alerts),
                    "rule_id": "r1",
                    "title": "Seeded alert",
                    "severity": rng.choice(["low", "medium", "high"], alerts),
                    "score": rng.random(alerts),
                    "entity_type": "customer",
                    "entity_id": [f"c{i % 5000}" for i in range(alerts)],
                }
            )
        )
    )
    frame = pl.DataFrame(
        {
            "incident_id": [f"i{i}" for i in range(incidents)],
            "tenant": TENANT,
            "first_seen": t0,
            "last_seen": t0 + dt.timedelta(hours=1),
            "title": "Seeded incident",
            "risk": rng.integers(0, 101, incidents),
            "level": rng.integers(1, 6, incidents),
            "alert_count": 1,
            "stages": [["initial_access"]] * incidents,
            "entities": [[f"customer:c{i}"] for i in range(incidents)],
        }
    )
    links = pl.DataFrame(
        {"incident_id": frame["incident_id"], "alert_id": [f"a{i}" for i in range(incidents)]}
    )
    store.upsert_incidents(frame, links)
    store.close()
    engine.dispose()
    return tokens


def start_server(data_dir: Path, port: int, listing_cache_s: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "mamori.cli", "serve", "--data-dir", str(data_dir),
               "--port", str(port), "--insecure-cookies",
               "--listing-cache-s", str(listing_cache_s)]  # fmt: skip
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start: " + server.stderr.read().decode()[-2000:])


class KeepAlive:
    """One HTTP/1.1 keep-alive connection that GETs JSON (the server sends Content-Length)."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = f"host: 127.0.0.1\r\nauthorization: Bearer {token}\r\n\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, bytes]:
        """GET `path`; a connection the server closed while idle (uvicorn: after 5 s) is
        opened again, as a browser does."""
        if self.reader is not None and self.reader.at_eof():
            self.close()
        if self.reader is None or self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        self.writer.write(b"GET " + path.encode() + b" HTTP/1.1\r\n" + self.head)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as closed:
            if closed.partial:
                raise
            self.close()  # closed just before our request reached it: once more
            return await self.get(path)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line[:15].lower() == b"content-length:"
        )
        body = await self.reader.readexactly(length)
        if b"\r\nconnection: close" in head.lower():
            self.close()
        return int(head[9:12]), body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def listing(
    port: int, server_pid: int, tokens: list[str], seconds: float, think: float
) -> dict[str, object]:
    latencies: dict[str, list[float]] = {"incidents": [], "alerts": []}
    errors: dict[int, int] = {}  # status -> answers other than 200 (429: over the rate limit)
    users = [KeepAlive(port, token) for token in tokens]
    for user in users:  # warm the token cache (argon2 once per token)
        await user.get("/v1/auth/me")
    server_cpu, own_cpu, load = cpu_seconds(server_pid), time.process_time(), os.getloadavg()
    stop = time.perf_counter() + seconds

    async def run(user: KeepAlive, turn: int) -> None:
        await asyncio.sleep(random.random() * max(think, 0.01))
        while time.perf_counter() < stop:
            what = ("incidents", "alerts")[turn % 2]
            turn += 1
            started = time.perf_counter()
            status, _ = await user.get(f"/v1/{what}?limit=50")
            latencies[what].append(time.perf_counter() - started)
            if status != 200:
                errors[status] = errors.get(status, 0) + 1
            if think:
                await asyncio.sleep(random.uniform(0, 2 * think))

    await asyncio.gather(*(run(u, i) for i, u in enumerate(users)))
    for user in users:
        user.close()
    result: dict[str, object] = {
        "errors": {str(status): n for status, n in sorted(errors.items())},
        "cpu_s": {
            "server": round(cpu_seconds(server_pid) - server_cpu, 2),
            "load_generator": round(time.process_time() - own_cpu, 2),
            "of_wall_s": seconds,
        },
        "load_average_1m": {"before": load[0], "after": round(os.getloadavg()[0], 2)},
    }
    for what, values in latencies.items():
        ms = np.array(values) * 1000
        result[what] = {
            "requests": len(values),
            "per_s": round(len(values) / seconds, 1),
            "p50_ms": round(float(np.percentile(ms, 50)), 2),
            "p95_ms": round(float(np.percentile(ms, 95)), 2),
            "p99_ms": round(float(np.percentile(ms, 99)), 2),
        }
    return result


def transactions(n: int) -> pl.DataFrame:
    rng = np.random.default_rng(11)
    t0 = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    return pl.DataFrame(
        {
            "time": pl.datetime_range(t0, t0 + dt.timedelta(microseconds=n - 1) * 80_000,
                                      dt.timedelta(milliseconds=80), eager=True)[:n],  # fmt: skip
            "account": [f"acc{i}" for i in rng.integers(0, 20_000, n)],
            "customer": [f"cust{i}" for i in rng.integers(0, 20_000, n)],
            "amount": np.round(rng.gamma(2.0, 40.0, n), 2),
            "currency": "JPY",
            "direction": "debit",
            "channel": rng.choice(["card_present", "online", "atm"], n),
            "status": "approved",
            "country": "JP",
        }
    ).with_columns(pl.col("time").dt.to_string("%Y-%m-%dT%H:%M:%S%.fZ"))


async def ingest(base: str, token: str, events: int, batch: int, senders: int) -> dict[str, object]:
    frame = transactions(events)
    bodies = [frame.slice(o, batch).write_ndjson().encode() for o in range(0, events, batch)]
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
    accepted = quarantined = refused = 0
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    async with httpx.AsyncClient(base_url=base, timeout=300) as client:
        started = time.perf_counter()

        async def sender() -> None:
            nonlocal accepted, quarantined, refused
            while not queue.empty():
                body = queue.get_nowait()
                while True:
                    answer = await client.post("/v1/ingest?kind=transaction", content=body,
                                               headers=headers)  # fmt: skip
                    if answer.status_code == 503:  # the engine is behind: back off, retry
                        refused += 1
                        await asyncio.sleep(1)
                        continue
                    result = answer.json()
                    accepted += result["accepted"]
                    quarantined += result["quarantined"]
                    break

        await asyncio.gather(*(sender() for _ in range(senders)))
        http_s = time.perf_counter() - started
        while True:
            status = (await client.get("/v1/ingest/status", headers=headers)).json()
            if status["pending_events"] == 0 and status["processed_events"] >= accepted:
                break
            await asyncio.sleep(0.2)
        detected_s = time.perf_counter() - started
        counted = await client.post(
            "/v1/hunt",
            json={"sql": "SELECT count(*) AS n FROM transactions"},
            headers={"Authorization": headers["Authorization"]},
        )
    if counted.status_code != 200:
        raise RuntimeError(f"counting the lake failed: {counted.text}")
    in_lake = counted.json()["rows"][0]["n"]
    return {
        "events_sent": events,
        "accepted": accepted,
        "quarantined": quarantined,
        "retried_503": refused,
        "http_seconds": round(http_s, 2),
        "events_per_s_http": round(events / http_s),
        "seconds_until_detected": round(detected_s, 2),
        "events_per_s_end_to_end": round(events / detected_s),
        "events_in_lake": in_lake,
        "lost": events - in_lake,
        "engine_errors": status["errors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--think", type=float, default=1.0, help="Mean pause per user (s).")
    parser.add_argument("--alerts", type=int, default=50_000)
    parser.add_argument("--incidents", type=int, default=2_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument(
        "--listing-cache-s",
        type=float,
        default=1.0,
        help="The server's listing page cache (0: every request builds its page).",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data_dir = Path(tempfile.mkdtemp(prefix="mamori-load-"))
    tokens = seed(data_dir, args.users, args.alerts, args.incidents)
    port = free_port()
    server = start_server(data_dir, port, args.listing_cache_s)
    base = f"http://127.0.0.1:{port}"
    try:
        result = {
            "users": args.users,
            "think_s": args.think,
            "listing_cache_s": args.listing_cache_s,
            "seeded": {"alerts": args.alerts, "incidents": args.incidents},
            "listing": asyncio.run(
                listing(port, server.pid, tokens, args.seconds, args.think)
            ),
            "ingest": asyncio.run(
                ingest(base, tokens[0], args.events, args.batch, args.senders)
            ) if args.events else None,
            "cpus": os.cpu_count(),
        }
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
