"""The bank's staff at work: Sysmon process creations and Security logons on their
workstations and the domain controller, their network traffic, tellers looking up customer
records, and IT administrators doing legitimate admin work (benign look-alikes for the
intrusion: PowerShell, remote logons to servers, the rare service install)."""

from __future__ import annotations

import numpy as np
import polars as pl

from mamori.simulate import vocab
from mamori.simulate.clock import BRANCH, HOUR, MINUTE, OFFICE, SECOND, sample_times
from mamori.simulate.context import Day, Parts
from mamori.simulate.frames import choose, part, pick
from mamori.simulate.network import flows, web_bytes
from mamori.simulate.windows import logons, process_creations, service_installs

CORE_SOURCE = "sim:core-banking"
PRESENT_WEEKDAY = 0.95
PRESENT_WEEKEND = 0.04
SERVERS = [name for name, _, _ in vocab.SERVERS if name not in ("WEB01", "PROXY01")]


def workplace(day: Day) -> Parts:
    """One day of staff activity."""
    pop, rng = day.pop, day.rng("workplace")
    role = pop.role.to_numpy()
    chance = (
        np.where(role == "it_admin", 0.3, PRESENT_WEEKEND)
        if day.weekend
        else (np.full(len(role), PRESENT_WEEKDAY))
    )
    present = np.flatnonzero(rng.random(len(role)) < chance)
    parts: Parts = []
    parts += _desktop(day, rng, present)
    parts += _traffic(day, rng, present)
    parts += _administration(day, rng, present[role[present] == "it_admin"])
    parts += _tellers(day, rng, present[role[present] == "teller"])
    return parts


def _each(rng: np.random.Generator, people: np.ndarray, mean: float) -> np.ndarray:
    """A Poisson number of events for each person, as the person index of each event."""
    return np.repeat(people, rng.poisson(mean, len(people)))


def _domain_user(day: Day, who: np.ndarray) -> pl.Series:
    return f"{day.pop.domain}\\" + pick(day.pop.user, who)


def _desktop(day: Day, rng: np.random.Generator, present: np.ndarray) -> Parts:
    """Process creations and interactive logons on the workstations."""
    pop = day.pop
    image, parent, command, weight = zip(*vocab.DESKTOP_PROCESSES, strict=True)
    who = _each(rng, present, 600)
    kind = rng.choice(len(image), len(who), p=np.array(weight) / sum(weight))
    user = pick(pop.user, who)
    processes = process_creations(
        sample_times(rng, day.start, len(who), OFFICE),
        pick(pop.workstation, who),
        _domain_user(day, who),
        pick(image, kind).str.replace_all("{user}", user, literal=True),
        pick(parent, kind).str.replace_all("{user}", user, literal=True),
        pick(command, kind).str.replace_all("{user}", user, literal=True),
    )
    arrive = day.start + rng.integers(7 * HOUR + 30 * MINUTE, 9 * HOUR + 30 * MINUTE, len(present))
    unlock = _each(rng, present, 4)
    typo = present[rng.random(len(present)) < 0.06]
    ws = pop.workstation
    return [
        ("winlog", processes),
        (
            "winlog",
            logons(
                arrive,
                pick(ws, present),
                pick(pop.user, present),
                2,
                "127.0.0.1",
                pick(ws, present),
            ),
        ),
        (
            "winlog",
            logons(
                sample_times(rng, day.start, len(unlock), OFFICE),
                pick(ws, unlock),
                pick(pop.user, unlock),
                7,
                "127.0.0.1",
                pick(ws, unlock),
            ),
        ),
        (
            "winlog",
            logons(
                day.start + rng.integers(7 * HOUR, 9 * HOUR, len(typo)),
                pick(ws, typo),
                pick(pop.user, typo),
                2,
                "127.0.0.1",
                pick(ws, typo),
                success=False,
            ),
        ),
    ]


