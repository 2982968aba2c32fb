"""Fraud scoring over HTTP: one payment or a batch in, decisions with reasons out.

``POST /v1/score/transaction`` scores one payment (a JSON object with the `transaction`
fields), ``POST /v1/score/transactions`` a batch (a JSON array, or JSON lines with
``Content-Type: application/x-ndjson``; at most `MAX_BATCH`). The tenant is the caller's,
never the body's: a body naming a tenant (or any field not listed) is refused. A request
that does not validate (a missing field, a negative or non-numeric amount, an unknown ISO
4217 currency, a timestamp without a UTC offset or out of range, a body over the limit)
gets 422 with every field error, and nothing of it is scored or stored: a batch is
validated whole before its first payment is scored.

The answer is the decision (approve, review, decline) with the score, reasons, rules
fired, model version ("rules-only" where the tenant has no model), the shadow model's
score, ``late`` and ``duplicate``, and the ``decision_id`` under which it is stored:
``GET /v1/score/decisions/{id}`` shows it with its inputs, ``POST …/{id}/replay``
decides it again with the stored model version. ``POST /v1/score/labels`` takes confirmed
fraud feedback (``[{"event_id", "fraud", "known_at"?}]``), stored and counted in the
risk features from each label's ``known_at`` on. See `mamori.detect.fraud.serving`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import ipaddress
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, NoReturn

import orjson
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    AliasChoices,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from starlette.concurrency import run_in_threadpool

from mamori.api.responses import OrjsonResponse
from mamori.api.security import require
from mamori.api.services import Services
from mamori.detect.fraud.currencies import is_currency
from mamori.detect.fraud.serving import ScoringDesk
from mamori.govern.identity import Principal

__all__ = ["MAX_BATCH", "MAX_ONE_BYTES", "LabelIn", "TransactionIn", "router"]

#: The most payments one batch request may carry.
MAX_BATCH = 1_000
#: The largest body of one payment (bytes); a batch is held to the API's body limit.
MAX_ONE_BYTES = 16 << 10
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_AHEAD = timedelta(days=1)  # clocks differ; a payment a day in the future is a bad timestamp
#: Seconds between two freezes of the objects that survived (see `keep_survivors_frozen`).
FREEZE_EVERY_S = 1.0

Name = Annotated[str, Field(min_length=1, max_length=128)]


class TransactionIn(BaseModel):
    """One payment to score: the spine's `transaction` fields (see `events/schema.py`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Annotated[
        str | None,
        Field(min_length=1, max_length=128,
              validation_alias=AliasChoices("event_id", "transaction_id")),
    ] = None
    time: AwareDatetime
    amount: Annotated[float, Field(strict=True, ge=0, le=1e13, allow_inf_nan=False)]
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    account: Name | None = None
    customer: Name | None = None
    card: Name | None = None
    counterparty: Name | None = None
    direction: Literal["debit", "credit"] | None = None
    channel: Annotated[str | None, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = None
    status: Literal["approved", "declined"] | None = None
    merchant: Name | None = None
    mcc: Annotated[str | None, Field(pattern=r"^[0-9]{4}$")] = None
    terminal: Name | None = None
    country: Annotated[str | None, Field(pattern=r"^[A-Z]{2}$")] = None
    device: Name | None = None
    ip: Annotated[str | None, Field(max_length=45)] = None

    @field_validator("time")
    @classmethod
    def _in_range(cls, value: datetime) -> datetime:
        return _plausible(value)

    @field_validator("currency")
    @classmethod
    def _iso_4217(cls, value: str) -> str:
        if not is_currency(value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR, JPY)")
        return value

    @field_validator("ip")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value is not None:
            ipaddress.ip_address(value)  # raises ValueError
        return value

    @model_validator(mode="after")
    def _has_payer(self) -> TransactionIn:
        if self.card is None and self.account is None and self.customer is None:
            raise ValueError("a payment needs its payer: card, account or customer")
        return self

    def payment(self) -> dict[str, Any]:
        """The payment as the scorer takes it, with a stable `event_id` where none was
        sent (the same fields give the same id, so a resent payment is a duplicate)."""
        tx = self.model_dump(exclude_none=True)
        if "event_id" not in tx:
            canonical = orjson.dumps(tx, option=orjson.OPT_SORT_KEYS)
            tx["event_id"] = "tx-" + hashlib.sha256(canonical).hexdigest()[:24]
        return tx


def _plausible(value: datetime) -> datetime:
    """`value` in UTC, if it is after 2000-01-01 and not more than a day ahead."""
    if not _EARLIEST <= value <= datetime.now(UTC) + _AHEAD:
        raise ValueError("time must be after 2000-01-01 and not more than a day ahead")
    return value.astimezone(UTC)


class LabelIn(BaseModel):
    """A confirmed outcome of a payment already scored: fraud or not, and when it became
    known (it counts in the features of payments from then on; default: on receipt)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: Annotated[str, Field(min_length=1, max_length=128,
                                   validation_alias=AliasChoices("event_id", "transaction_id"))]
    fraud: Annotated[bool, Field(strict=True)]
    known_at: AwareDatetime | None = None

    @field_validator("known_at")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        return None if value is None else _plausible(value)


_BATCH = TypeAdapter(list[TransactionIn])
_LABELS = TypeAdapter(list[LabelIn])
_LINES = {"application/x-ndjson", "application/ndjson", "application/jsonl", "text/plain"}
_ONE_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": TransactionIn.model_json_schema()}}}}
_BATCH_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "maxItems": MAX_BATCH,
                                    "items": TransactionIn.model_json_schema()}},
    "application/x-ndjson": {"schema": {"type": "string"}}}}}


async def keep_survivors_frozen(every_s: float) -> None:
    """Every `every_s` seconds, collect the young generations and freeze what survived.

    The scorers' per-entity state grows by some 5 GC-tracked objects per payment (lists of
    times and amounts); left in the oldest generation, a full collection walks all of it,
    and at 1,000 payments/s those passes grew from 11 to 137 ms within 30 s, each stalling
    every request in flight (docs/fraud.md, "Serving"). Frozen objects are still freed by
    reference counting; only a reference cycle that dies after its freeze stays until the
    process ends."""
    while True:
        await asyncio.sleep(every_s)
        gc.collect(1)
        gc.freeze()


@asynccontextmanager
async def _desk_lifespan(app: FastAPI) -> AsyncIterator[None]:
    desk = _open_desk(app)
    for tenant in desk.log.tenants():  # rebuild each tenant's scorer before the first call
        desk.tenant(tenant)
    # `mamori serve` froze its startup objects; a server run that way keeps freezing
    steward = (asyncio.create_task(keep_survivors_frozen(FREEZE_EVERY_S))
               if gc.get_freeze_count() else None)
    yield
    if steward is not None:
        steward.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await steward
    desk.close()  # commits every decision still waiting


router = APIRouter(prefix="/v1/score", tags=["fraud scoring"], lifespan=_desk_lifespan)


def _open_desk(app: FastAPI) -> ScoringDesk:
    desk: ScoringDesk | None = getattr(app.state, "fraud_desk", None)
    if desk is None:
        found: Services = app.state.services
        desk = ScoringDesk(found.engine, found.settings.data_dir / "fraud-models")
        app.state.fraud_desk = desk
    return desk


async def scoring_desk(request: Request) -> ScoringDesk:
    """The app's scoring desk (made on first use where the app was not started)."""
    return _open_desk(request.app)


