"""How long from bank A releasing an indicator to bank B matching it (issue #7: within 5 s).

Starts the API as `mamori serve` does (`create_app` over a fresh data folder, the sector hub
at /taxii2 keeping its collections in SQLite, API tokens checked by identity) under uvicorn
on loopback; bank B's
subscriber polls the hub every `--poll` seconds over HTTP, feeds new objects into its
`SharedIntel` detector and runs its live flow batch through it. Each round, bank A releases
one new C2 address (export under its policy, POST to the hub) and the clock runs until B's
alert on that address. Prints JSON with every latency, the median and the maximum.

    POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/sector_latency.py --rounds 10
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import polars as pl
import uvicorn

from mamori.api.app import create_app
from mamori.api.settings import ApiSettings
from mamori.events.schema import conform
from mamori.share.client import SharedIntel, TaxiiPeer
from mamori.share.export import ReleasePolicy, release


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def flows(c2: str, n: int = 5000) -> pl.DataFrame:
    """Bank B's live batch: n ordinary flows and one to the campaign's address."""
    now = datetime.now(UTC)
    dst = [f"93.184.{i % 200}.{i % 250 + 1}" for i in range(n)] + [c2]  # all distinct
    return conform(pl.DataFrame({
        "event_id": [f"f{i}" for i in range(n + 1)], "tenant": ["bank-b"] * (n + 1),
        "time": [now] * (n + 1), "src_ip": ["10.20.0.7"] * (n + 1), "dst_ip": dst,
    }), "flow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--poll", type=float, default=0.5, help="B's polling interval, s")
    args = parser.parse_args()

    app = create_app(ApiSettings(Path(tempfile.mkdtemp(prefix="mamori-hub-"))))
    identity = app.state.services.identity
    tokens = {}
    for bank in ("bank-a", "bank-b"):
        identity.create_tenant(bank)
        identity.create_user(bank, f"{bank}-feed", ["responder"], password="not used here")
        tokens[bank], _ = identity.issue_token(f"{bank}-feed", "taxii")
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    policy = ReleasePolicy(sector="jp", salt="bench", tlp={"*": "green"})
    bank_a = TaxiiPeer(httpx.Client(base_url=base), tokens["bank-a"])
    bank_b = TaxiiPeer(httpx.Client(base_url=base), tokens["bank-b"])
    matched: dict[str, float] = {}
    live = pl.concat([flows(f"185.220.{100 + r}.{7 + r}") for r in range(args.rounds)])
    stop = threading.Event()

    def subscriber() -> None:  # bank B: its own polling cycle, independent of A
        shared, mark = SharedIntel(salt="bench"), None
        while not stop.is_set():
            pulled, mark = bank_b.pull("indicators", added_after=mark)
            if pulled:
                shared.add(pulled)
                for title in shared.process(live)["title"].to_list():
                    matched.setdefault(title.split()[2], time.perf_counter())
            stop.wait(args.poll)

    threading.Thread(target=subscriber, daemon=True).start()
    latencies = []
    for round_ in range(args.rounds):
        c2 = f"185.220.{100 + round_}.{7 + round_}"
        time.sleep(args.poll * ((round_ * 7) % 10) / 10)  # land at varying points of B's cycle
        alert = pl.DataFrame([{
            "alert_id": f"a{round_}", "tenant": "bank-a", "severity": "high",
            "time": datetime.now(UTC), "title": "beacon", "attack": [],
            "related": [f"ip:{c2}"],
        }])
        released = time.perf_counter()
        bank_a.push("indicators", release(alert, policy, "hub"))
        while c2 not in matched and time.perf_counter() - released < 30:
            time.sleep(0.005)
        latencies.append(round(matched.get(c2, float("inf")) - released, 3))
    stop.set()
    server.should_exit = True
    print(json.dumps({
        "rounds": args.rounds, "poll_s": args.poll, "batch_flows": live.height,
        "latency_s": latencies, "median_s": round(statistics.median(latencies), 3),
        "max_s": max(latencies), "within_5s": sum(x <= 5 for x in latencies),
    }))


if __name__ == "__main__":
    main()
