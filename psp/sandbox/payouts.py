"""Payouts: `POST /v1/payouts` (idempotent by key), lookups by id and by our reference.

A destination that looks like a bank token (`btok_...`) must be one the sandbox issued (422
otherwise, nothing recorded); other destinations are free text, as before.
A payout starts "pending" and after `payout_delay_s` becomes "paid" (`payout.paid`);
destinations starting with `fail_` become "failed" (`payout.failed`); those starting with
`return_` become "paid" and, `payout_return_delay_s` later, "returned" (`payout.returned`).
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody

from payments.psp.sandbox.bank_tokens import bank_token_exists
from payments.psp.sandbox.bodies import StrictBody
from payments.psp.sandbox.idempotency import Outcome, create_once, store_answer
from payments.psp.sandbox.identifiers import iso_utc, new_id, utc_now
from payments.psp.sandbox.lifecycle import schedule_transition
from payments.psp.sandbox.models import PayoutList, PayoutRequest, PayoutView
from payments.psp.sandbox.openapi import (
    BAD_BODY,
    BAD_PARAMETERS,
    IDEMPOTENT,
    LYING_FAULTS,
    REQUEST_FAULTS,
    IdempotencyKey,
    ObjectId,
    ReferenceQuery,
    answers,
    follow,
    with_links,
)
from payments.psp.sandbox.problems import FieldError, ProblemError
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.views import load_payout_view, payout_view

SCOPE = "payouts"
PAYOUTS = "payouts"


def record_payout(sandbox: Sandbox, key: str, hashed: str, body: PayoutRequest) -> Outcome:
    """Record one payout, its idempotent answer and its scheduled outcome, atomically."""
    config = sandbox.config
    with sandbox.store.transaction() as connection:
        destination = body.destination
        if destination.startswith("btok_") and not bank_token_exists(connection, destination):
            detail = f"no bank details were tokenised as {destination!r}"
            raise ProblemError(
                422, "Unknown bank token", detail, [FieldError("destination", detail)]
            )
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
        return Outcome(201, payload)


def payout_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post(
        "/v1/payouts",
        operation_id="createPayout",
        operation_class=with_links(
            {
                201: {
                    "get": follow("getPayout", payout_id="$response.body#/id"),
                    "byReference": follow(
                        "listPayoutsByReference", reference="$response.body#/reference"
                    ),
                }
            }
        ),
        tags=[PAYOUTS],
        summary="Pay money out to a destination",
        dto=StrictBody[PayoutRequest],
        responses=answers(
            {201: (PayoutView, "the payout, pending; webhooks tell its outcome")},
            BAD_BODY,
            IDEMPOTENT,
            REQUEST_FAULTS,
            LYING_FAULTS,
            {422: "the destination is a bank token the sandbox never issued"},
        ),
    )
    async def create_payout(
        request: Request[Any, Any, Any],
        data: JSONBody[PayoutRequest],
        idempotency_key: IdempotencyKey,
    ) -> Response[bytes]:
        """Destinations `fail_*` fail, `return_*` are paid and then returned; others are paid."""
        return await create_once(sandbox, request, SCOPE, idempotency_key, data, record_payout)

    @get(
        "/v1/payouts/{payout_id:str}",
        operation_id="getPayout",
        tags=[PAYOUTS],
        summary="Look up a payout by id",
        responses=answers(
            {200: (PayoutView, "the payout")}, BAD_PARAMETERS, {404: "no such payout"}
        ),
    )
    async def get_payout(payout_id: ObjectId) -> PayoutView:
        payout = sandbox.store.fetch_one("SELECT * FROM payouts WHERE id = ?", (payout_id,))
        if payout is None:
            raise ProblemError(404, "Payout not found", f"no payout {payout_id!r}")
        return payout_view(payout)

    @get(
        "/v1/payouts",
        operation_id="listPayoutsByReference",
        tags=[PAYOUTS],
        summary="Look up the payouts made for one of our references",
        responses=answers(
            {200: (PayoutList, "the payouts, oldest first")},
            BAD_PARAMETERS,
            {404: "no payout has this reference"},
        ),
    )
    async def list_payouts_by_reference(reference: ReferenceQuery) -> PayoutList:
        payouts = sandbox.store.fetch_all(
            "SELECT * FROM payouts WHERE reference = ? ORDER BY created_at, id", (reference,)
        )
        if not payouts:
            raise ProblemError(404, "Payout not found", f"no payout for reference {reference!r}")
        return PayoutList("list", [payout_view(payout) for payout in payouts])

    return [create_payout, get_payout, list_payouts_by_reference]
