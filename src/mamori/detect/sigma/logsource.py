"""Which Windows events a Sigma rule sees: its logsource mapped to channels and event ids.

A Sigma rule names an abstract log source (`product: windows` plus a `category` such as
`process_creation`, or a `service` such as `security`). Mamori's `winlog` events keep the
native Windows fields, so a log source becomes a set of *sources*: a `Channel`, optionally
restricted to some `EventID` values, and optionally with field renames for logs that name a
Sigma field differently. A rule only ever sees the rows of its log source.

Categories (Sysmon unless said otherwise; channel ``Microsoft-Windows-Sysmon/Operational``):

=============================  ==============================================================
category                       events
=============================  ==============================================================
process_creation               Sysmon 1, or Security 4688 with NewProcessName→Image and
                               ParentProcessName→ParentImage (CommandLine keeps its name)
file_change                    2
network_connection             3
sysmon_status                  4, 16
process_termination            5
driver_load                    6
image_load                     7
create_remote_thread           8
raw_access_thread              9
process_access                 10
file_event                     11
registry_add / registry_delete 12
registry_set                   13
registry_rename                14
registry_event                 12, 13, 14
create_stream_hash             15
pipe_created                   17, 18
wmi_event                      19, 20, 21
dns_query                      22
file_delete                    23, 26
clipboard_capture              24
process_tampering              25
file_delete_detected           26
file_block_executable          27
file_block_shredding           28
file_executable_detected       29
sysmon_error                   255
ps_module                      PowerShell 4103 (Microsoft-Windows-PowerShell/Operational,
                               PowerShellCore/Operational)
ps_script                      PowerShell 4104 (same channels)
ps_classic_start               Windows PowerShell 400
ps_classic_provider_start      Windows PowerShell 600
ps_classic_script              Windows PowerShell 800
=============================  ==============================================================

Services map to whole channels (`SERVICES` below: security → Security, system → System,
sysmon → Microsoft-Windows-Sysmon/Operational, powershell → Microsoft-Windows-PowerShell/
Operational and PowerShellCore/Operational, powershell-classic → Windows PowerShell,
windefend → Microsoft-Windows-Windows Defender/Operational, and so on). `product: windows`
with neither category nor service sees every Windows event. Anything else (other products,
categories without a Windows log such as `file_access`) has no route: such rules compile but
are reported as unrouted and never run on `winlog` batches.

The row mask of a route is computed once per batch and shared by all rules of that route.

>>> from sigma.rule import SigmaLogSource
>>> route_for(SigmaLogSource(category="dns_query", product="windows")).key
'windows/dns_query'
>>> route_for(SigmaLogSource(product="linux", service="auth")) is None
True
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
from sigma.rule import SigmaLogSource

SYSMON = "Microsoft-Windows-Sysmon/Operational"
POWERSHELL = ("Microsoft-Windows-PowerShell/Operational", "PowerShellCore/Operational")
POWERSHELL_CLASSIC = "Windows PowerShell"


@dataclass(frozen=True)
class Source:
    """Events from some channels, optionally only some event ids, with field renames.

    `renames` maps a Sigma field name to the event field that carries it in this source.
    """

    channels: tuple[str, ...]
    event_ids: tuple[int, ...] = ()
    renames: tuple[tuple[str, str], ...] = ()

    def mask(self) -> pl.Expr:
        """True on the rows of this source (an empty channel list means every channel)."""
        parts = []
        if self.channels:
            parts.append(pl.col("Channel").is_in(list(self.channels)))
        if self.event_ids:
            parts.append(pl.col("EventID").is_in(list(self.event_ids)))
        if not parts:
            return pl.lit(True)
        return pl.all_horizontal(parts).fill_null(False)


@dataclass(frozen=True)
class Route:
    """The events one log source covers: the union of its sources."""

    key: str
    sources: tuple[Source, ...] = field(default=())

    def mask(self) -> pl.Expr:
        """True on the rows this route's rules may see."""
        return pl.any_horizontal([s.mask() for s in self.sources])

    def needs(self) -> set[str]:
        """The columns the mask reads."""
        cols: set[str] = set()
        for s in self.sources:
            if s.channels:
                cols.add("Channel")
            if s.event_ids:
                cols.add("EventID")
        return cols


def _sysmon(*ids: int) -> tuple[Source, ...]:
    return (Source((SYSMON,), ids),)


#: Sigma category → sources (product windows).
CATEGORIES: dict[str, tuple[Source, ...]] = {
    "process_creation": (
        Source((SYSMON,), (1,)),
        Source(
            ("Security",),
            (4688,),
            (("Image", "NewProcessName"), ("ParentImage", "ParentProcessName")),
        ),
    ),
    "file_change": _sysmon(2),
    "network_connection": _sysmon(3),
    "sysmon_status": _sysmon(4, 16),
    "process_termination": _sysmon(5),
    "driver_load": _sysmon(6),
    "image_load": _sysmon(7),
    "create_remote_thread": _sysmon(8),
    "raw_access_thread": _sysmon(9),
    "process_access": _sysmon(10),
    "file_event": _sysmon(11),
    "registry_add": _sysmon(12),
    "registry_delete": _sysmon(12),
    "registry_set": _sysmon(13),
    "registry_rename": _sysmon(14),
    "registry_event": _sysmon(12, 13, 14),
    "create_stream_hash": _sysmon(15),
    "pipe_created": _sysmon(17, 18),
    "wmi_event": _sysmon(19, 20, 21),
    "dns_query": _sysmon(22),
    "file_delete": _sysmon(23, 26),
    "clipboard_capture": _sysmon(24),
    "process_tampering": _sysmon(25),
    "file_delete_detected": _sysmon(26),
    "file_block_executable": _sysmon(27),
    "file_block_shredding": _sysmon(28),
    "file_executable_detected": _sysmon(29),
    "sysmon_error": _sysmon(255),
    "ps_module": (Source(POWERSHELL, (4103,)),),
    "ps_script": (Source(POWERSHELL, (4104,)),),
    "ps_classic_start": (Source((POWERSHELL_CLASSIC,), (400,)),),
    "ps_classic_provider_start": (Source((POWERSHELL_CLASSIC,), (600,)),),
    "ps_classic_script": (Source((POWERSHELL_CLASSIC,), (800,)),),
}

