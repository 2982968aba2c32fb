"""Scoring payments for an online service: one scorer per tenant, a decision log, replay.

`ScoringDesk` is what the HTTP routes (`mamori.api.scoring`) work with. Per tenant it holds
a `FraudScorer` with the tenant's production model (and shadow) from its registry,
``DATA_DIR/fraud-models/<tenant>/``, or no model at all ("rules-only": the analysts' rules
decide alone), behind a lock, so concurrent requests of one tenant are scored one after
another and each sees the payments before it.

- **Every decision is logged** (`DecisionLog`) with the transaction, the feature vector
  the model saw, the model version and the rule-set version. `replay(tenant, id)`
  re-decides the stored features with the stored model version (loaded from the
  registry) and the current rules, and says whether the decision is the same.
- **Duplicates** (an `event_id` already scored) answer the stored decision and change no
  state: a retried request is never counted twice.
- **Late payments** (older than the latest payment the tenant's scorer has seen) are
  scored as of their own time by `FraudScorer.score_one`, which inserts them in place in
  the windows; the answer marks them ``late``.
- **Labels**: `add_labels(tenant, labels)` feeds confirmed fraud (or not-fraud) of
  payments already scored to the tenant's scorer (`FraudScorer.add_labels`); a label
  counts only from its `known_at` (default: when it arrives), and is stored first.
- **Restart**: a tenant's scorer is rebuilt from the decision log (the payments of the
  last 90 days, the longest window) and its stored labels the first time the tenant
  scores after a start.

>>> import tempfile, datetime as dt, sqlalchemy as sa
>>> from pathlib import Path
>>> from mamori.store.migrations import upgrade
>>> folder = Path(tempfile.mkdtemp())
>>> engine = sa.create_engine(f"sqlite:///{folder}/d.db"); _ = upgrade(engine)
>>> desk = ScoringDesk(engine, folder / "fraud-models")
>>> t = dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC)
>>> out = [desk.score("bank-a", [{"event_id": f"e{i}", "time": t + dt.timedelta(minutes=i),
...     "card": "K1", "amount": 20.0, "currency": "EUR"}])[0] for i in range(6)]
>>> [(d["decision"], d["rules"], d["model_version"]) for d in out[-1:]]
[('review', ['card-burst'], 'rules-only')]
>>> again = desk.score("bank-a", [{"event_id": "e5", "time": t, "card": "K1", "amount": 1.0,
...     "currency": "EUR"}])[0]
>>> again["duplicate"], again["decision_id"] == out[-1]["decision_id"]
(True, True)
>>> desk.replay("bank-a", out[-1]["decision_id"])["same"]
True
>>> desk.close()
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import polars as pl
import sqlalchemy as sa

from mamori.detect.fraud.decision import decide
from mamori.detect.fraud.decision_log import DecisionLog
from mamori.detect.fraud.features import (
    FEATURES,
    LABELS,
    WINDOWS,
    OnlineFeatures,
    feature_columns,
)
from mamori.detect.fraud.model import FraudModel
from mamori.detect.fraud.registry import ModelRegistry
from mamori.detect.fraud.rules import DECISIONS, RuleSet
from mamori.detect.fraud.scorer import HISTORY_COLUMNS, FraudScorer
from mamori.events.schema import TRANSACTION, schema

__all__ = ["BATCH_AT_LEAST", "RULES_ONLY", "ScoringDesk", "decision_id_of"]

#: The model version of a decision made by the rules alone (no model in the registry).
RULES_ONLY = "rules-only"

_HORIZON_US = max(WINDOWS.values())  # the longest window: what a restart must replay
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SWEEP_EVERY = 100_000
#: The shortest in-order run scored with `score_batch`: each call has some 10 ms of frame
#: work, so shorter runs go one payment at a time (benchmarks/fraud_http.py --batch).
BATCH_AT_LEAST = 500


def decision_id_of(tenant: str, event_id: str) -> str:
    """The stable id of a tenant's decision on a payment (one decision per payment)."""
    digest = hashlib.sha256(f"{tenant}\x00{event_id}".encode()).hexdigest()
    return f"fd-{digest[:24]}"


