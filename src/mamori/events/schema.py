"""The event model: one declared schema per stream kind, and the alert schema.

A batch is a Polars DataFrame of one kind. Every kind starts with the envelope columns
(`event_id`, `time`, `tenant`, `source`, `kind`) and then its own columns. Columns a record
does not carry are null. The `winlog` kind is open: Windows and Sysmon fields keep their
native names so Sigma rules apply unchanged, and fields not declared here are kept as
extra string columns.

>>> sorted(KINDS)
['auth', 'flow', 'log', 'transaction', 'winlog']
>>> conform(pl.DataFrame({"time": [0], "tenant": ["bank-a"]}), "flow").width
19
"""

from __future__ import annotations

import polars as pl

TIME = pl.Datetime("us", "UTC")

ENVELOPE: dict[str, pl.DataType] = {
    "event_id": pl.String(),
    "time": TIME,
    "tenant": pl.String(),
    "source": pl.String(),
    "kind": pl.String(),
}

TRANSACTION: dict[str, pl.DataType] = {
    "account": pl.String(),  # the bank's own account the money moves on
    "customer": pl.String(),
    "card": pl.String(),
    "counterparty": pl.String(),  # the other account (payee, payer, merchant account)
    "amount": pl.Float64(),  # always positive; `direction` says which way
    "currency": pl.String(),  # ISO 4217
    "direction": pl.String(),  # debit (money out of `account`) or credit (money in)
    "channel": pl.String(),  # card_present, card_not_present, atm, online, branch, swift, ...
    "status": pl.String(),  # approved or declined
    "merchant": pl.String(),
    "mcc": pl.String(),  # merchant category code
    "terminal": pl.String(),  # card terminal, ATM, or the gateway host that sent a message
    "country": pl.String(),  # ISO 3166 alpha-2
    "device": pl.String(),
    "ip": pl.String(),
}

FLOW: dict[str, pl.DataType] = {
    "src_ip": pl.String(),
    "src_port": pl.Int32(),
    "dst_ip": pl.String(),
    "dst_port": pl.Int32(),
    "protocol": pl.String(),  # tcp, udp, icmp
    "service": pl.String(),  # https, dns, smb, ...
    "bytes_out": pl.Int64(),  # from source to destination
    "bytes_in": pl.Int64(),
    "packets": pl.Int64(),
    "duration": pl.Float64(),  # seconds
    "state": pl.String(),  # connection state (established, rejected, reset, ...)
    "src_host": pl.String(),  # the asset name, where the source is one of the bank's hosts
    "dst_host": pl.String(),
    "query": pl.String(),  # the DNS name asked, or the HTTP host/URL, where the flow carries one
}

AUTH: dict[str, pl.DataType] = {
    "user": pl.String(),  # the login name: a customer id or an employee account
    "target": pl.String(),  # what the action touched: a payee added, a customer record viewed
    "app": pl.String(),  # online_banking, mobile_banking, vpn, active_directory, core_banking
    "action": pl.String(),  # login, logout, add_payee, password_change, view_record, ...
    "outcome": pl.String(),  # success or failure
    "reason": pl.String(),
    "src_ip": pl.String(),
    "device": pl.String(),
    "host": pl.String(),
    "country": pl.String(),
    "user_agent": pl.String(),
}

WINLOG: dict[str, pl.DataType] = {
    "Channel": pl.String(),
    "EventID": pl.Int32(),
    "Provider_Name": pl.String(),
    "Computer": pl.String(),
    "EventRecordID": pl.Int64(),
    "User": pl.String(),
    "Image": pl.String(),
    "CommandLine": pl.String(),
    "ParentImage": pl.String(),
    "ParentCommandLine": pl.String(),
    "TargetImage": pl.String(),
    "GrantedAccess": pl.String(),
    "TargetFilename": pl.String(),
    "TargetUserName": pl.String(),
    "SubjectUserName": pl.String(),
    "LogonType": pl.Int32(),
    "IpAddress": pl.String(),
    "WorkstationName": pl.String(),
    "ServiceName": pl.String(),
    "ImagePath": pl.String(),
    "DestinationIp": pl.String(),
    "DestinationPort": pl.Int32(),
    "Hashes": pl.String(),
}

LOG: dict[str, pl.DataType] = {
    "host": pl.String(),
    "app": pl.String(),
    "pid": pl.Int64(),
    "severity": pl.String(),
    "message": pl.String(),  # the raw line
    "template": pl.String(),  # the mined template, when known
    "template_id": pl.String(),
}

KINDS: dict[str, dict[str, pl.DataType]] = {
    "transaction": TRANSACTION,
    "flow": FLOW,
    "auth": AUTH,
    "winlog": WINLOG,
    "log": LOG,
}

#: Kinds whose batches may carry columns beyond the declared ones.
OPEN_KINDS = frozenset({"winlog"})