def _traffic(day: Day, rng: np.random.Generator, present: np.ndarray) -> Parts:
    """Workstation traffic: web via the proxy and direct to cloud services, DNS, Kerberos,
    mail, and each role's business applications."""
    pop = day.pop
    ws, ws_ip = pop.workstation, pop.workstation_ip
    role = pop.role.to_numpy()
    ip = pop.server_ip
    parts: Parts = []

    web = _each(rng, present, 420)
    t = sample_times(rng, day.start, len(web), OFFICE)
    out, back = web_bytes(rng, len(web))
    dest = rng.choice(len(pop.internet_ip), len(web), p=pop.internet_weight)
    port = np.where(rng.random(len(web)) < 0.9, 443, 80)
    parts.append(
        (
            "flow",
            flows(
                rng,
                t,
                pick(ws_ip, web),
                ip("PROXY01"),
                8080,
                service="http-proxy",
                bytes_out=out,
                bytes_in=back,
                src_host=pick(ws, web),
                dst_host="PROXY01",
            ),
        )
    )
    parts.append(
        (
            "flow",
            flows(
                rng,
                np.minimum(t + rng.integers(1000, 50_000, len(web)), day.end - 1),
                ip("PROXY01"),
                pick(pop.internet_ip_str, dest),
                port,
                service=np.where(port == 443, "https", "http"),
                bytes_out=out,
                bytes_in=back,
                src_host="PROXY01",
            ),
        )
    )

    cloud = _each(rng, present, 120)
    out, back = web_bytes(rng, len(cloud))
    dest = rng.choice(len(pop.internet_ip), len(cloud), p=pop.internet_weight)
    parts.append(
        (
            "flow",
            flows(
                rng,
                sample_times(rng, day.start, len(cloud), OFFICE),
                pick(ws_ip, cloud),
                pick(pop.internet_ip_str, dest),
                443,
                service="https",
                bytes_out=out,
                bytes_in=back,
                src_host=pick(ws, cloud),
            ),
        )
    )

    dns = _each(rng, present, 450)
    parts.append(
        (
            "flow",
            flows(
                rng,
                sample_times(rng, day.start, len(dns), OFFICE),
                pick(ws_ip, dns),
                ip("DC01"),
                53,
                service="dns",
                protocol="udp",
                bytes_out=rng.integers(40, 90, len(dns)),
                bytes_in=rng.integers(60, 400, len(dns)),
                src_host=pick(ws, dns),
                dst_host="DC01",
                duration=np.round(rng.uniform(0.001, 0.05, len(dns)), 3),
            ),
        )
    )

    directory = _each(rng, present, 40)
    protocol = rng.choice(4, len(directory), p=[0.45, 0.3, 0.2, 0.05])
    t = sample_times(rng, day.start, len(directory), OFFICE)
    parts.append(
        (
            "flow",
            flows(
                rng,
                t,
                pick(ws_ip, directory),
                ip("DC01"),
                np.array([88, 389, 445, 135])[protocol],
                service=pick(["kerberos", "ldap", "smb", "msrpc"], protocol),
                bytes_out=rng.integers(300, 4000, len(directory)),
                bytes_in=rng.integers(300, 6000, len(directory)),
                src_host=pick(ws, directory),
                dst_host="DC01",
            ),
        )
    )
    parts.append(
        (
            "winlog",
            logons(
                t + rng.integers(1000, 200_000, len(directory)),
                "DC01",
                pick(pop.user, directory),
                3,
                pick(ws_ip, directory),
                pick(ws, directory),
            ),
        )
    )

    mail = _each(rng, present, 60)
    out, back = web_bytes(rng, len(mail))
    parts.append(
        (
            "flow",
            flows(
                rng,
                sample_times(rng, day.start, len(mail), OFFICE),
                pick(ws_ip, mail),
                ip("MAIL01"),
                443,
                service="https",
                bytes_out=out,
                bytes_in=back,
                src_host=pick(ws, mail),
                dst_host="MAIL01",
            ),
        )
    )

    for job, server, port, service, mean in (
        ("teller", "CORE01", 8443, "https", 80),
        ("back_office", "CORE01", 8443, "https", 50),
        ("payments_operator", "PAYGW01", 8443, "https", 60),
        ("developer", "DB01", 1433, "mssql", 30),
    ):
        users = _each(rng, present[role[present] == job], mean)
        out, back = web_bytes(rng, len(users))
        parts.append(
            (
                "flow",
                flows(
                    rng,
                    sample_times(rng, day.start, len(users), OFFICE),
                    pick(ws_ip, users),
                    ip(server),
                    port,
                    service=service,
                    bytes_out=out,
                    bytes_in=back,
                    src_host=pick(ws, users),
                    dst_host=server,
                ),
            )
        )
    return parts


