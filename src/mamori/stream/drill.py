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
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """Every committed alert on `topic` (read_committed), duplicates kept, for counting;
    with a `writer` column: the `mamori-writer` header (worker/pid/transaction)."""
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
    writers: list[str | None] = []
    quiet_since = time.time()
    try:
        while time.time() - quiet_since < idle or not values:
            messages = [m for m in consumer.consume(1000, 0.5) if m.error() is None]
            if messages:
                values += [m.value() or b"" for m in messages]
                writers += [_writer(m.headers()) for m in messages]
                quiet_since = time.time()
            elif time.time() - quiet_since > 30:
                break
    finally:
        consumer.close()
    return decode_alerts(values).with_columns(writer=pl.Series(writers, dtype=pl.String))


def _writer(headers: Any) -> str | None:
    found = [bytes(v).decode() for k, v in headers or [] if k == "mamori-writer"]
    return found[0] if found else None


class SeenAlerts:
    """A reader's guard against an alert delivered twice: drops alert ids among the last
    `window` it passed on. Bounded memory; a copy further apart than `window` alerts would
    pass again (the two copies a crash can leave are at most one cycle's alerts apart plus
    what was written while the group noticed the crash).

    >>> seen = SeenAlerts(window=3)
    >>> seen.fresh(pl.DataFrame({"alert_id": ["a", "b", "a"]}))["alert_id"].to_list()
    ['a', 'b']
    >>> seen.fresh(pl.DataFrame({"alert_id": ["b", "c", "d", "e"]}))["alert_id"].to_list()
    ['c', 'd', 'e']
    >>> seen.fresh(pl.DataFrame({"alert_id": ["a", "e"]}))["alert_id"].to_list()  # a left
    ['a']
    """

    def __init__(self, window: int = 100_000) -> None:
        self.window = window
        self._order: deque[str] = deque()
        self._ids: set[str] = set()

    def fresh(self, alerts: pl.DataFrame) -> pl.DataFrame:
        """The alerts of this batch not seen in the window (first copy kept), remembered."""
        first = alerts.filter(
            pl.col("alert_id").is_first_distinct()
            & ~pl.col("alert_id").is_in(pl.Series(list(self._ids), dtype=pl.String).implode())
        )
        for alert_id in first["alert_id"].to_list():  # bounded bookkeeping, new ids only
            self._order.append(alert_id)
            self._ids.add(alert_id)
            if len(self._order) > self.window:
                self._ids.discard(self._order.popleft())
        return first


def explain_duplicates(
    on_topic: pl.DataFrame, resent: set[str], killed_pid: int | None
) -> dict[str, int]:
    """Where the duplicated alerts on the topic came from: `resent_and_killed` counts ids
    with one copy re-sent from an outbox and another written by the killed process, whose
    transaction cannot have committed (its offsets were behind, which is why the outbox
    was re-sent): an aborted transaction shown to a read_committed reader."""
    counts = on_topic.group_by("alert_id").agg(
        pl.len().alias("copies"), pl.col("writer").alias("writers")
    )
    doubled = counts.filter(pl.col("copies") > 1)
    by_killed = [
        any(w is not None and w.split("/")[1] == str(killed_pid) for w in ws)
        for ws in doubled["writers"].to_list()
    ]
    explained = sum(
        k and a in resent for a, k in zip(doubled["alert_id"].to_list(), by_killed, strict=True)
    )
    return {"duplicated_ids": doubled.height, "resent_and_killed": explained}


def aborted_records_visible(bootstrap: str, topic: str) -> dict[str, bool]:
    """Does the broker show aborted transactions to read_committed readers? Writes one
    committed, one aborted, and one record left open then fenced by a new producer with the
    same transactional id (what a restarted worker does), then reads them back."""
    from confluent_kafka import Producer

    from mamori.stream.publish import ensure_topic

    ensure_topic(bootstrap, topic, 1)
    config = {"bootstrap.servers": bootstrap, "transactional.id": f"{topic}-probe"}
    producer = Producer(config)
    producer.init_transactions(30)
    for value, end in ((b"committed", "commit"), (b"aborted", "abort"), (b"fenced", None)):
        producer.begin_transaction()
        producer.produce(topic, value)
        producer.flush(30)
        if end == "commit":
            producer.commit_transaction(30)
        elif end == "abort":
            producer.abort_transaction(30)
    Producer(config).init_transactions(30)  # fences the first: its open one is aborted
    values = _read_values(bootstrap, topic)
    return {v: v.encode() in values for v in ("committed", "aborted", "fenced")}


def _read_values(bootstrap: str, topic: str, idle: float = 1.5) -> list[bytes]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "mamori-drill",
            "isolation.level": "read_committed",
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    values: list[bytes] = []
    quiet_since = time.time()
    try:
        while time.time() - quiet_since < idle:
            messages = [m for m in consumer.consume(100, 0.3) if m.error() is None]
            if messages:
                values += [m.value() or b"" for m in messages]
                quiet_since = time.time()
    finally:
        consumer.close()
    return values


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
