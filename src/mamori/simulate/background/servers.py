"""The server room: database queries, directory traffic, mail, the SWIFT link, services
starting on every server, and the nightly backup (a benign look-alike for exfiltration:
gigabytes leaving DB01 at 02:00, but to BACKUP01)."""

from __future__ import annotations

import numpy as np
import polars as pl

from mamori.simulate import vocab
from mamori.simulate.clock import BACKUP, BUSINESS, SERVER, sample_times
from mamori.simulate.context import Day, Parts
from mamori.simulate.frames import choose, pick
from mamori.simulate.network import flows, web_bytes
from mamori.simulate.windows import logons, process_creations

SERVERS = pl.Series([name for name, _, _ in vocab.SERVERS])
SERVICE_ACCOUNTS = ("SYSTEM", "svc_sql", "svc_backup", "svc_core", "NETWORK SERVICE")


def server_room(day: Day) -> Parts:
    """One day of server activity, scaled to the bank's size."""
    pop, rng = day.pop, day.rng("servers")
    size = len(pop.customer)
    ip = pop.server_ip
    parts: Parts = []

    image, parent, command, weight = zip(*vocab.SERVER_PROCESSES, strict=True)
    n = int(rng.poisson(300 * len(SERVERS)))
    kind = rng.choice(len(image), n, p=np.array(weight) / sum(weight))
    host = choose(rng, SERVERS, n)
    parts.append(
        (
            "winlog",
            process_creations(
                sample_times(rng, day.start, n, SERVER),
                host,
                "NT AUTHORITY\\SYSTEM",
                pick(image, kind),
                pick(parent, kind),
                pick(command, kind),
            ),
        )
    )

    n = int(rng.poisson(100 * len(SERVERS)))
    parts.append(
        (
            "winlog",
            logons(
                sample_times(rng, day.start, n, SERVER),
                choose(rng, SERVERS, n),
                choose(rng, SERVICE_ACCOUNTS, n),
                5,
                "-",
                "-",
                subject_user="SYSTEM",
            ),
        )
    )
    n = int(rng.poisson(200 * len(SERVERS)))
    member = choose(rng, SERVERS, n)
    parts.append(
        (
            "winlog",
            logons(
                sample_times(rng, day.start, n, SERVER),
                "DC01",
                member + "$",
                3,
                pop.addresses(member),
                member,
            ),
        )
    )

    n = int(rng.poisson(3 * size))
    parts.append(
        (
            "flow",
            flows(
                rng,
                sample_times(rng, day.start, n, SERVER),
                ip("CORE01"),
                ip("DB01"),
                1433,
                service="mssql",
                bytes_out=rng.integers(300, 3000, n),
                bytes_in=rng.lognormal(8, 1.2, n).astype(np.int64),
                src_host="CORE01",
                dst_host="DB01",
            ),
        )
    )

    n = int(rng.poisson(500 * len(SERVERS)))
    member = choose(rng, SERVERS, n)
    protocol = rng.choice(3, n, p=[0.5, 0.3, 0.2])
    parts.append(
        (
            "flow",
            flows(
                rng,
                sample_times(rng, day.start, n, SERVER),
                pop.addresses(member),
                ip("DC01"),
                np.array([53, 88, 389])[protocol],
                service=pick(["dns", "kerberos", "ldap"], protocol),
                protocol=pick(["udp", "tcp", "tcp"], protocol),
                bytes_out=rng.integers(40, 2000, n),
                bytes_in=rng.integers(60, 4000, n),
                src_host=member,
                dst_host="DC01",
            ),
        )
    )

    n = int(rng.poisson(200 + 0.05 * size))
    out, back = web_bytes(rng, n)
    parts.append(
        (
            "flow",
            flows(
                rng,
                sample_times(rng, day.start, n, SERVER),
                ip("MAIL01"),
                pick(pop.mail_relay, rng.integers(0, len(pop.mail_relay), n)),
                25,
                service="smtp",
                bytes_out=out * 4,
                bytes_in=back // 20,
                src_host="MAIL01",
            ),
        )
    )

    n = 0 if day.weekend else int(rng.poisson(200))
    out, back = web_bytes(rng, n)
    parts.append(
        (
            "flow",
            flows(
                rng,
                sample_times(rng, day.start, n, BUSINESS),
                ip("PAYGW01"),
                pick(pop.swift_peer, rng.integers(0, len(pop.swift_peer), n)),
                443,
                service="https",
                bytes_out=out,
                bytes_in=back,
                src_host="PAYGW01",
            ),
        )
    )
    parts.append(("flow", _backup(day, rng)))
    return parts


def _backup(day: Day, rng: np.random.Generator) -> pl.DataFrame:
    """Nightly backups: DB01, CORE01 and MAIL01 push gigabytes to BACKUP01."""
    pop = day.pop
    counts = rng.integers(20, 60, 3)
    source = pl.Series(np.repeat(["DB01", "CORE01", "MAIL01"], counts))
    n = int(counts.sum())
    size = rng.lognormal(np.log(200e6), 0.8, n).astype(np.int64)
    return flows(
        rng,
        sample_times(rng, day.start, n, BACKUP),
        pop.addresses(source),
        pop.server_ip("BACKUP01"),
        10000,
        service="backup",
        bytes_out=size,
        bytes_in=size // 500,
        src_host=source,
        dst_host="BACKUP01",
        duration=np.round(size / 80e6 + rng.uniform(1, 10, n), 3),
    )
