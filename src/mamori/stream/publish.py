"""Feeding events into Kafka: each kind to its topic, each event to its entity's partition.

Events are read by the same readers as `mamori run`, so what cannot be parsed is
quarantined and counted the same way. Each batch is split by `partition_of` (a stable
hash of tenant and the kind's entity key) and each partition's share is sent as blocks
of at most `rows_per_message` events, in the batch's time order; the producer is
idempotent, so the order within a partition survives retries.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from mamori.stream.codec import encode_events
from mamori.stream.partitioning import partition_of


@dataclass
class PublishStats:
    """What was sent: events and messages, by topic."""

    events: Counter[str] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {"events": dict(self.events), "messages": dict(self.messages)}


def topic_for(pattern: str, kind: str) -> str:
    """The topic of a kind: `pattern` with `{kind}` filled in.

    >>> topic_for("bank-a.{kind}", "flow")
    'bank-a.flow'
    """
    return pattern.replace("{kind}", kind)


def ensure_topic(bootstrap: str, topic: str, partitions: int) -> int:
    """Create `topic` with `partitions` partitions if it does not exist; its partition count."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    known = admin.list_topics(timeout=10).topics
    if topic in known:
        return len(known[topic].partitions)
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(timeout=10)
    except KafkaException as err:  # another worker or publisher created it just now
        if err.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
            raise
        return len(admin.list_topics(topic, timeout=10).topics[topic].partitions)
    return partitions


class Publisher:
    """Sends batches of events to Kafka, keyed by entity."""

    def __init__(
        self,
        bootstrap: str,
        topic: str = "mamori.{kind}",
        partitions: int = 8,
        rows_per_message: int = 2000,
    ) -> None:
        from confluent_kafka import Producer

        self.bootstrap, self.pattern = bootstrap, topic
        self.partitions, self.rows_per_message = partitions, rows_per_message
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap,
                "enable.idempotence": True,
                "linger.ms": 5,
                "message.max.bytes": 8_000_000,
            }
        )
        self._counts: dict[str, int] = {}
        self.stats = PublishStats()

    def _partitions(self, topic: str) -> int:
        if topic not in self._counts:
            self._counts[topic] = ensure_topic(self.bootstrap, topic, self.partitions)
        return self._counts[topic]

    def send(self, batch: pl.DataFrame) -> None:
        """One batch of one kind, split by partition, in blocks."""
        if batch.height == 0:
            return
        kind = batch["kind"][0]
        topic = topic_for(self.pattern, kind)
        parts = partition_of(batch, self._partitions(topic))
        for (part,), share in batch.with_columns(_p=parts).partition_by(
            "_p", maintain_order=True, as_dict=True
        ).items():
            share = share.drop("_p")
            for block in share.iter_slices(self.rows_per_message):
                self._producer.produce(
                    topic, encode_events(block), key=f"{kind}/{part}".encode(), partition=part
                )
                self._producer.poll(0)
                self.stats.messages[topic] += 1
            self.stats.events[topic] += share.height

    def send_all(self, batches: Iterable[pl.DataFrame]) -> PublishStats:
        """Send every batch and wait until the broker has them all."""
        for batch in batches:
            self.send(batch)
        self.flush()
        return self.stats

    def flush(self, timeout: float = 60.0) -> None:
        """Wait for every message to be acknowledged; raise if some could not be sent."""
        left = self._producer.flush(timeout)
        if left:
            raise RuntimeError(f"{left} messages not acknowledged by {self.bootstrap}")
