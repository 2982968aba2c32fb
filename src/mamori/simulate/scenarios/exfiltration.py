"""Exfiltration: gigabytes leave the bank at night for an address nobody there has used.

One workstation, or the database server, sends 0.5-5 GB in several long connections to a
single external host, over HTTPS or SSH, between midnight and 05:00. The nightly backup is
the benign look-alike: just as big and just as late, but it stays inside.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mamori.simulate.clock import MINUTE
from mamori.simulate.context import Day
from mamori.simulate.frames import ip_strings
from mamori.simulate.network import flows
from mamori.simulate.population import HOSTING_OCTETS, public_ips
from mamori.simulate.scenarios.base import Injection, entities, moment

NAME = "exfiltration"


def inject(day: Day, rng: np.random.Generator) -> Injection:
    pop = day.pop
    if rng.random() < 0.3:
        host = "DB01"
    else:
        host = pop.workstation[int(rng.integers(0, len(pop.workstation)))]
    address = pop.addresses(pl.Series([host]))[0]
    candidates = public_ips(rng, 8, HOSTING_OCTETS)
    fresh = candidates[~np.isin(candidates, pop.internet_ip)][0]  # never contacted before
    destination = ip_strings(np.array([fresh]))[0]
    port, service = (443, "https") if rng.random() < 0.7 else (22, "ssh")

    n = int(rng.integers(3, 13))
    total = rng.uniform(0.5e9, 5e9)
    size = (rng.dirichlet(np.ones(n) * 2) * total).astype(np.int64)
    rate = rng.uniform(4e6, 20e6)  # bytes per second the uplink gives
    duration = size / rate
    start = moment(rng, day, 0, 3)
    gaps = (duration * 1e6).astype(np.int64) + rng.integers(MINUTE, 10 * MINUTE, n)
    time = start + np.concatenate([[0], np.cumsum(gaps)[:-1]])
    frame = flows(
        rng,
        time,
        address,
        destination,
        port,
        service=service,
        bytes_out=size,
        bytes_in=size // 400,
        src_host=host,
        duration=np.round(duration, 3),
    )
    return Injection(
        parts=[("flow", frame)],
        entities=entities("host", [host]) + entities("ip", [address, destination]),
        stages=["exfiltration"],
        description=(
            f"{host} sent {size.sum() / 1e9:.2f} GB in {n} connections to {destination}:{port}, "
            "an address never contacted before, at night."
        ),
    )
