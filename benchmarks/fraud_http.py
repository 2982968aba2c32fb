"""Fraud scoring over HTTP at a constant arrival rate: latency percentiles of
``POST /v1/score/transaction`` on `mamori serve`.

The server runs in its own process (``mamori serve``: uvicorn, one worker, SQLite) over a
fresh data folder with one bank and `--gateways` API tokens (payment gateways; the API
allows 200 requests/s per token). This process is the load generator, *open loop*: request
i is due at ``start + i / rate`` whether or not earlier ones have been answered, and its
latency is counted from when it was due, so a stalled server or a late generator shows in
the figures (no coordinated omission). Requests go over HTTP/1.1 keep-alive connections
written on plain asyncio streams (a request costs the generator a fraction of httpx's
CPU): a fixed pool (`--connections`, 32) opened before the run and used in turn; a
request due while all are busy waits for one, and the wait counts. Bodies are made before the run:
5,000 cards at 300 terminals, amounts log-normal, times in order.

Printed (JSON): p50/p95/p99/p99.9/max latency in ms, achieved rate, errors by status, the
CPU seconds of the server and of the generator, how late the generator sent (p99), the
machine's load average before and after, and the decisions the log holds after a clean
stop (must equal the requests answered).

Run: python benchmarks/fraud_http.py --rate 1000 --seconds 60 --json
     python benchmarks/fraud_http.py --rate 1000 --seconds 20 --in-process   (no HTTP)
     python benchmarks/fraud_http.py --rate 1000 --seconds 20 --in-process --batch 1000
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
import orjson

TENANT = "bank-a"


def open_bank(data_dir: Path, gateways: int) -> list[str]:
    """The bank, one analyst user per payment gateway, and a token each."""
    import sqlalchemy as sa

    from mamori.govern.identity import Identity
    from mamori.store.migrations import upgrade

    engine = sa.create_engine(f"sqlite:///{data_dir / 'mamori.db'}")
    upgrade(engine)
    identity = Identity(engine)
    identity.create_tenant(TENANT)
    tokens = []
    for g in range(gateways):
        identity.create_user(TENANT, f"gateway{g}", ["analyst"])
        tokens.append(identity.issue_token(f"gateway{g}", "payments")[0])
    engine.dispose()
    return tokens


def payments(n: int, rate: float, first: dt.datetime, seed: int = 11) -> list[bytes]:
    """`n` payment bodies, one every 1/rate seconds from `first`."""
    rng = np.random.default_rng(seed)
    cards = rng.integers(0, 5_000, n)
    terminals = rng.integers(0, 300, n)
    amounts = np.round(rng.lognormal(3.5, 1.0, n), 2)
    channels = np.array(["card_present", "card_not_present", "online"])[rng.integers(0, 3, n)]
    bodies = []
    for i in range(n):
        bodies.append(orjson.dumps({
            "event_id": f"p{i}",
            "time": (first + dt.timedelta(seconds=i / rate)).isoformat(),
            "amount": float(amounts[i]),
            "currency": "EUR",
            "card": f"C{cards[i]:05d}",
            "terminal": f"T{terminals[i]:04d}",
            "channel": str(channels[i]),
            "country": "JP",
        }))
    return bodies


class Connection:
    """One HTTP/1.1 keep-alive connection that POSTs JSON bodies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def post(self, head: bytes, body: bytes) -> int:
        """Send one request (`head` ends with the headers' blank line); the status."""
        self.writer.write(head % len(body) + body)
        header = await self.reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in header.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await self.reader.readexactly(length)
        return int(header[9:12])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_loop(port: int, tokens: list[str], bodies: list[bytes], rate: float,
                    warm: int, connections: int = 32) -> dict[str, object]:
    """Send `bodies` at `rate`, open loop; figures over all but the first `warm`.

    `connections` keep-alive connections are opened before the first request and used in
    turn (first free, first used, so none sits idle into the server's keep-alive timeout);
    a request due while all are busy waits for one, and that wait counts in its latency."""
    heads = [(f"POST /v1/score/transaction HTTP/1.1\r\nhost: 127.0.0.1\r\n"
              f"authorization: Bearer {t}\r\ncontent-type: application/json\r\n"
              "content-length: %d\r\n\r\n").encode() for t in tokens]
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await Connection.open(port))
    opened = connections
    first = await pool.get()  # each token's first use costs the API an argon2 check
    for head in heads:
        await first.post(head, bodies[0])
    pool.put_nowait(first)
    latency = np.full(len(bodies), np.nan)
    lateness = np.zeros(len(bodies))
    statuses: Counter[str] = Counter()

    async def send(i: int, due: float) -> None:
        nonlocal opened
        lateness[i] = time.perf_counter() - due
        conn = await pool.get()
        try:
            status = await conn.post(heads[i % len(heads)], bodies[i])
        except (OSError, asyncio.IncompleteReadError) as error:
            statuses[type(error).__name__] += 1
            conn.writer.close()
            pool.put_nowait(await Connection.open(port))  # the pool keeps its size
            opened += 1
            return
        latency[i] = time.perf_counter() - due
        statuses[str(status)] += 1
        pool.put_nowait(conn)

    tasks = set()
    start = time.perf_counter() + 0.1
    for i in range(len(bodies)):
        due = start + i / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        if i == warm:
            cpu = time.process_time()
        task = asyncio.create_task(send(i, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    ended = time.perf_counter()
    generator_cpu = time.process_time() - cpu
    measured = latency[warm:]
    ok = measured[~np.isnan(measured)] * 1000
    q = np.percentile(ok, [50, 95, 99, 99.9]) if len(ok) else [np.nan] * 4
    while not pool.empty():
        pool.get_nowait().writer.close()
    return {
        "requests": len(measured),
        "answered": int(len(ok)),
        "achieved_rate_per_s": round(len(ok) / (ended - (start + warm / rate)), 1),
        "latency_ms": {"p50": round(q[0], 3), "p95": round(q[1], 3), "p99": round(q[2], 3),
                       "p99_9": round(q[3], 3), "max": round(float(ok.max()), 3)},
        "generator_late_ms_p99": round(float(np.percentile(lateness[warm:], 99)) * 1000, 3),
        "statuses": dict(statuses),
        "connections_opened": opened,
        "generator_cpu_s": round(generator_cpu, 2),
    }


def in_process(bodies: list[bytes], warm: int, batch: int = 1) -> dict[str, object]:
    """The same payments through validation and `ScoringDesk.score` (decision log
    included) in this process, one at a time or `batch` per call (as the batch route
    does): what scoring costs without HTTP."""
    import sqlalchemy as sa

    from mamori.api.scoring import TransactionIn
    from mamori.detect.fraud.serving import ScoringDesk
    from mamori.store.migrations import upgrade

    folder = Path(tempfile.mkdtemp(prefix="fraud-desk-"))
    engine = sa.create_engine(f"sqlite:///{folder / 'mamori.db'}")
    upgrade(engine)
    desk = ScoringDesk(engine, folder / "fraud-models")
    for body in bodies[:warm]:
        desk.score(TENANT, [TransactionIn.model_validate_json(body).payment()])
    calls = range(warm, len(bodies), batch)
    took = np.zeros(len(calls))
    cpu = time.thread_time()
    for k, i in enumerate(calls):
        start = time.perf_counter()
        desk.score(TENANT, [TransactionIn.model_validate_json(b).payment()
                            for b in bodies[i:i + batch]])
        took[k] = time.perf_counter() - start
    cpu = time.thread_time() - cpu
    desk.close()
    q = np.percentile(took * 1000, [50, 95, 99, 99.9])
    return {"payments": len(bodies) - warm, "per_call": batch,
            "latency_ms": dict(zip(["p50", "p95", "p99", "p99_9"], np.round(q, 3).tolist(),
                                   strict=True)),
            "cpu_ms_per_payment": round(cpu / (len(bodies) - warm) * 1000, 3)}


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "mamori.cli", "serve", "--data-dir", str(data_dir),
               "--port", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(300):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the server did not start: " + server.stderr.read().decode()[-2000:])


def stored_decisions(data_dir: Path) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{data_dir / 'mamori.db'}")
    with engine.connect() as c:
        n = int(c.execute(sa.text("SELECT count(*) FROM fraud_decisions")).scalar_one())
    engine.dispose()
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="Requests per second.")
    parser.add_argument("--seconds", type=float, default=60.0, help="Measured duration.")
    parser.add_argument("--warmup", type=float, default=5.0, help="Seconds sent, not counted.")
    parser.add_argument("--gateways", type=int, default=8, help="API tokens, round robin.")
    parser.add_argument("--connections", type=int, default=32,
                        help="Keep-alive connections, opened before the run.")
    parser.add_argument("--json", action="store_true", help="Print only the JSON figures.")
    parser.add_argument("--batch", type=int, default=1,
                        help="With --in-process: payments per call (the batch route's path).")
    parser.add_argument("--in-process", action="store_true",
                        help="Score the payments in this process instead (no HTTP, no server).")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="fraud-http-"))
    tokens = open_bank(data_dir, args.gateways)
    warm = int(args.warmup * args.rate)
    n = warm + int(args.seconds * args.rate)
    first = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    bodies = payments(n, args.rate, first)
    if args.in_process:
        print(json.dumps({**in_process(bodies, warm, args.batch), "load_average": os.getloadavg()}))
        return
    port = socket.socket()
    port.bind(("127.0.0.1", 0))
    free = int(port.getsockname()[1])
    port.close()
    server = start_server(data_dir, free)
    try:
        load_before = os.getloadavg()
        server_cpu = cpu_seconds(server.pid)
        figures = asyncio.run(open_loop(free, tokens, bodies, args.rate, warm,
                                             args.connections))
        figures["server_cpu_s"] = round(cpu_seconds(server.pid) - server_cpu, 2)
        figures["load_average_before"] = [round(x, 2) for x in load_before]
        figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    finally:
        server.send_signal(signal.SIGINT)  # a clean stop: the decision log is flushed
        server.wait(timeout=120)
    statuses: dict[str, int] = figures["statuses"]  # type: ignore[assignment]
    stored = stored_decisions(data_dir)
    figures["decisions_stored_after_stop"] = stored
    figures["decisions_lost"] = statuses.get("200", 0) - stored
    figures["rate_target_per_s"] = args.rate
    figures["seconds"] = args.seconds
    figures["cpus"] = os.cpu_count()
    if not args.json:
        print(f"server data in {data_dir}", file=sys.stderr)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
