"""Per-partition detector state, kept with the offset it covers, in the SQL database.

Each (consumer group, topic, partition) has one row: `position`, the offset of the next
event not yet in the state, and the state itself, written in the spine's checkpoint format
(`mamori.engine.checkpoint`: JSON plus Arrow IPC, never pickle) and packed into one zip
blob. The row also keeps the outbox, the alerts of the last batch, so that alerts whose
Kafka transaction did not commit can be sent again after a crash. The state lives in the
database the workers already share (PostgreSQL in production), so a partition's state
follows it to whichever machine the group assigns it to next.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from mamori.engine.checkpoint import Checkpoint
from mamori.events.schema import empty_alerts

_METADATA = sa.MetaData()
CHECKPOINTS = sa.Table(
    "stream_checkpoints",
    _METADATA,
    sa.Column("consumer_group", sa.String(200), primary_key=True),
    sa.Column("topic", sa.String(250), primary_key=True),
    sa.Column("partition", sa.Integer, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("state", sa.LargeBinary, nullable=False),
)


@dataclass
class PartitionCheckpoint:
    """What a partition's owner restores: the next offset, the state, the last outbox."""

    position: int
    state: dict[str, Any]
    outbox: pl.DataFrame


def _pack(position: int, state: dict[str, Any], outbox: pl.DataFrame) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "checkpoint"
        Checkpoint(folder).save(position, {"detectors": state, "outbox": outbox})
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for file in sorted(folder.iterdir()):
                zf.write(file, file.name)
        return out.getvalue()


def _unpack(blob: bytes) -> PartitionCheckpoint:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "checkpoint"
        with zipfile.ZipFile(io.BytesIO(blob)) as zf:
            zf.extractall(folder)
        loaded = Checkpoint(folder).load()
    if loaded is None:
        raise ValueError("stream checkpoint blob holds no checkpoint.json")
    position, state, _ = loaded
    outbox = state.get("outbox")
    return PartitionCheckpoint(
        position, state["detectors"], outbox if isinstance(outbox, pl.DataFrame) else empty_alerts()
    )


class PartitionStates:
    """Save and load each partition's checkpoint for one consumer group."""

    def __init__(self, url: str, group: str) -> None:
        self.group = group
        self._engine = sa.create_engine(url)
        _METADATA.create_all(self._engine)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def _where(self, topic: str, partition: int) -> Any:
        c = CHECKPOINTS.c
        return sa.and_(
            c.consumer_group == self.group, c.topic == topic, c.partition == partition
        )

    def load(self, topic: str, partition: int) -> PartitionCheckpoint | None:
        """The partition's checkpoint, or None if it was never processed by this group."""
        with self._engine.connect() as conn:
            blob = conn.execute(
                sa.select(CHECKPOINTS.c.state).where(self._where(topic, partition))
            ).scalar()
        return None if blob is None else _unpack(blob)

    def save(
        self,
        topic: str,
        partition: int,
        position: int,
        state: dict[str, Any],
        outbox: pl.DataFrame,
    ) -> None:
        """Replace the partition's checkpoint in one database transaction."""
        blob = _pack(position, state, outbox)
        with self._engine.begin() as conn:
            done = conn.execute(
                CHECKPOINTS.update()
                .where(self._where(topic, partition))
                .values(position=position, state=blob)
            )
            if done.rowcount == 0:
                conn.execute(
                    CHECKPOINTS.insert().values(
                        consumer_group=self.group,
                        topic=topic,
                        partition=partition,
                        position=position,
                        state=blob,
                    )
                )