def _epoch_us(value: datetime) -> int:
    return (value - _EPOCH) // timedelta(microseconds=1)


def _label_frame(event_ids: list[str], known_at_us: list[int], fraud: list[bool]
                 ) -> pl.DataFrame:
    """Labels as `FraudScorer.add_labels` takes them (the `LABELS` schema)."""
    return pl.DataFrame(
        {"event_id": event_ids, "known_at": pl.Series(known_at_us, dtype=pl.Int64),
         "fraud": fraud},
    ).with_columns(pl.col("known_at").cast(LABELS["known_at"]), pl.col("fraud").cast(pl.Int8))


def _rules_version(rules: RuleSet) -> str:
    return hashlib.sha256(repr(rules).encode()).hexdigest()[:16]


class _FeatureTap(OnlineFeatures):
    """The scorer's per-entity state, keeping the feature vector of the last payment (and,
    while `recording` is a list, of every payment counted in)."""

    last: list[float]
    recording: list[list[float]] | None = None

    def score_one(self, tx: Mapping[str, Any]) -> list[float]:
        self.last = super().score_one(tx)
        if self.recording is not None:
            self.recording.append(self.last)
        return self.last


class ServingScorer(FraudScorer):
    """A `FraudScorer` that hands back each payment's feature vector with its decision
    (for the decision log), scoring one payment at a time."""

    def __init__(self, model: FraudModel | None = None, rules: RuleSet | None = None,
                 shadow: FraudModel | None = None) -> None:
        super().__init__(model, rules, shadow)
        self._tap = _FeatureTap()
        self._online = self._tap

    def score_with_features(self, tx: Mapping[str, Any]) -> tuple[dict[str, Any], list[float]]:
        decision = self.score_one(tx)
        return decision, self._tap.last

    def score_batch_with_features(
        self, batch: pl.DataFrame
    ) -> tuple[list[dict[str, Any]], list[list[float]]]:
        """`score_batch` on a time-ordered frame at or after every payment scored: the
        decisions (dicts, as `score_one` gives) and the feature vectors, in frame order.
        The vectors are those of the per-entity state, which counts the batch in as it
        goes and gives the batch features' values (their parity is tested)."""
        history = self._history_frame()
        if not history["time"].is_sorted():  # late payments were appended at the end
            self._history = history.sort("time", maintain_order=True)
        self._tap.recording = []
        try:
            decisions = self.score_batch(batch).to_dicts()
            features = self._tap.recording
        finally:
            self._tap.recording = None
        return decisions, features

    def rebuild(self, history: pl.DataFrame) -> None:
        """Continue after the payments of `history` (time-ordered `HISTORY_COLUMNS`)."""
        self.load_state({"history": history})
        self._tap = _FeatureTap()
        for row in history.iter_rows(named=True):
            self._tap.score_one(row)
        self._online = self._tap


class _TenantScorer:
    """One tenant's scorer, its lock, the payments it has decided and its clock."""

    def __init__(self, scorer: ServingScorer) -> None:
        self.scorer = scorer
        self.lock = threading.Lock()
        self.seen: dict[str, tuple[str, int]] = {}  # event_id -> (decision_id, time_us)
        self.latest_us: int | None = None
        self.added = 0

    def forget_before(self, cut_us: int) -> None:
        self.seen = {e: v for e, v in self.seen.items() if v[1] > cut_us}


