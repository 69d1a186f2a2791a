"""Payouts: `POST /v1/payouts` (idempotent by key), lookups by id and by our reference.

A payout starts "pending" and after `payout_delay_s` becomes "paid" (`payout.paid`);
destinations starting with `fail_` become "failed" (`payout.failed`); those starting with
`return_` become "paid" and, `payout_return_delay_s` later, "returned" (`payout.returned`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from payments.psp.sandbox.faults import apply_request_faults
from payments.psp.sandbox.idempotency import (
    idempotency_key_of,
    json_response,
    request_hash,
    store_answer,
    stored_answer,
)
from payments.psp.sandbox.identifiers import iso_utc, new_id, utc_now
from payments.psp.sandbox.lifecycle import schedule_transition
from payments.psp.sandbox.models import PayoutRequest, PayoutView
from payments.psp.sandbox.problems import ProblemError, decode_json, problem_response
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.views import load_payout_view, payout_view

SCOPE = "payouts"


def record_payout(sandbox: Sandbox, key: str, hashed: str, body: PayoutRequest) -> bytes:
    """Record one payout, its idempotent answer and its scheduled outcome, atomically."""
    config = sandbox.config
    with sandbox.store.transaction() as connection:
        payout_id, now = new_id("po"), iso_utc(utc_now())
        connection.execute(
            "INSERT INTO payouts (id, reference, amount, currency, destination, status,"
            " failure_code, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 'pending', NULL, ?, ?)",
            (payout_id, body.reference, body.amount, body.currency, body.destination, now, now),
        )
        if body.destination.startswith("fail_"):
            schedule_transition(connection, "payout", payout_id, "failed", config.payout_delay_s)
        else:
            schedule_transition(connection, "payout", payout_id, "paid", config.payout_delay_s)
        if body.destination.startswith("return_"):
            return_delay = config.payout_delay_s + config.payout_return_delay_s
            schedule_transition(connection, "payout", payout_id, "returned", return_delay)
        payload = msgspec.json.encode(load_payout_view(connection, payout_id))
        store_answer(connection, SCOPE, key, hashed, 201, payload)
        return payload


def payout_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post("/v1/payouts")
    async def create_payout(request: Request[Any, Any, Any]) -> Response[bytes]:
        injected = await apply_request_faults(
            sandbox.faults, request, SCOPE, sandbox.config.timeout_fault_s
        )
        if injected is not None:
            return injected
        key = idempotency_key_of(request)
        body = decode_json(await request.body(), PayoutRequest)
        hashed = request_hash(body)
        with sandbox.keys_in_flight.hold(SCOPE, key):
            replay = stored_answer(sandbox.store, SCOPE, key, hashed)
            if replay is not None:
                return replay
            payload = record_payout(sandbox, key, hashed, body)
        if sandbox.faults.take("charged_but_500", SCOPE) is not None:
            problem = ProblemError(500, "Injected fault", "paid out, but answered 500").problem
            return problem_response(problem)
        return json_response(201, payload)

    @get("/v1/payouts/{payout_id:str}")
    async def get_payout(payout_id: str) -> PayoutView:
        payout = sandbox.store.fetch_one("SELECT * FROM payouts WHERE id = ?", (payout_id,))
        if payout is None:
            raise ProblemError(404, "Payout not found", f"no payout {payout_id!r}")
        return payout_view(payout)

    @get("/v1/payouts")
    async def list_payouts_by_reference(reference: str) -> dict[str, object]:
        payouts = sandbox.store.fetch_all(
            "SELECT * FROM payouts WHERE reference = ? ORDER BY created_at, id", (reference,)
        )
        if not payouts:
            raise ProblemError(404, "Payout not found", f"no payout for reference {reference!r}")
        return {"object": "list", "data": [payout_view(payout) for payout in payouts]}

    return [create_payout, get_payout, list_payouts_by_reference]