#: Which columns of each kind name an entity, and the entity type they name. Detectors and
#: the incident builder use it to link alerts on the same customer, card, device or host.
ENTITY_COLUMNS: dict[str, dict[str, str]] = {
    "transaction": {
        "customer": "customer",
        "account": "account",
        "card": "card",
        "device": "device",
        "ip": "ip",
    },
    "auth": {"user": "user", "device": "device", "src_ip": "ip", "host": "host"},
    "flow": {"src_ip": "ip", "dst_ip": "ip"},
    "winlog": {"Computer": "host", "TargetUserName": "user", "IpAddress": "ip"},
    "log": {"host": "host"},
}


def schema(kind: str) -> dict[str, pl.DataType]:
    """The full column schema (envelope first) of a stream kind."""
    try:
        own = KINDS[kind]
    except KeyError:
        raise ValueError(
            f"unknown stream kind {kind!r}; known: {', '.join(sorted(KINDS))}"
        ) from None
    return {**ENVELOPE, **own}


def empty(kind: str) -> pl.DataFrame:
    """An empty batch of a kind, with every declared column."""
    return pl.DataFrame(schema=schema(kind))


def conform(batch: pl.DataFrame, kind: str) -> pl.DataFrame:
    """Cast a batch to a kind's schema: declared columns in order, missing ones null.

    Extra columns are dropped, except for open kinds (`winlog`), where they are kept as
    strings after the declared ones. `kind` is filled in; casts are strict, so a value
    that does not fit its type raises instead of silently becoming null (readers validate
    first and quarantine what does not fit).
    """
    declared = schema(kind)
    cols = []
    for name, dtype in declared.items():
        if name == "kind":
            cols.append(pl.lit(kind, pl.String()).alias("kind"))
        elif name in batch.columns:
            cols.append(pl.col(name).cast(dtype, strict=True))
        else:
            cols.append(pl.lit(None, dtype).alias(name))
    if kind in OPEN_KINDS:
        extra = [c for c in batch.columns if c not in declared]
        cols.extend(pl.col(c).cast(pl.String()) for c in extra)
    return batch.select(cols)


# --- alerts -------------------------------------------------------------------------------

SEVERITIES = ("informational", "low", "medium", "high", "critical")

ALERT: dict[str, pl.DataType] = {
    "alert_id": pl.String(),  # stable: same detector, rule and evidence give the same id
    "time": TIME,  # time of the (last) event that made the alert fire
    "tenant": pl.String(),
    "detector": pl.String(),
    "rule_id": pl.String(),
    "title": pl.String(),
    "severity": pl.String(),  # one of SEVERITIES
    "score": pl.Float64(),  # 0-1
    "entity_type": pl.String(),
    "entity_id": pl.String(),
    "related": pl.List(pl.String()),  # other entities the evidence names, as "type:id"
    "stage": pl.String(),  # kill-chain or fraud stage (see mamori.engine.stages)
    "attack": pl.List(pl.String()),  # ATT&CK technique ids
    "event_ids": pl.List(pl.String()),
    "explanation": pl.String(),  # what matched, or the top feature contributions
}


def empty_alerts() -> pl.DataFrame:
    """An empty alerts frame."""
    return pl.DataFrame(schema=ALERT)


def conform_alerts(alerts: pl.DataFrame) -> pl.DataFrame:
    """Cast an alerts frame to the alert schema, checking severity and score."""
    missing = [
        c for c in ("alert_id", "time", "tenant", "detector", "rule_id") if c not in alerts.columns
    ]
    if missing:
        raise ValueError(f"alerts frame lacks required columns: {missing}")
    out = alerts.select(
        pl.col(c).cast(t) if c in alerts.columns else pl.lit(None, t).alias(c)
        for c, t in ALERT.items()
    )
    bad = out.filter(~pl.col("severity").is_in(SEVERITIES) | ~pl.col("score").is_between(0.0, 1.0))
    if bad.height:
        row = bad.row(0, named=True)
        raise ValueError(
            f"alert {row['alert_id']} from {row['detector']}: severity {row['severity']!r} "
            f"or score {row['score']!r} out of range"
        )
    return out


# --- incidents ----------------------------------------------------------------------------

INCIDENT: dict[str, pl.DataType] = {
    "incident_id": pl.String(),  # stable: from the tenant and the incident's first alert
    "tenant": pl.String(),
    "first_seen": TIME,
    "last_seen": TIME,
    "raised_at": TIME,  # when the risk first reached the raise level (null: watch list)
    "title": pl.String(),
    "risk": pl.Int64(),  # 0-100
    "level": pl.Int64(),  # early-warning level, 1 normal … 5 critical
    "status": pl.String(),  # open by default
    "stages": pl.List(pl.String()),  # kill-chain and fraud stages, in the order first seen
    "entities": pl.List(pl.String()),  # "type:id"
    "reasons": pl.List(pl.String()),  # why the risk is what it is
    "alert_count": pl.Int64(),
    "detectors": pl.List(pl.String()),
    "updated_at": TIME,
}

#: Which alerts make up which incident.
INCIDENT_LINK: dict[str, pl.DataType] = {"incident_id": pl.String(), "alert_id": pl.String()}
