"""SSH password guessing seen in sshd's own log lines (auth.log, /var/log/secure).

One attempt is one ``Failed <method> for [invalid user] USER from IP`` line, or, where a
host logs only through PAM (``sshd(pam_unix)``), one ``authentication failure … rhost=IP``
line (sshd writes both for one attempt, so only one of the two is counted). When one
address makes at least `min_failures` attempts on one host within `window`, the detector
raises one alert for that address and host per `cooldown` bucket, naming the number of
attempts and the accounts tried — a burst of hundreds of attempts is one or two alerts,
not hundreds. The alert's entity is the address and it names the host, so the incident
builder puts all alerts of one campaign against a host into one incident.

>>> from datetime import datetime, timedelta, UTC
>>> from mamori.events.schema import conform
>>> t0 = datetime(2026, 1, 5, tzinfo=UTC)
>>> lines = [f"Failed password for root from 203.0.113.9 port {4000 + i} ssh2" for i in range(30)]
>>> batch = conform(pl.DataFrame({"event_id": [f"e{i}" for i in range(30)],
...     "time": [t0 + timedelta(seconds=2 * i) for i in range(30)], "tenant": "bank-a",
...     "host": "bastion1", "app": "sshd", "message": lines}), "log")
>>> SshBruteForce().process(batch).select("entity_id", "related", "severity").rows()
[('203.0.113.9', ['host:bastion1'], 'high')]
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.base import Detector, Snapshot, make_alerts, once_per_bucket
from mamori.events.schema import TIME, empty_alerts

_FAILED = r"^Failed \S+ for (?:invalid user )?(\S*) from (\S+)"
_PAM = r"authentication failure;.*rhost=(\S+)(?:\s+user=(\S+))?"
_KEY = ["tenant", "host", "src_ip"]
_KEPT = {"tenant": pl.String(), "host": pl.String(), "src_ip": pl.String(),
         "user": pl.String(), "time": TIME, "event_id": pl.String()}  # fmt: skip


def failed_logins(batch: pl.DataFrame) -> pl.DataFrame:
    """The failed SSH logins of a `log` batch: tenant, host, src_ip, user, time, event_id."""
    failed = pl.col("message").str.extract_groups(_FAILED)
    pam = pl.col("message").str.extract_groups(_PAM)
    via_pam = pl.col("app").str.contains(r"\(pam").fill_null(False)
    return (
        batch.select(
            "tenant",
            "host",
            "time",
            "event_id",
            src_ip=pl.when(via_pam).then(pam.struct.field("1")).otherwise(failed.struct.field("2")),
            user=pl.when(via_pam).then(pam.struct.field("2")).otherwise(failed.struct.field("1")),
        )
        .filter(pl.col("src_ip").is_not_null())
        .select(list(_KEPT))
    )


class SshBruteForce(Detector):
    """Many failed SSH logins from one address against one host."""

    name: ClassVar[str] = "log-ssh-bruteforce"
    kinds: ClassVar[frozenset[str]] = frozenset({"log"})

    def __init__(
        self,
        min_failures: int = 10,
        window: timedelta = timedelta(minutes=10),
        cooldown: timedelta = timedelta(hours=1),
        max_recent: int = 1_000_000,
    ) -> None:
        self.min_failures, self.window, self.cooldown = min_failures, window, cooldown
        self.max_recent = max_recent
        self.recent = pl.DataFrame(schema=_KEPT)  # failures still inside the window
        self.fired = pl.DataFrame(schema={**{k: _KEPT[k] for k in _KEY}, "_bucket": TIME})

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        new = failed_logins(batch)
        if new.height == 0:
            return empty_alerts()
        both = pl.concat([self.recent.with_columns(_new=pl.lit(False)),
                          new.with_columns(_new=pl.lit(True))])  # fmt: skip
        period = f"{int(self.window.total_seconds() * 1_000_000)}us"
        counted = (
            both.with_row_index("_row")
            .sort([*_KEY, "time", "_row"], nulls_last=True)
            .with_columns(
                _failures=pl.len().rolling(index_column="time", period=period).over(_KEY),
                _users=pl.col("user").drop_nulls().unique(maintain_order=True).head(10)
                .implode()
                .over(_KEY),
                _ids=pl.col("event_id").tail(50).implode().over(_KEY),
            )
        )
        fires = counted.filter(pl.col("_new") & (pl.col("_failures") >= self.min_failures))
        latest = new["time"].max()
        self.recent = (
            both.filter(pl.col("time") > pl.lit(latest) - self.window)
            .drop("_new")
            .tail(self.max_recent)
        )
        if fires.height == 0:
            return empty_alerts()
        fires, self.fired = once_per_bucket(fires.sort("time"), _KEY, self.cooldown, self.fired)
        alerts = fires.select(
            "time",
            "tenant",
            "host",
            "_bucket",
            rule_id=pl.lit("log-ssh-bruteforce"),
            title=pl.lit("SSH password guessing against a host"),
            severity=pl.lit("high"),
            score=pl.lit(0.8),
            stage=pl.lit("credential_access"),
            attack=pl.lit(["T1110.001"], pl.List(pl.String)),
            entity_type=pl.lit("ip"),
            entity_id="src_ip",
            related=pl.concat_list(pl.lit("host:") + pl.col("host").fill_null("unknown")),
            event_ids="_ids",
            explanation=pl.format(
                "{} failed SSH logins from {} on {} within {} minutes; accounts tried: {}",
                pl.col("_failures"),
                pl.col("src_ip"),
                pl.col("host").fill_null("?"),
                pl.lit(int(self.window.total_seconds() // 60)),
                pl.col("_users").list.join(", "),
            ),
        )
        return make_alerts(alerts, self.name, ["tenant", "host", "entity_id", "_bucket"])

    def snapshot(self) -> Snapshot:
        return {"frames": {"recent": self.recent, "fired": self.fired}}

    def restore(self, state: Snapshot) -> None:
        self.recent, self.fired = state["frames"]["recent"], state["frames"]["fired"]
