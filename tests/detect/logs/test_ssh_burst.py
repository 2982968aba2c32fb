"""The OpenSSH sample's real brute-force burst: hundreds of failed logins, a handful of
alerts, one incident."""

import polars as pl

from mamori.detect.logs import SshBruteForce
from mamori.detect.logs.ssh import failed_logins
from mamori.engine.pipeline import Pipeline, default_detectors
from mamori.events.loghub import read_loghub
from tests.conftest import batch

BURST = "183.62.140.253"


def test_the_burst_is_one_incident_not_hundreds_of_alerts(data_root):
    events = read_loghub(data_root / "logs" / "loghub" / "OpenSSH_2k.log", year=2017).events
    failures = failed_logins(events)
    assert failures.filter(pl.col("src_ip") == BURST).height == 286  # one per attempt

    pipeline = Pipeline(default_detectors(), batch_rows=250)
    pipeline.run([events])
    alerts = pipeline.alerts()
    burst = alerts.filter(pl.col("entity_id") == BURST)
    assert burst["detector"].to_list() == ["log-ssh-bruteforce"] * 2  # one per hour bucket
    assert alerts.height < 30

    incidents, members = pipeline.incidents()
    holding = members.join(burst.select("alert_id"), on="alert_id")["incident_id"].unique()
    assert holding.len() == 1
    incident = incidents.filter(pl.col("incident_id") == holding[0]).row(0, named=True)
    assert incident["level"] >= 3 and "credential_access" in incident["stages"]
    assert f"ip:{BURST}" in incident["entities"] and "host:LabSZ" in incident["entities"]
    assert incidents.height == 1  # every guessing source on LabSZ that day, together


def guesses(ip, count, seconds_apart, host="bastion1", user="root"):
    return batch(
        "log",
        [
            {
                "minute": i * seconds_apart / 60,
                "host": host,
                "app": "sshd",
                "message": f"Failed password for {user} from {ip} port {40000 + i} ssh2",
            }
            for i in range(count)
        ],
    )


def test_a_user_mistyping_now_and_then_is_not_guessing():
    # 12 failures, but one every 5 minutes: never 10 inside 10 minutes
    assert SshBruteForce().process(guesses("198.51.100.7", 12, 300)).height == 0


def test_pam_and_sshd_lines_of_one_attempt_count_once():
    pam = batch(
        "log",
        [
            {
                "minute": i / 60,
                "host": "combo",
                "app": "sshd(pam_unix)",
                "message": "authentication failure; logname= uid=0 euid=0 tty=NODEVssh "
                f"ruser= rhost=218.188.2.4  user=root{i}",
            }
            for i in range(9)
        ],
    )
    sshd_view = batch(
        "log",
        [
            {
                "minute": i / 60,
                "host": "combo",
                "app": "sshd",
                "message": "pam_unix(sshd:auth): authentication failure; logname= uid=0 "
                "euid=0 tty=ssh ruser= rhost=218.188.2.4  user=root",
            }
            for i in range(9)
        ],
    )
    assert failed_logins(pam).height == 9 and failed_logins(sshd_view).height == 0


def test_guessing_split_across_batches_is_seen_and_reported_once():
    detector = SshBruteForce()
    whole = guesses("203.0.113.50", 40, 5)
    first = detector.process(whole.head(6))
    rest = detector.process(whole.slice(6))
    assert first.height == 0 and rest.height == 1
    assert rest["explanation"][0].startswith("10 failed SSH logins from 203.0.113.50")
