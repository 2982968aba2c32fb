"""The consumer-group worker: Kafka partitions through the engine, exactly once.

Workers of one consumer group share the partitions of the event topics. For each partition
it owns, a worker keeps one `Pipeline` (the engine of `mamori run`) whose detector state
covers that partition's events up to an offset. One cycle of the worker:

1. consume a batch of messages and group them by partition;
2. run each partition's new events through its pipeline (events at offsets the state
   already covers, replayed after a crash, are skipped);
3. add the alerts to the operational store, which ignores alert ids it already holds;
4. save each partition's state with the offset it now covers and the cycle's alerts (the
   outbox) in the shared database (`PartitionStates`);
5. in one Kafka transaction, send the alerts to the alerts topic and commit the offsets.

Only after 3 and 4 are durable are the offsets committed. A crash before 4 replays the
cycle, which gives the same alerts (stable ids) into a store that ignores them; a crash
between 4 and the commit of 5 leaves the committed offset behind the saved one, and the
next owner sends the outbox again before going on (before it processes anything newer of
that partition). Readers of the alerts topic with `isolation.level=read_committed` therefore
see every alert once on a broker that hides aborted transactions (Kafka). A broker that
shows them (Tansu 0.6, see docs/stream.md) can show an alert twice: the killed worker's
aborted copy and the re-sent one; readers drop those by `alert_id` (`drill.SeenAlerts`).
Every alert message carries a `mamori-writer` header (worker/pid/transaction) that tells
the two copies apart.

When partitions move on a rebalance, the new owner restores each one's state from the
database and starts at the offset the state covers (`on_assign`); the old owner drops its
pipelines (`on_revoke`), having committed everything at the end of its last cycle.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from mamori.detect.base import Detector
from mamori.engine.pipeline import AlertSink, Pipeline, RunStats, micro_batches
from mamori.events.schema import empty_alerts
from mamori.stream.codec import decode_events, encode_alerts
from mamori.stream.state import PartitionStates

TopicPartition = tuple[str, int]


@dataclass
class OwnedPartition:
    """A partition this worker owns: its pipeline and the next offset its state lacks."""

    pipeline: Pipeline
    position: int | None  # None: no saved state; take whatever the group's offset gives
    outbox: pl.DataFrame = field(default_factory=empty_alerts)
    recover: bool = False  # check the committed offset against the saved one first


def consumer_config(bootstrap: str, group: str, session_timeout_ms: int) -> dict[str, Any]:
    """The consumer settings workers (and lag checks) use."""
    return {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        "session.timeout.ms": session_timeout_ms,
        "heartbeat.interval.ms": max(100, session_timeout_ms // 4),
        "max.poll.interval.ms": 300_000,
        "partition.assignment.strategy": "roundrobin",
        "fetch.max.bytes": 64_000_000,
        "max.partition.fetch.bytes": 16_000_000,
    }


class Worker:
    """One member of a consumer group running the engine on the partitions it owns."""

    def __init__(
        self,
        bootstrap: str,
        topics: list[str],
        group: str,
        store: AlertSink,
        states: PartitionStates,
        detectors: Callable[[], list[Detector]],
        *,
        name: str | None = None,
        alerts_topic: str | None = "mamori.alerts",
        max_messages: int = 64,
        batch_rows: int = 250_000,
        session_timeout_ms: int = 6000,
        log: Callable[[str], None] | None = None,
    ) -> None:
        from confluent_kafka import Consumer, Producer

        self.topics, self.group, self.store, self.states = topics, group, store, states
        self.detectors, self.alerts_topic = detectors, alerts_topic
        self.max_messages, self.batch_rows = max_messages, batch_rows
        self.name = name or socket.gethostname()
        self.log = log or (lambda line: print(line, file=sys.stderr, flush=True))
        self.consumer = Consumer(consumer_config(bootstrap, group, session_timeout_ms))
        self.producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                # stable per worker name: a restarted worker aborts what its crash left open
                "transactional.id": f"mamori-worker/{group}/{self.name}",
                "transaction.timeout.ms": 20_000,
                "message.max.bytes": 8_000_000,
                "linger.ms": 5,
            }
        )
        self.producer.init_transactions(30)
        if alerts_topic:
            from mamori.stream.publish import ensure_topic

            ensure_topic(bootstrap, alerts_topic, 8)
        self.owned: dict[TopicPartition, OwnedPartition] = {}
        self.stats = RunStats()
        self.first_event_at: float | None = None
        self.last_cycle_at: float | None = None
        self.cpu_at_first_event = self.cpu_at_last_cycle = 0.0
        self.transactions = 0
        self.resent: list[str] = []
        # wall seconds per step of the cycle, to see what a worker waits on
        self.phases = dict.fromkeys(("consume", "detect", "store", "state", "commit"), 0.0)
        self.stopping = False

    # --- rebalance --------------------------------------------------------------------

    def _assigned(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            pipeline = Pipeline(self.detectors(), batch_rows=self.batch_rows, keep_alerts=False)
            saved = self.states.load(tp.topic, tp.partition)
            owned = OwnedPartition(pipeline, None)
            if saved is not None:
                pipeline.restore(saved.state)
                owned = OwnedPartition(pipeline, saved.position, saved.outbox, recover=True)
                tp.offset = saved.position
            self.owned[(tp.topic, tp.partition)] = owned
        consumer.assign(partitions)
        self.log(f"{self.name}: assigned {_names(partitions)}")

    def _revoked(self, consumer: Any, partitions: list[Any]) -> None:
        for tp in partitions:
            self.owned.pop((tp.topic, tp.partition), None)
        consumer.unassign()
        self.log(f"{self.name}: revoked {_names(partitions)}")

    def _recover(self) -> None:
        """Send the outbox of partitions whose last transaction did not commit."""
        from confluent_kafka import TopicPartition as KafkaTP

        todo = {k: o for k, o in self.owned.items() if o.recover}
        if not todo:
            return
        committed = self.consumer.committed([KafkaTP(t, p) for t, p in todo], timeout=30)
        behind = {}
        for tp in committed:
            owned = todo[(tp.topic, tp.partition)]
            owned.recover = False
            if owned.position is not None and tp.offset < owned.position:
                behind[(tp.topic, tp.partition)] = owned
        if behind:
            outbox = pl.concat([o.outbox for o in behind.values()])
            self._commit(outbox, behind)
            self.resent += outbox["alert_id"].to_list()
            self.log(f"{self.name}: re-sent {outbox.height} alerts of {len(behind)} partitions")

    # --- the cycle --------------------------------------------------------------------

    def _commit(self, alerts: pl.DataFrame, partitions: dict[TopicPartition, Any]) -> None:
        """Alerts to the alerts topic and the partitions' offsets, in one transaction."""
        from confluent_kafka import TopicPartition as KafkaTP

        self.transactions += 1
        # who wrote each copy: tells a re-sent alert from the copy a killed worker left open
        writer: list[tuple[str, str | bytes | None]] = [
            ("mamori-writer", f"{self.name}/{os.getpid()}/{self.transactions}".encode())
        ]
        self.producer.begin_transaction()
        if self.alerts_topic:
            for key, value in encode_alerts(alerts):
                self.producer.produce(self.alerts_topic, value, key=key, headers=writer)
        offsets = [KafkaTP(t, p, o.position) for (t, p), o in partitions.items()]
        self.producer.send_offsets_to_transaction(
            offsets, self.consumer.consumer_group_metadata(), 30
        )
        self.producer.commit_transaction(30)

    def cycle(self, messages: list[Any]) -> int:
        """Process one batch of messages (see the module docstring); the events processed."""
        from confluent_kafka import KafkaException

        by_partition: dict[TopicPartition, list[Any]] = defaultdict(list)
        for message in messages:
            error = message.error()
            if error is not None:
                if error.fatal():
                    raise KafkaException(error)
                self.log(f"{self.name}: {error}")
                continue
            by_partition[(message.topic(), message.partition())].append(message)
        # partitions assigned during this consume: settle their last outbox before the
        # cycle replaces it
        self._recover()
        touched: dict[TopicPartition, OwnedPartition] = {}
        found: dict[TopicPartition, pl.DataFrame] = {}
        before = self.stats.events
        clock = time.perf_counter()
        for key, batch in by_partition.items():
            owned = self.owned.get(key)
            if owned is None:  # fetched just before its partition was revoked
                continue
            start = owned.position or 0
            blocks = [decode_events([m.value()]) for m in batch if m.offset() >= start]
            alerts = [
                owned.pipeline.process(b, self.stats)
                for b in micro_batches(blocks, self.batch_rows)
            ]
            owned.position = batch[-1].offset() + 1
            touched[key] = owned
            found[key] = pl.concat(alerts) if alerts else empty_alerts()
        if not touched:
            return 0
        clock = self._lap("detect", clock)
        everything = pl.concat(found.values())
        if everything.height:
            self.stats.new_alerts += self.store.add_alerts(everything)
        clock = self._lap("store", clock)
        for (topic, part), owned in touched.items():
            outbox = found[(topic, part)]
            self.states.save(topic, part, owned.position or 0, owned.pipeline.state(), outbox)
        clock = self._lap("state", clock)
        self._commit(everything, touched)
        self._lap("commit", clock)
        return self.stats.events - before

    def _lap(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self.phases[phase] += now - since
        return now

    def run(
        self, idle_exit: float | None = None, poll_timeout: float = 0.5, batch_wait: float = 0.05
    ) -> RunStats:
        """Consume until stopped (SIGTERM, `stopping`), or idle for `idle_exit` seconds.

        A cycle starts as soon as one message is there (waiting up to `poll_timeout` while
        idle) and takes what else arrives within `batch_wait`, up to `max_messages`: a
        backlog fills whole cycles at once, and the last messages of a burst are not held
        back for the whole poll timeout waiting for a full batch.
        """
        self.consumer.subscribe(
            self.topics, on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._revoked
        )
        started = idle_since = time.time()
        last_report = started
        try:
            while not self.stopping:
                self._recover()
                clock = time.perf_counter()
                messages = self.consumer.consume(1, poll_timeout)
                if messages and self.max_messages > 1:
                    messages += self.consumer.consume(self.max_messages - 1, batch_wait)
                now = time.time()
                if messages and self.first_event_at is not None:  # not the idle waits
                    self._lap("consume", clock)
                if not messages:
                    if idle_exit is not None and now - idle_since > idle_exit:
                        break
                    continue
                if self.first_event_at is None:
                    self.first_event_at, self.cpu_at_first_event = now, time.process_time()
                if self.cycle(messages):
                    self.last_cycle_at = idle_since = time.time()
                    self.cpu_at_last_cycle = time.process_time()
                if now - last_report > 10:
                    last_report = now
                    self.log(f"{self.name}: {json.dumps(self.summary())}")
        finally:
            self.stats.seconds = time.time() - started
            self.consumer.close()
        return self.stats

    def summary(self) -> dict[str, Any]:
        """Counts and timings so far, as JSON-able values."""
        busy = (self.last_cycle_at or 0) - (self.first_event_at or 0)
        cpu = self.cpu_at_last_cycle - self.cpu_at_first_event
        return {
            "worker": self.name,
            "events": self.stats.events,
            "alerts": self.stats.alerts,
            "new_alerts": self.stats.new_alerts,
            "partitions": sorted(f"{t}/{p}" for t, p in self.owned),
            "first_event_at": self.first_event_at,
            "last_cycle_at": self.last_cycle_at,
            "events_per_second": round(self.stats.events / busy, 1) if busy > 0 else None,
            # CPU of this process (engine, codec, Kafka client threads) over the same span
            "cpu_seconds": round(cpu, 3),
            "events_per_cpu_second": round(self.stats.events / cpu, 1) if cpu > 0 else None,
            "phase_seconds": {k: round(v, 3) for k, v in self.phases.items()},
            "resent_alert_ids": self.resent,
        }


def _names(partitions: list[Any]) -> str:
    return ", ".join(f"{tp.topic}/{tp.partition}" for tp in partitions) or "nothing"

