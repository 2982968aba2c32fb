"""Events and alerts on the wire.

An event message carries a block of events of one kind and one partition as an Arrow IPC
stream (typed, columnar, decoded without a per-event loop); an alert message carries one
alert as a JSON object keyed by its stable `alert_id`, the shape SIEMs and case tools read.

>>> import polars as pl
>>> frame = pl.DataFrame({"kind": ["flow", "flow"], "bytes_out": [1, 2]})
>>> decode_events([encode_events(frame)]).equals(frame)
True
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import polars as pl

from mamori.events.schema import ALERT, conform_alerts, empty_alerts


def encode_events(frame: pl.DataFrame) -> bytes:
    """One block of events as Arrow IPC stream bytes."""
    out = io.BytesIO()
    frame.write_ipc_stream(out, compression="lz4")
    return out.getvalue()


def decode_events(values: Sequence[bytes]) -> pl.DataFrame:
    """Blocks of one kind back into one frame, in message order."""
    frames = [pl.read_ipc_stream(io.BytesIO(v)) for v in values]
    return pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()


def encode_alerts(alerts: pl.DataFrame) -> list[tuple[bytes, bytes]]:
    """(key, value) per alert: the alert id and the alert as one JSON object."""
    if alerts.height == 0:
        return []
    lines = conform_alerts(alerts).write_ndjson().encode().splitlines()
    keys = [k.encode() for k in alerts["alert_id"].to_list()]
    return list(zip(keys, lines, strict=True))


def decode_alerts(values: Sequence[bytes]) -> pl.DataFrame:
    """Alert messages (JSON objects) back into an alerts frame."""
    if not values:
        return empty_alerts()
    return pl.read_ndjson(io.BytesIO(b"\n".join(values)), schema=ALERT)