class ScoringDesk:
    """Per-tenant fraud scoring with a decision log (see the module text)."""

    def __init__(self, engine: sa.Engine, models_dir: Path, rules: RuleSet | None = None,
                 log: DecisionLog | None = None) -> None:
        self.models_dir = Path(models_dir)
        self.rules = rules if rules is not None else RuleSet.load()
        self.rules_version = _rules_version(self.rules)
        self.log = log if log is not None else DecisionLog(engine)
        self._fields = sorted(
            n for n in self.rules.names if n in TRANSACTION and n not in FEATURES
        )
        self._tenants: dict[str, _TenantScorer] = {}
        self._models: dict[tuple[str, str], FraudModel] = {}
        self._lock = threading.Lock()

    # --- tenants -------------------------------------------------------------------------

    def registry(self, tenant: str) -> ModelRegistry | None:
        """The tenant's model registry, if it has one."""
        root = self.models_dir / tenant
        return ModelRegistry(root) if (root / "registry.json").exists() else None

    def tenant(self, tenant: str) -> _TenantScorer:
        """The tenant's scorer, made (and rebuilt from the decision log) on first use."""
        found = self._tenants.get(tenant)
        if found is not None:
            return found
        with self._lock:
            found = self._tenants.get(tenant)
            if found is None:
                found = self._open(tenant)
                self._tenants[tenant] = found
        return found

    def _open(self, tenant: str) -> _TenantScorer:
        reg = self.registry(tenant)
        if reg is None:
            scorer = ServingScorer(rules=self.rules)
        else:
            prod, shadow = reg.production(), reg.shadow_version()
            scorer = ServingScorer(reg.load(prod) if prod else None, self.rules,
                                   reg.load(shadow) if shadow else None)
        state = _TenantScorer(scorer)
        latest = self.log.latest_time(tenant)
        if latest is not None:
            rows, times = [], []
            for decision_id, event_id, time_us, tx in self.log.since(tenant, latest - _HORIZON_US):
                state.seen[event_id] = (decision_id, time_us)
                rows.append(orjson.loads(tx))
                times.append(time_us)
            full = schema("transaction")
            history = pl.DataFrame(
                {c: [r.get(c) for r in rows] for c in HISTORY_COLUMNS if c != "time"},
                schema={c: full[c] for c in HISTORY_COLUMNS if c != "time"},
            ).with_columns(pl.Series("time", times, pl.Int64).cast(full["time"]))
            scorer.rebuild(history.select(HISTORY_COLUMNS))
            state.latest_us = latest
            stored = self.log.labels(tenant)
            if stored:
                scorer.add_labels(_label_frame(
                    [e for e, _, _ in stored], [k for _, k, _ in stored],
                    [f for _, _, f in stored]))
        return state

    def add_labels(self, tenant: str, labels: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Record confirmed labels (``event_id``, ``fraud`` and ``known_at``, an aware
        datetime or None for now) of the tenant's payments: stored, then fed to its scorer.
        Returns how many were received and how many named a payment the scorer still
        holds (the others are kept, but change no feature)."""
        now_us = time.time_ns() // 1000
        known = [now_us if r.get("known_at") is None else _epoch_us(r["known_at"])
                 for r in labels]
        rows = [{"tenant": tenant, "event_id": r["event_id"], "known_at_us": k,
                 "fraud": bool(r["fraud"]), "received_at_us": now_us}
                for r, k in zip(labels, known, strict=True)]
        state = self.tenant(tenant)
        with state.lock:
            self.log.add_labels(rows)
            matched = state.scorer.add_labels(_label_frame(
                [r["event_id"] for r in labels], known, [bool(r["fraud"]) for r in labels]))
        return {"received": len(rows), "matched": matched}

    def model_version(self, tenant: str) -> str:
        """The version deciding the tenant's payments ("rules-only" without a model)."""
        model = self.tenant(tenant).scorer.model
        return model.version if model is not None else RULES_ONLY

    # --- scoring -------------------------------------------------------------------------

    def score(self, tenant: str, payments: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Decisions for `payments` (dicts of `transaction` fields, `event_id` and `time` an
        aware datetime set), in the order given; each is logged. A payment already decided
        answers its stored decision with ``duplicate: true``. Of a batch, each run of
        payments in time order after the tenant's latest is scored at once
        (`FraudScorer.score_batch`, from `BATCH_AT_LEAST` payments on); a late payment is
        scored alone, as of its time."""
        state = self.tenant(tenant)
        out: list[dict[str, Any] | None] = []
        run: list[tuple[int, Mapping[str, Any]]] = []  # in time order, after the latest
        run_ids: set[str] = set()

        def flush() -> None:
            self.log.append(self._decide_run(tenant, state, run, out))  # before a repeat
            run.clear()
            run_ids.clear()

        with state.lock:
            for tx in payments:
                if tx["event_id"] in run_ids:  # sent twice in the batch: the first is decided
                    flush()
                known = state.seen.get(tx["event_id"])
                if known is not None or self._stored_long_ago(tenant, state, tx):
                    out.append(self._stored(tenant, state, tx["event_id"]))
                    continue
                at = _epoch_us(tx["time"])
                after = run[-1][1]["time"] if run else None
                if len(payments) > 1 and (after is None or tx["time"] >= after) and (
                    state.latest_us is None or at >= state.latest_us
                ):
                    run.append((len(out), tx))
                    run_ids.add(tx["event_id"])
                    out.append(None)
                    continue
                flush()
                decision, features = state.scorer.score_with_features(tx)
                answer, row = self._record(tenant, state, tx, decision, features)
                out.append(answer)
                self.log.append([row])
            flush()
        return [d for d in out if d is not None]

    def _decide_run(self, tenant: str, state: _TenantScorer,
                    run: Sequence[tuple[int, Mapping[str, Any]]],
                    out: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
        """Score an in-order run (with `score_batch` from `BATCH_AT_LEAST` payments on);
        answers go to their places in `out`."""
        if len(run) < BATCH_AT_LEAST:
            rows = []
            for place, tx in run:
                out[place], row = self._record(tenant, state, tx,
                                               *state.scorer.score_with_features(tx))
                rows.append(row)
            return rows
        full = schema("transaction")
        columns = sorted({*HISTORY_COLUMNS, *self._fields})
        frame = pl.DataFrame({c: [tx.get(c) for _, tx in run] for c in columns},
                             schema={c: full[c] for c in columns})
        decisions, features = state.scorer.score_batch_with_features(frame)
        rows = []
        for (place, tx), d, f in zip(run, decisions, features, strict=True):
            out[place], row = self._record(tenant, state, tx, d, f)
            rows.append(row)
        return rows

    def _stored_long_ago(self, tenant: str, state: _TenantScorer, tx: Mapping[str, Any]) -> bool:
        """Whether a payment older than the scorer's memory of event ids was decided."""
        if state.latest_us is None or _epoch_us(tx["time"]) > state.latest_us - _HORIZON_US:
            return False
        return self.log.find_event(tenant, tx["event_id"]) is not None

    def _stored(self, tenant: str, state: _TenantScorer, event_id: str) -> dict[str, Any]:
        row = self.log.find_event(tenant, event_id)
        if row is None:  # pragma: no cover - seen ids are logged in the same lock
            raise LookupError(f"decision on {event_id!r} missing from the log")
        return {**orjson.loads(row["result"]), "duplicate": True}

    def _record(
        self, tenant: str, state: _TenantScorer, tx: Mapping[str, Any], d: Mapping[str, Any],
        features: Sequence[float],
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The answer and the log row of a payment decided `d` on `features`."""
        at = _epoch_us(tx["time"])
        late = state.latest_us is not None and at < state.latest_us
        decision_id = decision_id_of(tenant, tx["event_id"])
        answer = {
            "decision_id": decision_id,
            "event_id": tx["event_id"],
            "time": tx["time"].astimezone(UTC).isoformat(),
            "decision": d["decision"],
            "score": d["score"],
            "model_score": d["model_score"],
            "anomaly_score": d["anomaly_score"],
            "reasons": d["reasons"],
            "rules": d["rules"],
            "model_version": d["model_version"] or RULES_ONLY,
            "rules_version": self.rules_version,
            "shadow_score": d["shadow_score"],
            "shadow_version": d["shadow_version"],
            "late": late,
            "duplicate": False,
        }
        state.seen[tx["event_id"]] = (decision_id, at)
        state.added += 1
        if state.latest_us is None or at > state.latest_us:
            state.latest_us = at
        if state.added % _SWEEP_EVERY == 0:  # ids older than the horizon: asked of the log
            state.forget_before(state.latest_us - _HORIZON_US)
        stored_tx = {k: (v.astimezone(UTC).isoformat() if k == "time" else v)
                     for k, v in tx.items()}
        row = {
            "decision_id": decision_id,
            "tenant": tenant,
            "event_id": tx["event_id"],
            "time_us": at,
            "scored_at_us": time.time_ns() // 1000,
            "decision": answer["decision"],
            "score": answer["score"],
            "model_version": answer["model_version"],
            "rules_version": self.rules_version,
            "late": late,
            "tx": orjson.dumps(stored_tx).decode(),
            "features": orjson.dumps(features).decode(),  # NaN is written as null
            "result": orjson.dumps(answer).decode(),
        }
        return answer, row

    # --- the log -------------------------------------------------------------------------

    def get(self, tenant: str, decision_id: str) -> dict[str, Any] | None:
        """A stored decision of `tenant` with the transaction and features it was made on."""
        row = self.log.get(tenant, decision_id)
        if row is None:
            return None
        return {
            **orjson.loads(row["result"]),
            "transaction": orjson.loads(row["tx"]),
            "features": dict(zip(FEATURES, orjson.loads(row["features"]), strict=True)),
            "scored_at": datetime.fromtimestamp(row["scored_at_us"] / 1e6, UTC).isoformat(),
        }

    def _model(self, tenant: str, version: str) -> FraudModel | None:
        if version == RULES_ONLY:
            return None
        key = (tenant, version)
        if key not in self._models:
            reg = self.registry(tenant)
            if reg is None:
                raise LookupError(f"the model {version!r} is not in the tenant's registry")
            self._models[key] = reg.load(version)
        return self._models[key]

    def replay(self, tenant: str, decision_id: str) -> dict[str, Any] | None:
        """Decide a stored payment again from its stored features, with its stored model
        version (from the registry) and the current rules; None if there is no such
        decision. ``same`` is whether decision, score and rules fired all match."""
        stored = self.get(tenant, decision_id)
        if stored is None:
            return None
        model = self._model(tenant, stored["model_version"])
        values = [stored["features"][f] for f in FEATURES]
        X = np.array([[math.nan if v is None else v for v in values]], dtype=np.float64)
        tx = stored["transaction"]
        fields = {c: np.array([tx.get(c)], dtype=object) for c in self._fields}
        d = decide(feature_columns(X), fields, model, self.rules)
        again: dict[str, Any] = {
            "decision": DECISIONS[int(d.decision[0])],
            "score": float(d.score[0]),
            "reasons": d.reasons_of(0),
            "rules": d.rules_fired(0),
            "model_version": d.model_version or RULES_ONLY,
            "rules_version": self.rules_version,
        }
        same = (
            again["decision"] == stored["decision"]
            and again["rules"] == stored["rules"]
            and math.isclose(again["score"], stored["score"], rel_tol=1e-9, abs_tol=1e-12)
        )
        return {
            "decision_id": decision_id,
            "stored": {k: stored[k] for k in again},
            "replayed": again,
            "same": same,
            "rules_changed": stored["rules_version"] != self.rules_version,
        }

    def close(self) -> None:
        """Commit every decision still waiting (a clean shutdown loses none)."""
        self.log.close()
