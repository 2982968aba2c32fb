"""DDoS: a short flood of connections from thousands of addresses against WEB01.

For 2-10 minutes, 500-5,000 distinct sources open 20,000-100,000 tiny, mostly refused or
half-open connections to the online banking site on 443. Internet scanners are the benign
look-alike, at a thousandth of the rate.
"""

from __future__ import annotations

import numpy as np

from mamori.simulate.clock import MINUTE
from mamori.simulate.context import Day
from mamori.simulate.frames import choose, ip_strings, pick
from mamori.simulate.network import flows
from mamori.simulate.population import CONSUMER_OCTETS, HOSTING_OCTETS, public_ips
from mamori.simulate.scenarios.base import Injection, entities, moment

NAME = "ddos"


def inject(day: Day, rng: np.random.Generator) -> Injection:
    pop = day.pop
    sources = np.unique(
        public_ips(
            rng, int(rng.integers(500, 5001)), np.concatenate([CONSUMER_OCTETS, HOSTING_OCTETS])
        )
    )
    address = ip_strings(sources)
    n = int(rng.integers(20_000, 100_001))
    start = moment(rng, day, 0, 23.8)
    length = int(rng.integers(2, 11)) * MINUTE
    # every source takes part; the rest of the flood comes from a skewed few
    who = np.concatenate([np.arange(len(sources)), rng.zipf(1.3, n - len(sources)) % len(sources)])
    state = choose(rng, ["syn_only", "rejected", "reset", "established"], n, [4, 3, 3, 1])
    web = pop.server_ip("WEB01")
    frame = flows(
        rng,
        start + rng.integers(0, length, n),
        pick(address, who),
        web,
        443,
        service="https",
        bytes_out=rng.integers(40, 400, n),
        bytes_in=rng.integers(0, 200, n),
        state=state,
        dst_host="WEB01",
        packets=rng.integers(1, 6, n),
        duration=np.round(rng.exponential(0.2, n), 3),
    )
    return Injection(
        parts=[("flow", frame)],
        entities=entities("host", ["WEB01"]) + entities("ip", [web]) + entities("ip", address),
        stages=["impact"],
        description=(
            f"{n} connections in {length // MINUTE} minutes from {len(sources)} addresses "
            "flooded WEB01 on 443."
        ),
    )