def _invalid(errors: Sequence[Mapping[str, Any]], where: tuple[str | int, ...] = ("body",)
             ) -> NoReturn:
    raise RequestValidationError(
        [{"loc": (*where, *e.get("loc", ())), "msg": e.get("msg", "invalid"),
          "type": e.get("type", "value_error")} for e in errors]
    )


def _too_large(size: int, limit: int) -> NoReturn:
    _invalid([{"msg": f"the body has {size} bytes, over the limit of {limit}",
               "type": "too_large"}])


@router.post("/transaction", openapi_extra=_ONE_BODY)
async def score_transaction(
    request: Request,
    who: Annotated[Principal, Depends(require("ingest"))],
    desk: Annotated[ScoringDesk, Depends(scoring_desk)],
) -> OrjsonResponse:
    """Score one payment: decision, score, reasons, rules fired, model version, decision id."""
    body = await request.body()
    if len(body) > MAX_ONE_BYTES:
        _too_large(len(body), MAX_ONE_BYTES)
    try:
        payment = TransactionIn.model_validate_json(body).payment()
    except ValidationError as error:
        _invalid(error.errors(include_url=False, include_input=False))
    return OrjsonResponse(desk.score(who.tenant, [payment])[0])


@router.post("/transactions", openapi_extra=_BATCH_BODY)
async def score_transactions(
    request: Request,
    who: Annotated[Principal, Depends(require("ingest"))],
    desk: Annotated[ScoringDesk, Depends(scoring_desk)],
) -> OrjsonResponse:
    """Score a batch (JSON array or JSON lines), in the order sent; all or nothing."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and media not in _LINES:
        raise HTTPException(415, "send application/json (an array) or application/x-ndjson")
    body = await request.body()
    payments = _read_batch(body, lines=media in _LINES)
    decisions = await run_in_threadpool(desk.score, who.tenant, payments)
    duplicates = sum(1 for d in decisions if d["duplicate"])
    return OrjsonResponse({"count": len(decisions), "duplicates": duplicates,
                           "decisions": decisions})


def _read_batch(body: bytes, *, lines: bool) -> list[dict[str, Any]]:
    """Every payment of a batch body, or a 422 naming every bad field (by index)."""
    if not lines:
        try:
            batch = _BATCH.validate_json(body)
        except ValidationError as error:
            _invalid(error.errors(include_url=False, include_input=False))
        if not batch or len(batch) > MAX_BATCH:
            _invalid([{"msg": f"send 1 to {MAX_BATCH} payments, not {len(batch)}"}])
        return [tx.payment() for tx in batch]
    texts = [line for line in body.splitlines() if line.strip()]
    if not texts or len(texts) > MAX_BATCH:
        _invalid([{"msg": f"send 1 to {MAX_BATCH} payments, not {len(texts)}"}])
    payments, errors = [], []
    for i, text in enumerate(texts):
        try:
            payments.append(TransactionIn.model_validate_json(text).payment())
        except ValidationError as error:
            errors += [{**e, "loc": (i, *e["loc"])} for e in error.errors(include_url=False)]
    if errors:
        _invalid(errors)
    return payments


@router.post("/labels", openapi_extra={"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "maxItems": MAX_BATCH,
                                    "items": LabelIn.model_json_schema()}}}}})
async def add_labels(
    request: Request,
    who: Annotated[Principal, Depends(require("ingest"))],
    desk: Annotated[ScoringDesk, Depends(scoring_desk)],
) -> OrjsonResponse:
    """Confirmed fraud feedback (a JSON array of labels): stored, then counted in the
    terminal, merchant and payer risk features from each label's `known_at` on."""
    try:
        labels = _LABELS.validate_json(await request.body())
    except ValidationError as error:
        _invalid(error.errors(include_url=False, include_input=False))
    if not labels or len(labels) > MAX_BATCH:
        _invalid([{"msg": f"send 1 to {MAX_BATCH} labels, not {len(labels)}"}])
    rows = [label.model_dump() for label in labels]
    return OrjsonResponse(await run_in_threadpool(desk.add_labels, who.tenant, rows))


@router.get("/decisions/{decision_id}")
async def get_decision(
    decision_id: str,
    who: Annotated[Principal, Depends(require("work_cases"))],
    desk: Annotated[ScoringDesk, Depends(scoring_desk)],
) -> OrjsonResponse:
    """A stored decision with the transaction and the features it was made on."""
    found = await run_in_threadpool(desk.get, who.tenant, decision_id)
    if found is None:
        raise HTTPException(404, f"no decision {decision_id!r}")
    return OrjsonResponse(found)


@router.post("/decisions/{decision_id}/replay")
async def replay_decision(
    decision_id: str,
    who: Annotated[Principal, Depends(require("work_cases"))],
    desk: Annotated[ScoringDesk, Depends(scoring_desk)],
) -> OrjsonResponse:
    """Decide a stored payment again with its stored model version; ``same`` says whether
    decision, score and rules fired match."""
    try:
        found = await run_in_threadpool(desk.replay, who.tenant, decision_id)
    except LookupError as error:
        raise HTTPException(409, str(error)) from error
    if found is None:
        raise HTTPException(404, f"no decision {decision_id!r}")
    return OrjsonResponse(found)
