"""Brute force on logins: guessing one account's password, and spraying one password across
many accounts, from one source address.

Two shapes, each over a true sliding window of `auth` login attempts:

* **guessing** (`NET-BRUTE-GUESS`): at least `min_failures` failed logins for one account from
  one address within `guess_window` (10 minutes). When the attempt that completes the
  pattern is a *success*, the alert says the guessing worked (`NET-BRUTE-SUCCESS`, high).
* **spraying** (`NET-BRUTE-SPRAY`): failures for at least `min_accounts` distinct accounts from
  one address within `spray_window` (1 hour), with few failures per account (at most
  `max_per_account` on average: one password tried everywhere, not one account hammered),
  and failures making at least `min_failure_share` of that address's attempts. The share
  keeps a busy NAT or VPN gateway, where many people mistype once among thousands of good
  logins, quiet.

The spine's rule MR-AUTH-001 (10 failures for 5 accounts from one /24 in 10 minutes)
already covers fast credential stuffing; spraying here is the slow version it misses.

State: the last `spray_window` of attempts from addresses that failed at least once in it
(capped at `max_tail`, oldest evicted and counted), and the fired buckets.

>>> from tests.conftest import batch
>>> tries = [{"user": f"u{i}", "src_ip": "198.51.100.9", "action": "login",
...           "outcome": "failure", "minute": 2 * i} for i in range(20)]
>>> BruteForce().process(batch("auth", tries))["rule_id"].to_list()
['NET-BRUTE-SPRAY']
"""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

import polars as pl

from mamori.detect.network.state import NetworkDetector
from mamori.events.schema import empty_alerts

_SOURCE = ["tenant", "src_ip"]
_ACCOUNT = ["tenant", "src_ip", "user"]
_FAILED = pl.col("outcome") == "failure"


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _period(delta: timedelta) -> str:
    return f"{int(delta.total_seconds() * 1_000_000)}us"


