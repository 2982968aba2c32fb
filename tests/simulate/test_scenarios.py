"""Each attack scenario does what its description says, in numbers."""

from __future__ import annotations

import polars as pl
import pytest

KINDS = ("transaction", "flow", "auth", "winlog")


def _instances(run, scenario: str) -> list[dict[str, pl.DataFrame]]:
    """For each instance of a scenario, its malicious events by kind."""
    out = []
    for row in run.truth.filter(pl.col("scenario") == scenario).iter_rows(named=True):
        ids = pl.Series(row["event_ids"]).implode()
        out.append({k: run.events(k).filter(pl.col("event_id").is_in(ids)) for k in KINDS})
    assert out
    return out


@pytest.fixture(scope="module")
def background(two_banks) -> dict[str, pl.DataFrame]:
    ids = two_banks.truth["event_ids"].explode().implode()
    return {k: two_banks.events(k).filter(~pl.col("event_id").is_in(ids)) for k in KINDS}


def test_account_takeover(two_banks, background):
    for ev in _instances(two_banks, "account_takeover"):
        logins = ev["auth"].filter(pl.col("action") == "login")
        assert 300 <= logins.height <= 1000
        assert logins["src_ip"].n_unique() <= 20
        assert logins["src_ip"].str.replace(r"\.\d+$", "").n_unique() <= 2  # one or two /24s
        wins = logins.filter(pl.col("outcome") == "success")
        assert 1 <= wins.height <= 3
        assert set(logins["reason"].drop_nulls()) == {"bad_password", "unknown_user"}
        payees = ev["auth"].filter(pl.col("action") == "add_payee")
        transfers = ev["transaction"]
        assert set(payees["user"]) == set(wins["user"]) == set(transfers["customer"])
        assert set(payees["target"]) == set(transfers["counterparty"])
        assert transfers["amount"].min() >= 3000
        known = background["auth"].filter(pl.col("user").is_in(wins["user"].implode()))
        assert set(transfers["device"]).isdisjoint(set(known["device"]))
        paid = transfers.join(payees, left_on="customer", right_on="user")
        gap = (paid["time"] - paid["time_right"]).dt.total_minutes()
        assert gap.is_between(2, 30).all()


def test_card_fraud(two_banks):
    for ev in _instances(two_banks, "card_fraud"):
        tx = ev["transaction"].sort("time")
        assert (tx["channel"] == "card_not_present").all()
        assert 1 <= tx["card"].n_unique() <= 2
        small = tx.filter(pl.col("amount") <= 2.0)
        large = tx.filter(pl.col("amount") >= 200)
        assert small.height + large.height == tx.height
        assert 10 * tx["card"].n_unique() <= small.height <= 30 * tx["card"].n_unique()
        assert (small["status"] == "declined").sum() >= small.height // 4
        assert small["merchant"].n_unique() >= 3
        assert large["time"].min() > small["time"].max()
        assert set(large["mcc"]) <= {"5732", "5999", "5947"}
        assert tx["country"].n_unique() == 1 and tx["country"][0] != "JP"


def test_mule_ring(two_banks):
    for ev in _instances(two_banks, "mule_ring"):
        tx = ev["transaction"]
        mules = tx["customer"].n_unique()
        assert 5 <= mules <= 10
        credits = tx.filter(pl.col("direction") == "credit")
        per_mule = credits.group_by("customer").agg(
            pl.len(), pl.col("counterparty").n_unique().alias("payers"), pl.col("amount").sum()
        )
        assert per_mule["len"].is_between(10, 40).all()
        assert (per_mule["payers"] == per_mule["len"]).all()
        onward = tx.filter(pl.col("channel") == "online")
        assert 1 <= onward["counterparty"].n_unique() <= 3
        assert onward["device"].n_unique() <= 3
        sent = onward.group_by("customer").agg(pl.col("amount").sum().alias("sent"))
        ratio = per_mule.join(sent, on="customer").select(pl.col("sent") / pl.col("amount"))
        assert ratio.to_series().is_between(0.79, 0.96).all()


def test_heist_intrusion(two_banks):
    for ev in _instances(two_banks, "heist_intrusion"):
        win = ev["winlog"]
        cmd = win["CommandLine"].drop_nulls()
        assert cmd.str.contains(r"powershell\.exe -nop -w hidden -enc ").any()
        assert (
            win.filter(pl.col("EventID") == 1, pl.col("Image").str.ends_with("WINWORD.EXE"))[
                "ParentImage"
            ]
            .str.ends_with("OUTLOOK.EXE")
            .all()
        )
        lsass = win.filter(pl.col("EventID") == 10)
        assert lsass["TargetImage"].str.ends_with("lsass.exe").all() and lsass.height == 1
        lateral = win.filter(pl.col("EventID") == 4624, pl.col("LogonType") == 3)
        assert set(lateral["Computer"]) == {"DC01", "CORE01", "PAYGW01"}
        assert set(win.filter(pl.col("EventID") == 7045)["ServiceName"]) == {"PSEXESVC"}
        assert (win["EventID"] == 1102).sum() == 1
        assert cmd.str.contains("wevtutil cl").any()
        swift = ev["transaction"]
        assert 3 <= swift.height <= 8
        assert (swift["channel"] == "swift").all() and (swift["customer"] == "BANK-NOSTRO").all()
        assert swift["amount"].is_between(5e5, 2e7).all()
        assert (swift["time"].dt.hour() >= 20).all()
        beacons = ev["flow"].filter(
            pl.col("dst_port") == 443, pl.col("src_host").str.starts_with("WS")
        )
        gaps = beacons["time"].diff().drop_nulls().dt.total_seconds()
        assert beacons.height >= 10 and gaps.std() < 0.1 * gaps.mean()
        assert set(ev["flow"].filter(pl.col("dst_port") == 445)["dst_host"]) == {
            "DC01",
            "CORE01",
            "PAYGW01",
        }


def test_exfiltration(two_banks, background):
    for ev in _instances(two_banks, "exfiltration"):
        flows = ev["flow"]
        assert flows["dst_ip"].n_unique() == 1 and flows["src_host"].n_unique() == 1
        assert 0.5e9 <= flows["bytes_out"].sum() <= 5e9
        assert (flows["time"].dt.hour() < 5).all()
        assert set(flows["dst_port"]) <= {443, 22}
        assert flows["dst_ip"][0] not in set(background["flow"]["dst_ip"])


def test_ddos(two_banks):
    for ev in _instances(two_banks, "ddos"):
        flows = ev["flow"]
        assert 20_000 <= flows.height <= 100_000
        assert 500 <= flows["src_ip"].n_unique() <= 5000
        assert flows["dst_host"].eq("WEB01").all() and flows["dst_port"].eq(443).all()
        span = (flows["time"].max() - flows["time"].min()).total_seconds()
        assert span <= 600
        assert (flows["state"] != "established").mean() > 0.8


def test_insider(two_banks, background):
    for ev in _instances(two_banks, "insider"):
        views = ev["auth"].filter(pl.col("action") == "view_record")
        assert views["user"].n_unique() == 1
        assert 200 <= views["target"].n_unique() <= 800
        hours = views["time"].dt.hour()
        assert ((hours >= 21) | (hours < 3)).all()
        daytime = background["auth"].filter(pl.col("action") == "view_record")["time"].dt.hour()
        assert daytime.is_between(9, 16).all()
