"""Insider: a teller trawls through customer records at night.

One teller, from their own workstation, opens 200-800 distinct customer records in core
banking between 21:00 and 03:00, when no branch is open. Daytime lookups (10-60 a day)
are the benign background.
"""

from __future__ import annotations

import numpy as np

from mamori.simulate.background.workplace import CORE_SOURCE
from mamori.simulate.clock import HOUR, MINUTE
from mamori.simulate.context import Day
from mamori.simulate.frames import part, pick
from mamori.simulate.scenarios.base import Injection, entities, moment
from mamori.simulate.windows import logons

NAME = "insider"


def inject(day: Day, rng: np.random.Generator) -> Injection:
    pop = day.pop
    teller = int(rng.choice(pop.staff_with_role("teller")))
    user, ws, ip = pop.user[teller], pop.workstation[teller], pop.workstation_ip[teller]
    start = moment(rng, day, 21, 22) if rng.random() < 0.5 else moment(rng, day, 0, 1)
    span = int(rng.integers(HOUR, int(1.9 * HOUR)))
    n = min(int(rng.integers(200, 801)), len(pop.customer))
    viewed = rng.choice(len(pop.customer), n, replace=False)
    time = np.sort(start + 2 * MINUTE + rng.integers(0, span, n))
    common = {
        "user": user,
        "app": "core_banking",
        "outcome": "success",
        "src_ip": ip,
        "host": ws,
        "country": pop.country,
    }
    return Injection(
        parts=[
            ("winlog", logons(np.array([start]), ws, user, 2, "127.0.0.1", ws)),
            (
                "auth",
                part("auth", np.array([start + MINUTE]), CORE_SOURCE, action="login", **common),
            ),
            (
                "auth",
                part(
                    "auth",
                    time,
                    CORE_SOURCE,
                    action="view_record",
                    target=pick(pop.customer, viewed),
                    **common,
                ),
            ),
        ],
        entities=entities("user", [user]) + entities("host", [ws]) + entities("ip", [ip]),
        stages=["collection"],
        description=f"Teller {user} opened {n} customer records off-hours from {ws}.",
    )
