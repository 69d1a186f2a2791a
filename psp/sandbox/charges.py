"""Charges: `POST /v1/charges` (idempotent by key), lookups by id and by our reference.

Outcomes follow the card the token was made from (see tokens.TEST_CARD_BEHAVIOURS):
succeeded 201; declined 402 (status failed, failure_code card_declined / insufficient_funds);
pending 202, settled later by a transition and a `charge.succeeded` webhook; processing error
503 `{error: processing_error}` without a charge, on the first `processing_error_attempts`
(default 2) attempts per Idempotency-Key, after which the same key succeeds. An unknown token is
a 422 problem (a name in the body that means nothing), and nothing is recorded. Card
4000000000000259 succeeds, and a dispute opens on the charge `dispute_delay_s` later.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody

from payments.psp.sandbox.bodies import StrictBody
from payments.psp.sandbox.idempotency import Outcome, count_attempt, create_once, store_answer
from payments.psp.sandbox.identifiers import iso_utc, new_id, utc_now
from payments.psp.sandbox.lifecycle import schedule_transition
from payments.psp.sandbox.models import ChargeList, ChargeRequest, ChargeView, ErrorBody
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
from payments.psp.sandbox.problems import ProblemError
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.tokens import (
    DISPUTED_LATER,
    PENDING,
    PROCESSING_ERROR,
    SUCCEED,
    SUCCEEDING,
)
from payments.psp.sandbox.views import charge_view, load_charge_view
from payments.psp.sandbox.webhooks import enqueue_event

SCOPE = "charges"
CHARGES = "charges"
_FOLLOW_CHARGE = {
    "get": follow("getCharge", charge_id="$response.body#/id"),
    "byReference": follow("listChargesByReference", reference="$response.body#/reference"),
    "refund": follow("createRefund", {"charge": "$response.body#/id"}),
    "dispute": follow("openDispute", {"charge": "$response.body#/id"}),
    "disputes": follow("listDisputesByCharge", charge="$response.body#/id"),
}
CHARGE_LINKS = with_links({201: _FOLLOW_CHARGE, 202: _FOLLOW_CHARGE})


def process_charge(sandbox: Sandbox, key: str, hashed: str, body: ChargeRequest) -> Outcome:
    """Decide and record one charge attempt, with its idempotent answer and webhook, atomically."""
    with sandbox.store.transaction() as connection:
        token = connection.execute("SELECT * FROM tokens WHERE token = ?", (body.token,)).fetchone()
        if token is None:
            raise ProblemError(422, "Unknown token", "no card was tokenised as this token")
        behaviour = token["behaviour"]
        if behaviour == PROCESSING_ERROR:
            attempts = count_attempt(connection, SCOPE, key)
            if attempts <= sandbox.config.processing_error_attempts:
                error = ErrorBody("processing_error", "the card network did not answer; retry")
                return Outcome(503, msgspec.json.encode(error), recorded=False)
            behaviour = SUCCEED
        if behaviour in SUCCEEDING:
            status, failure_code, status_code = "succeeded", None, 201
        elif behaviour == PENDING:
            status, failure_code, status_code = "pending", None, 202
        else:
            status, failure_code, status_code = "failed", behaviour, 402
        charge_id, now = new_id("ch"), iso_utc(utc_now())
        connection.execute(
            "INSERT INTO charges (id, reference, amount, currency, token, description, status,"
            " failure_code, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                charge_id,
                body.reference,
                body.amount,
                body.currency,
                body.token,
                body.description,
                status,
                failure_code,
                now,
                now,
            ),
        )
        view = load_charge_view(connection, charge_id)
        payload = msgspec.json.encode(view)
        store_answer(connection, SCOPE, key, hashed, status_code, payload)
        if status == "pending":
            schedule_transition(
                connection, "charge", charge_id, "succeeded", sandbox.config.pending_delay_s
            )
        else:
            enqueue_event(connection, sandbox.faults, f"charge.{status}", view)
        if behaviour == DISPUTED_LATER:
            delay = sandbox.config.dispute_delay_s
            schedule_transition(connection, "dispute_opening", charge_id, "needs_response", delay)
        return Outcome(status_code, payload)


def charge_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post(
        "/v1/charges",
        operation_id="createCharge",
        operation_class=CHARGE_LINKS,
        tags=[CHARGES],
        summary="Charge a tokenised card",
        dto=StrictBody[ChargeRequest],
        responses=answers(
            {
                201: (ChargeView, "the charge succeeded"),
                202: (ChargeView, "the charge is pending; a webhook tells the outcome"),
                402: (ChargeView, "the card was declined (status failed, with failure_code)"),
                503: (ErrorBody, "processing error: nothing was charged, retry with the same key"),
            },
            BAD_BODY,
            IDEMPOTENT,
            REQUEST_FAULTS,
            LYING_FAULTS,
            {422: "the token is unknown"},
        ),
    )
    async def create_charge(
        request: Request[Any, Any, Any],
        data: JSONBody[ChargeRequest],
        idempotency_key: IdempotencyKey,
    ) -> Response[bytes]:
        """Outcomes follow the test card behind the token (see the module docstring)."""
        return await create_once(sandbox, request, SCOPE, idempotency_key, data, process_charge)

    @get(
        "/v1/charges/{charge_id:str}",
        operation_id="getCharge",
        tags=[CHARGES],
        summary="Look up a charge by id",
        responses=answers(
            {200: (ChargeView, "the charge")}, BAD_PARAMETERS, {404: "no such charge"}
        ),
    )
    async def get_charge(charge_id: ObjectId) -> ChargeView:
        charge = sandbox.store.fetch_one("SELECT * FROM charges WHERE id = ?", (charge_id,))
        if charge is None:
            raise ProblemError(404, "Charge not found", f"no charge {charge_id!r}")
        token = sandbox.store.fetch_one("SELECT * FROM tokens WHERE token = ?", (charge["token"],))
        return charge_view(charge, token)

    @get(
        "/v1/charges",
        operation_id="listChargesByReference",
        tags=[CHARGES],
        summary="Look up the charges made for one of our references",
        responses=answers(
            {200: (ChargeList, "the charges, oldest first")},
            BAD_PARAMETERS,
            {404: "no charge has this reference"},
        ),
    )
    async def list_charges_by_reference(reference: ReferenceQuery) -> ChargeList:
        charges = sandbox.store.fetch_all(
            "SELECT * FROM charges WHERE reference = ? ORDER BY created_at, id",
            (reference,),
        )
        if not charges:
            raise ProblemError(404, "Charge not found", f"no charge for reference {reference!r}")
        views = [
            charge_view(
                charge,
                sandbox.store.fetch_one("SELECT * FROM tokens WHERE token = ?", (charge["token"],)),
            )
            for charge in charges
        ]
        return ChargeList("list", views)

    return [create_charge, get_charge, list_charges_by_reference]
