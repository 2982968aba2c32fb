"""Network flow builders: one flow record per connection, netflow style."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from mamori.simulate.frames import part

SOURCE = "sim:netflow"
MTU_PAYLOAD = 1200


def flows(
    rng: np.random.Generator,
    time: np.ndarray,
    src_ip: Any,
    dst_ip: Any,
    dst_port: Any,
    *,
    service: Any,
    bytes_out: np.ndarray,
    bytes_in: np.ndarray,
    protocol: Any = "tcp",
    state: Any = "established",
    src_host: Any = None,
    dst_host: Any = None,
    duration: np.ndarray | None = None,
    packets: np.ndarray | None = None,
) -> pl.DataFrame:
    """Flows from `src_ip` to `dst_ip:dst_port`; packets, ports and duration follow the bytes."""
    n = len(time)
    bytes_out = np.asarray(bytes_out, dtype=np.int64)
    bytes_in = np.asarray(bytes_in, dtype=np.int64)
    if packets is None:
        packets = (bytes_out + bytes_in) // MTU_PAYLOAD + rng.integers(2, 8, n)
    if duration is None:
        duration = np.round(rng.lognormal(-0.5, 1.2, n) + packets * 0.002, 3)
    return part(
        "flow",
        time,
        SOURCE,
        src_ip=src_ip,
        src_port=rng.integers(49152, 65536, n, dtype=np.int32),
        dst_ip=dst_ip,
        dst_port=dst_port,
        protocol=protocol,
        service=service,
        bytes_out=bytes_out,
        bytes_in=bytes_in,
        packets=packets,
        duration=duration,
        state=state,
        src_host=src_host,
        dst_host=dst_host,
    )


def web_bytes(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Request and response sizes of ordinary HTTPS exchanges."""
    out = rng.lognormal(7.4, 0.7, n).astype(np.int64) + 200
    back = rng.lognormal(9.8, 1.1, n).astype(np.int64) + 400
    return out, back
