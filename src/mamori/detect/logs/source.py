"""What the log detectors share: the key of a log source, and the alert's entity columns.

A log *source* is one program on one host of one tenant (`SOURCE`): baselines of what a
source prints are kept per source, since an error that is routine for one program is news
from another. Alerts name the host (or, for logs that carry no host, the input they came
from) as their entity, so the incident builder groups them with other alerts on that host.
"""

from __future__ import annotations

import polars as pl

#: The columns that identify one log source.
SOURCE = ["tenant", "host", "app"]

#: Severities (lower case) that mean something went wrong.
SEVERE = (
    "emerg", "emergency", "panic", "alert", "crit", "critical", "fatal", "failure",
    "severe", "err", "error", "0", "1", "2", "3",
)  # fmt: skip


#: Severities (lower case) that mean a failure: a component crashed or stopped.
CRITICAL = (
    "emerg", "emergency", "panic", "alert", "crit", "critical", "fatal", "failure", "0", "1", "2",
)  # fmt: skip


def log_alert_columns() -> list[pl.Expr]:
    """Entity and stage columns of an alert on a log source."""
    return [
        pl.lit("host").alias("entity_type"),
        pl.coalesce("host", "source", pl.lit("unknown")).alias("entity_id"),
        pl.lit(None, pl.String).alias("stage"),
    ]
