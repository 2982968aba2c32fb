"""Online and mobile banking: customer logins (with the odd mistyped password), the HTTPS
traffic each session sends to WEB01, and the scanners every public site sees."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from mamori.simulate.clock import LOGIN, MINUTE, SECOND, sample_times
from mamori.simulate.context import Day, Parts
from mamori.simulate.frames import choose, ip_strings, part, pick, random_hex
from mamori.simulate.network import flows, web_bytes
from mamori.simulate.population import HOSTING_OCTETS, own_item, public_ips

SOURCE = "sim:online-banking"
FAILED_LOGIN_RATE = 0.02  # sessions that start with a mistyped password
NEW_DEVICE_RATE = 0.01  # a customer on a new phone or a borrowed computer


@dataclass(frozen=True)
class Access:
    """Where each of a set of sessions comes from."""

    app: pl.Series
    device: pl.Series
    ip: pl.Series
    user_agent: pl.Series
    country: pl.Series | str


def usual_access(day: Day, rng: np.random.Generator, who: np.ndarray) -> Access:
    """Customers `who` banking the way they usually do: own device, home or mobile network."""
    pop = day.pop
    n = len(who)
    mobile = pop.mobile[who] ^ (rng.random(n) < 0.1)
    device = own_item(rng, who, pop.device_start, pop.device_count)
    on_mobile_network = mobile & (rng.random(n) < 0.7)
    mobile_ip = ip_strings(rng.choice(pop.mobile_ip, n))
    ip = pl.select(
        pl.when(pl.Series(on_mobile_network)).then(mobile_ip).otherwise(pick(pop.home_ip_str, who))
    ).to_series()
    agent = pick(pop.device_agent, device)
    new_device = rng.random(n) < NEW_DEVICE_RATE
    return Access(
        app=pl.Series(np.where(mobile, "mobile_banking", "online_banking")),
        device=pl.select(
            pl.when(pl.Series(new_device))
            .then(random_hex(rng, n, 16))
            .otherwise(pick(pop.device, device))
        ).to_series(),
        ip=ip,
        user_agent=agent,
        country=pick(pop.home_country, who),
    )


def sessions(
    day: Day,
    rng: np.random.Generator,
    user: pl.Series,
    time: np.ndarray,
    access: Access,
    *,
    outcome: str | np.ndarray = "success",
    reason: str | pl.Series | None = None,
) -> Parts:
    """Login events for `user` at `time`, with their traffic to WEB01 (and WEB01 to CORE01).

    A successful login browses a few pages; a failed one is a single exchange.
    """
    pop = day.pop
    n = len(time)
    logins = part(
        "auth",
        time,
        SOURCE,
        user=user,
        app=access.app,
        action="login",
        outcome=outcome,
        reason=reason,
        src_ip=access.ip,
        device=access.device,
        host="WEB01",
        country=access.country,
        user_agent=access.user_agent,
    )
    ok = (
        (np.asarray(outcome) == "success")
        if not isinstance(outcome, str)
        else np.full(n, outcome == "success")
    )
    pages = 1 + np.where(ok, rng.poisson(3, n), 0)
    row = np.repeat(np.arange(n), pages)
    offset = np.where(
        np.arange(len(row)) == np.repeat(np.cumsum(pages) - pages, pages),
        -rng.integers(1, 3 * SECOND, len(row)),  # the page that carries the login
        rng.integers(SECOND, 10 * MINUTE, len(row)),
    )
    web_time = np.clip(time[row] + offset, day.start, day.end - 1)
    out, back = web_bytes(rng, len(row))
    web = flows(
        rng,
        web_time,
        pick(access.ip, row),
        pop.server_ip("WEB01"),
        443,
        service="https",
        bytes_out=out,
        bytes_in=back,
        dst_host="WEB01",
    )
    done = np.flatnonzero(ok)
    core_time = np.clip(time[done] + rng.integers(0, SECOND, len(done)), day.start, day.end - 1)
    backend = flows(
        rng,
        core_time,
        pop.server_ip("WEB01"),
        pop.server_ip("CORE01"),
        8443,
        service="https",
        bytes_out=rng.integers(600, 3000, len(done)),
        bytes_in=rng.integers(1000, 20000, len(done)),
        src_host="WEB01",
        dst_host="CORE01",
    )
    return [("auth", logins), ("flow", web), ("flow", backend)]


def online_banking(day: Day) -> Parts:
    """A day of customer logins and the internet background noise on WEB01."""
    pop, rng = day.pop, day.rng("online")
    n_customers = len(pop.customer)
    counts = rng.poisson(pop.login_rate * (0.9 if day.weekend else 1.0))
    who = np.repeat(np.arange(n_customers), counts)
    time = sample_times(rng, day.start, len(who), LOGIN)
    access = usual_access(day, rng, who)
    parts = sessions(day, rng, pick(pop.customer, who), time, access)

    failed = np.flatnonzero(rng.random(len(who)) < FAILED_LOGIN_RATE)
    retry_time = np.maximum(time[failed] - rng.integers(5, 90, len(failed)) * SECOND, day.start)
    failed_access = Access(
        *(
            pick(col, failed)
            for col in (access.app, access.device, access.ip, access.user_agent, access.country)
        )
    )
    parts += sessions(
        day,
        rng,
        pick(pop.customer, who[failed]),
        retry_time,
        failed_access,
        outcome="failure",
        reason="bad_password",
    )
    return parts + [("flow", _scanners(day, rng))]


def _scanners(day: Day, rng: np.random.Generator) -> pl.DataFrame:
    """Internet scanners and crawlers probing WEB01: short, often refused connections."""
    n = int(rng.poisson(60 + 0.05 * len(day.pop.customer)))
    return flows(
        rng,
        day.start + rng.integers(0, day.end - day.start, n),
        ip_strings(public_ips(rng, n, HOSTING_OCTETS)),
        day.pop.server_ip("WEB01"),
        rng.choice(np.array([443, 80, 22, 8080, 3389]), n, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
        service=None,
        bytes_out=rng.integers(40, 600, n),
        bytes_in=rng.integers(0, 300, n),
        state=choose(rng, ["established", "rejected", "syn_only", "reset"], n, [3, 3, 2, 2]),
        dst_host="WEB01",
    )
