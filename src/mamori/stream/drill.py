"""Fire drills for the workers: run a group as processes, kill one, and count what came out.

Used by the tests and by `benchmarks/stream_scaling.py`; a bank can run the same drill
against a staging cluster before trusting a deployment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from mamori.stream.codec import decode_alerts


@dataclass
class WorkerProcess:
    """One `mamori worker` process and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    output: Path

    def summary(self) -> dict[str, object] | None:
        """The JSON summary it printed when it stopped (None if it was killed)."""
        lines = [x for x in self.output.read_text().splitlines() if x.startswith("{")]
        return json.loads(lines[-1]) if lines else None

    def log(self) -> str:
        return self.output.read_text()


def start_worker(
    name: str,
    bootstrap: str,
    topics: list[str],
    group: str,
    data_dir: Path,
    *,
    idle_exit: float = 6.0,
    max_messages: int = 64,
    extra: tuple[str, ...] = (),
) -> WorkerProcess:
    """Start `mamori worker` as a child process (one Polars thread: one core per worker)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    output = data_dir / f"{name}-{time.time_ns()}.log"
    command = [
        sys.executable, "-m", "mamori.cli", "worker", "--topics", ",".join(topics),
        "--bootstrap", bootstrap, "--group", group, "--data-dir", str(data_dir),
        "--name", name, "--session-timeout-ms", "2000", "--idle-exit", str(idle_exit),
        "--max-messages", str(max_messages), *extra,
    ]  # fmt: skip
    env = {**os.environ, "POLARS_MAX_THREADS": "1"}
    with output.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    return WorkerProcess(name, process, output)


def wait_for(worker: WorkerProcess, text: str, timeout: float = 60.0) -> None:
    """Wait until the worker's output contains `text` (e.g. its first assignment)."""
    deadline = time.time() + timeout
    while text not in worker.log():
        if worker.process.poll() is not None or time.time() > deadline:
            raise RuntimeError(f"{worker.name} never printed {text!r}:\n{worker.log()[-2000:]}")
        time.sleep(0.05)


def kill(worker: WorkerProcess) -> None:
    """SIGKILL: no clean shutdown, no last commit, the group finds out by session timeout."""
    worker.process.send_signal(signal.SIGKILL)
    worker.process.wait(10)


def finish(workers: list[WorkerProcess], timeout: float = 300.0) -> None:
    """Wait for every worker to stop by itself (its --idle-exit); raise if one failed."""
    deadline = time.time() + timeout
    for w in workers:
        code = w.process.wait(max(1.0, deadline - time.time()))
        if code != 0:
            raise RuntimeError(f"{w.name} exited {code}:\n{w.log()[-3000:]}")


def read_alerts_topic(bootstrap: str, topic: str, idle: float = 3.0) -> pl.DataFrame:
    """Every committed alert on `topic` (read_committed), duplicates kept, for counting."""
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "mamori-drill",  # never joined: partitions are assigned directly
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
    values: list[bytes] = []
    quiet_since = time.time()
    try:
        while time.time() - quiet_since < idle or not values:
            messages = [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            if messages:
                values += [m.value() or b"" for m in messages]
                quiet_since = time.time()
            elif time.time() - quiet_since > 30:
                break
    finally:
        consumer.close()
    return decode_alerts(values)


def compare(expected: pl.DataFrame, got: pl.DataFrame) -> dict[str, int]:
    """Alerts lost (expected, not got), extra (got, not expected) and duplicated (got twice)."""
    want, have = set(expected["alert_id"]), got["alert_id"]
    return {
        "expected": len(want),
        "got": got.height,
        "lost": len(want - set(have)),
        "extra": len(set(have) - want),
        "duplicated": have.len() - have.n_unique(),
    }
