"""Windows event builders with native field names (Sysmon and Security/System channels).

Shared by the background and the intrusion scenarios, so that benign and malicious events
look exactly alike apart from what they do.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import polars as pl

from mamori.simulate.frames import part

SYSMON = "Microsoft-Windows-Sysmon/Operational"
SYSMON_PROVIDER = "Microsoft-Windows-Sysmon"
SECURITY_PROVIDER = "Microsoft-Windows-Security-Auditing"
SCM_PROVIDER = "Service Control Manager"
SOURCE_SYSMON = "sim:sysmon"
SOURCE_EVENTLOG = "sim:wineventlog"


def image_hashes(images: pl.Series) -> pl.Series:
    """Sysmon `Hashes` for each Image: a fixed SHA256 per executable name.

    Hashing runs once per distinct image, not per event.
    """
    distinct = images.unique().drop_nulls().to_list()
    mapping = {
        image: "SHA256=" + hashlib.sha256(image.lower().rsplit("\\", 1)[-1].encode()).hexdigest()
        for image in distinct
    }
    return images.replace_strict(mapping, default=None, return_dtype=pl.String)


def process_creations(
    time: np.ndarray,
    computer: Any,
    user: Any,
    image: Any,
    parent: Any,
    command_line: Any,
    parent_command_line: Any = None,
) -> pl.DataFrame:
    """Sysmon EventID 1 (process creation)."""
    frame = part(
        "winlog",
        time,
        SOURCE_SYSMON,
        Channel=SYSMON,
        EventID=1,
        Provider_Name=SYSMON_PROVIDER,
        Computer=computer,
        User=user,
        Image=image,
        ParentImage=parent,
        CommandLine=command_line,
        ParentCommandLine=parent_command_line,
    )
    return frame.with_columns(Hashes=image_hashes(frame["Image"]))


def logons(
    time: np.ndarray,
    computer: Any,
    target_user: Any,
    logon_type: Any,
    ip: Any,
    workstation: Any,
    *,
    success: bool = True,
    subject_user: Any = "-",
) -> pl.DataFrame:
    """Security EventID 4624 (logon) or 4625 (failed logon)."""
    return part(
        "winlog",
        time,
        SOURCE_EVENTLOG,
        Channel="Security",
        EventID=4624 if success else 4625,
        Provider_Name=SECURITY_PROVIDER,
        Computer=computer,
        TargetUserName=target_user,
        SubjectUserName=subject_user,
        LogonType=logon_type,
        IpAddress=ip,
        WorkstationName=workstation,
    )


def service_installs(
    time: np.ndarray, computer: Any, service: Any, image_path: Any
) -> pl.DataFrame:
    """System EventID 7045 (a service was installed)."""
    return part(
        "winlog",
        time,
        SOURCE_EVENTLOG,
        Channel="System",
        EventID=7045,
        Provider_Name=SCM_PROVIDER,
        Computer=computer,
        ServiceName=service,
        ImagePath=image_path,
    )