def _administration(day: Day, rng: np.random.Generator, admins: np.ndarray) -> Parts:
    """IT admins: PowerShell and consoles, remote logons onto servers, the odd service install."""
    pop = day.pop
    image, parent, command, weight = zip(*vocab.ADMIN_PROCESSES, strict=True)
    who = _each(rng, admins, 12)
    kind = rng.choice(len(image), len(who), p=np.array(weight) / sum(weight))
    parts: Parts = [
        (
            "winlog",
            process_creations(
                sample_times(rng, day.start, len(who), OFFICE),
                pick(pop.workstation, who),
                _domain_user(day, who),
                pick(image, kind),
                pick(parent, kind),
                pick(command, kind),
            ),
        )
    ]

    remote = _each(rng, admins, 5)
    server = choose(rng, SERVERS, len(remote))
    rdp = rng.random(len(remote)) < 0.4
    t = sample_times(rng, day.start, len(remote), OFFICE)
    parts.append(
        (
            "winlog",
            logons(
                t,
                server,
                pick(pop.admin_account, remote),
                np.where(rdp, 10, 3),
                pick(pop.workstation_ip, remote),
                pick(pop.workstation, remote),
            ),
        )
    )
    port = np.where(rdp, 3389, 445)
    parts.append(
        (
            "flow",
            flows(
                rng,
                np.maximum(t - rng.integers(SECOND, 3 * SECOND, len(remote)), day.start),
                pick(pop.workstation_ip, remote),
                pop.addresses(server),
                port,
                service=np.where(rdp, "rdp", "smb"),
                bytes_out=rng.integers(20_000, 3_000_000, len(remote)),
                bytes_in=rng.integers(50_000, 20_000_000, len(remote)),
                src_host=pick(pop.workstation, remote),
                dst_host=server,
            ),
        )
    )

    installs = admins[rng.random(len(admins)) < 0.08]
    service = rng.integers(0, len(vocab.LEGIT_SERVICES), len(installs))
    names, paths = zip(*vocab.LEGIT_SERVICES, strict=True)
    parts.append(
        (
            "winlog",
            service_installs(
                sample_times(rng, day.start, len(installs), OFFICE),
                choose(rng, SERVERS, len(installs)),
                pick(names, service),
                pick(paths, service),
            ),
        )
    )
    return parts


def _tellers(day: Day, rng: np.random.Generator, tellers: np.ndarray) -> Parts:
    """Tellers sign in to core banking and look up 10-60 customer records each."""
    pop = day.pop
    counts = rng.integers(10, 61, len(tellers))
    who = np.repeat(tellers, counts)
    viewed = rng.integers(0, len(pop.customer), len(who))
    signin = day.start + rng.integers(8 * HOUR + 30 * MINUTE, 9 * HOUR, len(tellers))
    common = {"app": "core_banking", "outcome": "success", "country": pop.country}
    return [
        (
            "auth",
            part(
                "auth",
                signin,
                CORE_SOURCE,
                user=pick(pop.user, tellers),
                action="login",
                src_ip=pick(pop.workstation_ip, tellers),
                host=pick(pop.workstation, tellers),
                **common,
            ),
        ),
        (
            "auth",
            part(
                "auth",
                sample_times(rng, day.start, len(who), BRANCH),
                CORE_SOURCE,
                user=pick(pop.user, who),
                target=pick(pop.customer, viewed),
                action="view_record",
                src_ip=pick(pop.workstation_ip, who),
                host=pick(pop.workstation, who),
                **common,
            ),
        ),
    ]