class BruteForce(NetworkDetector):
    """Password guessing against one account and password spraying across accounts."""

    name: ClassVar[str] = "brute-force"
    kinds: ClassVar[frozenset[str]] = frozenset({"auth"})

    def __init__(
        self,
        guess_window: timedelta = timedelta(minutes=10),
        min_failures: int = 10,
        spray_window: timedelta = timedelta(hours=1),
        min_accounts: int = 15,
        max_per_account: float = 3.0,
        min_failure_share: float = 0.8,
        cooldown: timedelta = timedelta(hours=1),
    ) -> None:
        super().__init__()
        self.guess_window, self.min_failures = guess_window, min_failures
        self.spray_window, self.min_accounts = spray_window, min_accounts
        self.max_per_account, self.min_failure_share = max_per_account, min_failure_share
        self.cooldown_every = cooldown

    def process(self, batch: pl.DataFrame) -> pl.DataFrame:
        if batch.height == 0:
            return empty_alerts()
        attempts = batch.filter(
            pl.col("src_ip").is_not_null()
            & pl.col("user").is_not_null()
            & pl.col("outcome").is_in(["success", "failure"])
            & (pl.col("action").is_null() | (pl.col("action") == "login"))
        ).select("time", "event_id", *_ACCOUNT, "outcome", "app")
        tail = self.frames.get("tail")
        rows = attempts.with_columns(_new=pl.lit(True))
        if tail is not None:
            rows = pl.concat([tail, rows], how="vertical_relaxed")
        rows = rows.join(
            rows.filter(_FAILED).select(_SOURCE).unique(), on=_SOURCE, how="semi"
        ).sort("time", maintain_order=True)
        if attempts.height:
            end = attempts["time"].max()
            self.keep(
                "tail",
                rows.filter(pl.col("time") > pl.lit(end) - self.spray_window).with_columns(
                    _new=pl.lit(False)
                ),
                self.max_tail,
            )
        found = [a for a in (self._guessing(rows), self._spraying(rows)) if a.height]
        return pl.concat(found) if found else empty_alerts()

    def _guessing(self, rows: pl.DataFrame) -> pl.DataFrame:
        busy = (
            rows.group_by(_ACCOUNT)
            .agg(_f=_FAILED.sum(), _any=pl.col("_new").any())
            .filter((pl.col("_f") >= self.min_failures) & pl.col("_any"))
        )
        cand = rows.join(busy.select(_ACCOUNT), on=_ACCOUNT, how="semi")
        if cand.height == 0:
            return empty_alerts()
        rolled = cand.rolling(
            index_column="time", period=_period(self.guess_window), group_by=_ACCOUNT
        ).agg(
            _failures=_FAILED.sum(),
            _succeeded=(pl.col("outcome").last() == "success"),
            _new=pl.col("_new").last(),
            event_ids=pl.col("event_id").tail(50),
            _app=pl.col("app").drop_nulls().last(),
        )
        fires = rolled.filter(pl.col("_new") & (pl.col("_failures") >= self.min_failures))
        won = pl.col("_succeeded")
        fires = fires.with_columns(
            _rule=pl.when(won)
            .then(pl.lit("NET-BRUTE-SUCCESS"))
            .otherwise(pl.lit("NET-BRUTE-GUESS"))
        )
        fires = self.cooldown(fires, [*_ACCOUNT, "_rule"], self.cooldown_every, "guess")
        return self.alerts(
            fires,
            rule_id=pl.col("_rule"),
            title=pl.when(won)
            .then(pl.lit("Password guessing on one account, then a successful login"))
            .otherwise(pl.lit("Password guessing on one account")),
            severity=pl.when(won).then(pl.lit("high")).otherwise(pl.lit("medium")),
            score=pl.when(won).then(0.8).otherwise(0.5),
            stage="credential_access",
            attack=["T1110.001"],
            entity_type="ip",
            entity=pl.col("src_ip"),
            related=[pl.lit("user:") + pl.col("user")],
            explanation=pl.format(
                "{} failed logins for {} from {} within {}m (≥ {}){}",
                pl.col("_failures"),
                pl.col("user"),
                pl.col("src_ip"),
                pl.lit(_minutes(self.guess_window)),
                pl.lit(self.min_failures),
                pl.when(won).then(pl.lit(", then a successful login")).otherwise(pl.lit("")),
            ),
            key=["user", "_bucket"],
        )

    def _spraying(self, rows: pl.DataFrame) -> pl.DataFrame:
        busy = (
            rows.group_by(_SOURCE)
            .agg(_u=pl.col("user").filter(_FAILED).n_unique(), _any=pl.col("_new").any())
            .filter((pl.col("_u") >= self.min_accounts) & pl.col("_any"))
        )
        cand = rows.join(busy.select(_SOURCE), on=_SOURCE, how="semi")
        if cand.height == 0:
            return empty_alerts()
        rolled = cand.rolling(
            index_column="time", period=_period(self.spray_window), group_by=_SOURCE
        ).agg(
            _accounts=pl.col("user").filter(_FAILED).n_unique(),
            _failures=_FAILED.sum(),
            _attempts=pl.len(),
            _won=pl.col("user").filter(~_FAILED).n_unique(),
            _new=pl.col("_new").last(),
            event_ids=pl.col("event_id").tail(50),
        )
        fires = rolled.filter(
            pl.col("_new")
            & (pl.col("_accounts") >= self.min_accounts)
            & (pl.col("_failures") <= self.max_per_account * pl.col("_accounts"))
            & (pl.col("_failures") >= self.min_failure_share * pl.col("_attempts"))
        )
        fires = self.cooldown(fires, _SOURCE, self.cooldown_every, "spray")
        won = pl.col("_won") > 0
        return self.alerts(
            fires,
            rule_id="NET-BRUTE-SPRAY",
            title=pl.when(won)
            .then(pl.lit("Password spraying across accounts, with successful logins"))
            .otherwise(pl.lit("Password spraying across accounts")),
            severity=pl.when(won).then(pl.lit("high")).otherwise(pl.lit("medium")),
            score=pl.when(won).then(0.8).otherwise(0.55),
            stage="credential_access",
            attack=["T1110.003"],
            entity_type="ip",
            entity=pl.col("src_ip"),
            explanation=pl.format(
                "failed logins for {} distinct accounts from {} within {}m (≥ {}), {} failures "
                "of {} attempts, {} account(s) logged in",
                pl.col("_accounts"),
                pl.col("src_ip"),
                pl.lit(_minutes(self.spray_window)),
                pl.lit(self.min_accounts),
                pl.col("_failures"),
                pl.col("_attempts"),
                pl.col("_won"),
            ),
        )
