"""Offline analyst: time to triage one incident of 200 alerts: the triage alone, and the
whole `mamori triage` path (read the incident from the store, triage through the gateway,
write the audit records) on SQLite.

Run: POLARS_MAX_THREADS=1 .venv/bin/python benchmarks/offline_triage.py [--alerts 200]
Prints JSON: median and worst of 20 runs after one warm-up, in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from mamori.analyst.evidence import Evidence, gather_evidence
from mamori.analyst.gateway import Gateway
from mamori.analyst.offline import offline_triage
from mamori.analyst.samples import big_incident_alerts
from mamori.engine.incidents import build_incidents
from mamori.govern.audit import AuditLog
from mamori.govern.policy import EXAMPLE_POLICY, TrustPolicy
from mamori.store.sql import OperationalStore


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    alerts = big_incident_alerts(args.alerts)
    incidents, links = build_incidents(alerts)
    evidence = Evidence(incidents.row(0, named=True), alerts)
    offline_triage(evidence)  # warm-up
    times = []
    for _ in range(args.runs):
        began = time.perf_counter()
        triage = offline_triage(evidence)
        times.append((time.perf_counter() - began) * 1000)
    url = f"sqlite:///{tempfile.mkdtemp()}/mamori.db"
    store = OperationalStore(url)
    store.add_alerts(alerts)
    store.replace_incidents("bank-a", incidents, links)
    gateway = Gateway(TrustPolicy.from_toml_text(EXAMPLE_POLICY), AuditLog(url), source=store)
    incident_id = incidents["incident_id"][0]
    end_to_end = []
    for _ in range(args.runs):
        began = time.perf_counter()
        gateway.triage(gather_evidence(store, "bank-a", incident_id), actor="b", role="analyst")
        end_to_end.append((time.perf_counter() - began) * 1000)
    print(
        json.dumps(
            {
                "alerts": args.alerts,
                "incidents": incidents.height,
                "verdict": triage.verdict,
                "median_ms": round(statistics.median(times), 2),
                "worst_ms": round(max(times), 2),
                "with_store_gateway_and_audit_median_ms": round(statistics.median(end_to_end), 2),
                "with_store_gateway_and_audit_worst_ms": round(max(end_to_end), 2),
            }
        )
    )


if __name__ == "__main__":
    main()