#: Sigma service → channels (product windows).
SERVICES: dict[str, tuple[str, ...]] = {
    "security": ("Security",),
    "system": ("System",),
    "application": ("Application",),
    "sysmon": (SYSMON,),
    "powershell": POWERSHELL,
    "powershell-classic": (POWERSHELL_CLASSIC,),
    "taskscheduler": ("Microsoft-Windows-TaskScheduler/Operational",),
    "wmi": ("Microsoft-Windows-WMI-Activity/Operational",),
    "windefend": ("Microsoft-Windows-Windows Defender/Operational",),
    "defender": ("Microsoft-Windows-Windows Defender/Operational",),
    "dns-server": ("DNS Server",),
    "dns-server-analytic": ("Microsoft-Windows-DNS-Server/Analytical",),
    "dns-server-audit": ("Microsoft-Windows-DNS-Server/Audit",),
    "dns-client": ("Microsoft-Windows-DNS Client Events/Operational",),
    "driver-framework": ("Microsoft-Windows-DriverFrameworks-UserMode/Operational",),
    "ntlm": ("Microsoft-Windows-NTLM/Operational",),
    "dhcp": ("Microsoft-Windows-DHCP-Server/Operational",),
    "msexchange-management": ("MSExchange Management",),
    "applocker": (
        "Microsoft-Windows-AppLocker/MSI and Script",
        "Microsoft-Windows-AppLocker/EXE and DLL",
        "Microsoft-Windows-AppLocker/Packaged app-Deployment",
        "Microsoft-Windows-AppLocker/Packaged app-Execution",
    ),
    "printservice-admin": ("Microsoft-Windows-PrintService/Admin",),
    "printservice-operational": ("Microsoft-Windows-PrintService/Operational",),
    "codeintegrity-operational": ("Microsoft-Windows-CodeIntegrity/Operational",),
    "smbclient-security": ("Microsoft-Windows-SmbClient/Security",),
    "smbclient-connectivity": ("Microsoft-Windows-SmbClient/Connectivity",),
    "smbserver-connectivity": ("Microsoft-Windows-SMBServer/Connectivity",),
    "firewall-as": (
        "Microsoft-Windows-Windows Firewall With Advanced Security/Firewall",
        "Microsoft-Windows-Windows Firewall With Advanced Security/FirewallDiagnostics",
    ),
    "bits-client": ("Microsoft-Windows-Bits-Client/Operational",),
    "terminalservices-localsessionmanager": (
        "Microsoft-Windows-TerminalServices-LocalSessionManager/Operational",
    ),
    "microsoft-servicebus-client": ("Microsoft-ServiceBus-Client",),
    "ldap": ("Microsoft-Windows-LDAP-Client/Debug",),
    "ldap_debug": ("Microsoft-Windows-LDAP-Client/Debug",),
    "security-mitigations": (
        "Microsoft-Windows-Security-Mitigations/Kernel Mode",
        "Microsoft-Windows-Security-Mitigations/User Mode",
    ),
    "diagnosis-scripted": ("Microsoft-Windows-Diagnosis-Scripted/Operational",),
    "shell-core": ("Microsoft-Windows-Shell-Core/Operational",),
    "openssh": ("OpenSSH/Operational",),
    "bitlocker": ("Microsoft-Windows-BitLocker/BitLocker Management",),
    "vhdmp": ("Microsoft-Windows-VHDMP/Operational",),
    "appxdeployment-server": ("Microsoft-Windows-AppXDeploymentServer/Operational",),
    "appxpackaging-om": ("Microsoft-Windows-AppxPackaging/Operational",),
    "appmodel-runtime": ("Microsoft-Windows-AppModel-Runtime/Admin",),
    "lsa-server": ("Microsoft-Windows-LSA/Operational",),
    "capi2": ("Microsoft-Windows-CAPI2/Operational",),
    "certificateservicesclient-lifecycle-system": (
        "Microsoft-Windows-CertificateServicesClient-Lifecycle-System/Operational",
    ),
    "iis-configuration": ("Microsoft-IIS-Configuration/Operational",),
    "kernel-shimengine": ("Microsoft-Windows-Kernel-ShimEngine/Operational",),
    "hyper-v-worker": ("Microsoft-Windows-Hyper-V-Worker",),
}

_ROUTES: dict[str, Route] = {}


def route_for(logsource: SigmaLogSource) -> Route | None:
    """The route of a rule's log source, or None when it has no Windows event log.

    Routes are shared objects: rules with the same log source get the same route, so the
    detector computes each route's mask once per batch.
    """
    if (logsource.product or "").lower() != "windows":
        return None
    category = (logsource.category or "").lower()
    service = (logsource.service or "").lower()
    if category:
        if category not in CATEGORIES:
            return None
        key, sources = f"windows/{category}", CATEGORIES[category]
    elif service:
        if service not in SERVICES:
            return None
        key, sources = f"windows/service/{service}", (Source(SERVICES[service]),)
    else:
        key, sources = "windows", (Source(()),)
    return _ROUTES.setdefault(key, Route(key, sources))
