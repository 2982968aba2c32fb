"""`mamori worker` and `mamori publish`: the engine on Kafka, and files into Kafka."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import click


def _open_store(opener: Any, url: str, tries: int = 5) -> Any:
    """Open the store; workers starting together may race to create its tables, and the
    loser retries once the winner is done."""
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(tries):
        try:
            return opener(url)
        except SQLAlchemyError:
            if attempt == tries - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _split(values: tuple[str, ...]) -> list[str]:
    return [v for value in values for v in value.split(",") if v]


@click.command()
@click.option(
    "--topics", multiple=True, required=True, help="Event topics (repeat or comma-separate)."
)
@click.option("--group", default="mamori", show_default=True, help="Kafka consumer group.")
@click.option("--bootstrap", required=True, help="Kafka bootstrap servers, host:port[,…].")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), default=Path("data"), show_default=True
)
@click.option(
    "--store-url",
    default=None,
    envvar="MAMORI_DATABASE_URL",
    show_envvar=True,
    help="SQLAlchemy URL of the operational store and partition state "
    "(default: SQLite in --data-dir; PostgreSQL when several machines share the work). "
    "Give it through the environment where it holds a password: a command line is visible "
    "to every user of the machine.",
)
@click.option("--alerts-topic", default="mamori.alerts", show_default=True)
@click.option("--name", default=None, help="This worker's stable name (default: host name).")
@click.option(
    "--detectors",
    type=click.Choice(["partition-safe", "all"]),
    default="partition-safe",
    show_default=True,
    help="partition-safe: only detectors exact on a stream split by entity; all: every "
    "default detector (exact only on one-partition topics). See docs/stream.md.",
)
@click.option("--max-messages", default=64, show_default=True, help="Messages per cycle.")
@click.option("--session-timeout-ms", default=6000, show_default=True)
@click.option(
    "--idle-exit", type=float, default=None, help="Stop after this many seconds without events."
)
def worker(
    topics: tuple[str, ...],
    group: str,
    bootstrap: str,
    data_dir: Path,
    store_url: str | None,
    alerts_topic: str,
    name: str | None,
    detectors: str,
    max_messages: int,
    session_timeout_ms: int,
    idle_exit: float | None,
) -> None:
    """Join a consumer group and run the detectors on the partitions this worker owns.

    Alerts go to the operational store and to --alerts-topic; each partition's detector
    state is saved with the offset it covers and follows the partition on a rebalance.
    Prints a JSON summary when it stops (SIGTERM, SIGINT or --idle-exit).

    Example: mamori worker --topics mamori.transaction,mamori.flow --bootstrap kafka:9092
    --group bank-a --store-url postgresql+psycopg://mamori@db/mamori --name worker-1
    """
    from mamori.engine.pipeline import default_detectors
    from mamori.store.sql import OperationalStore, data_dir_url
    from mamori.stream.partitioning import partition_safe_detectors
    from mamori.stream.state import PartitionStates
    from mamori.stream.worker import Worker

    data_dir.mkdir(parents=True, exist_ok=True)
    url = store_url or data_dir_url(data_dir)
    make = partition_safe_detectors if detectors == "partition-safe" else default_detectors
    member = Worker(
        bootstrap,
        _split(topics),
        group,
        _open_store(OperationalStore, url),
        PartitionStates(url, group),
        make,
        name=name,
        alerts_topic=alerts_topic or None,
        max_messages=max_messages,
        session_timeout_ms=session_timeout_ms,
    )

    def stop(*_: Any) -> None:
        member.stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    member.run(idle_exit=idle_exit)
    click.echo(json.dumps(member.summary()))


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--topic",
    default="mamori.{kind}",
    show_default=True,
    help="Topic, where {kind} becomes each event's stream kind.",
)
@click.option("--bootstrap", required=True, help="Kafka bootstrap servers, host:port[,…].")
@click.option(
    "--partitions", default=8, show_default=True, help="Partitions of topics it creates."
)
@click.option("--kind", default=None, help="Stream kind of the inputs, if the files do not say.")
@click.option("--tenant", default="default", show_default=True)
@click.option("--rows-per-message", default=2000, show_default=True)
@click.option(
    "--quarantine",
    type=click.Path(path_type=Path),
    default=Path("quarantine.jsonl"),
    show_default=True,
    help="Where records that cannot be read are written, with position and reason.",
)
def publish(
    paths: tuple[Path, ...],
    topic: str,
    bootstrap: str,
    partitions: int,
    kind: str | None,
    tenant: str,
    rows_per_message: int,
    quarantine: Path,
) -> None:
    """Read event files and send them to Kafka, each event to its entity's partition.

    Example: mamori publish sim/events --topic bank-a.{kind} --bootstrap kafka:9092
    """
    from mamori.events.quarantine import Quarantine
    from mamori.events.readers import read_path
    from mamori.events.summary import ReadSummary
    from mamori.stream.publish import Publisher

    read = ReadSummary()
    bad = Quarantine(quarantine)
    sender = Publisher(bootstrap, topic, partitions, rows_per_message)
    for path in paths:
        sender.send_all(
            read_path(path, kind=kind, tenant=tenant, quarantine=bad, summary=read)
        )
    click.echo(
        json.dumps(
            {
                **sender.stats.as_dict(),
                "records_read": read.read,
                "records_accepted": read.accepted,
                "records_quarantined": read.quarantined,
                "quarantine_file": str(quarantine) if read.quarantined else None,
            }
        )
    )
