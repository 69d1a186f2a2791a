"""Charges: `POST /v1/charges` (idempotent by key), lookups by id and by our reference.

Outcomes follow the card the token was made from (see tokens.TEST_CARD_BEHAVIOURS):
succeeded 201; declined 402 (status failed, failure_code card_declined / insufficient_funds);
pending 202, settled later by a transition and a `charge.succeeded` webhook; processing error
503 `{error: processing_error}` without a charge, on the first `processing_error_attempts`
(default 2) attempts per Idempotency-Key, after which the same key succeeds.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler

from payments.psp.sandbox.faults import apply_request_faults
from payments.psp.sandbox.idempotency import (
    count_attempt,
    idempotency_key_of,
    json_response,
    request_hash,
    store_answer,
    stored_answer,
)
from payments.psp.sandbox.identifiers import iso_utc, new_id, utc_now
from payments.psp.sandbox.lifecycle import schedule_transition
from payments.psp.sandbox.models import ChargeRequest, ChargeView, ErrorBody
from payments.psp.sandbox.problems import ProblemError, decode_json, problem_response
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.tokens import PENDING, PROCESSING_ERROR, SUCCEED
from payments.psp.sandbox.views import charge_view, load_charge_view
from payments.psp.sandbox.webhooks import enqueue_event

SCOPE = "charges"


class ChargeOutcome(msgspec.Struct, frozen=True):
    status_code: int
    body: bytes
    recorded: bool


def process_charge(sandbox: Sandbox, key: str, hashed: str, body: ChargeRequest) -> ChargeOutcome:
    """Decide and record one charge attempt, with its idempotent answer and webhook, atomically."""
    with sandbox.store.transaction() as connection:
        token = connection.execute("SELECT * FROM tokens WHERE token = ?", (body.token,)).fetchone()
        if token is None:
            raise ProblemError(400, "Unknown token", "no card was tokenised as this token")
        behaviour = token["behaviour"]
        if behaviour == PROCESSING_ERROR:
            attempts = count_attempt(connection, SCOPE, key)
            if attempts <= sandbox.config.processing_error_attempts:
                error = ErrorBody("processing_error", "the card network did not answer; retry")
                return ChargeOutcome(503, msgspec.json.encode(error), recorded=False)
            behaviour = SUCCEED
        if behaviour == SUCCEED:
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
        return ChargeOutcome(status_code, payload, recorded=True)


def charge_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post("/v1/charges")
    async def create_charge(request: Request[Any, Any, Any]) -> Response[bytes]:
        injected = await apply_request_faults(
            sandbox.faults, request, SCOPE, sandbox.config.timeout_fault_s
        )
        if injected is not None:
            return injected
        key = idempotency_key_of(request)
        body = decode_json(await request.body(), ChargeRequest)
        hashed = request_hash(body)
        with sandbox.keys_in_flight.hold(SCOPE, key):
            replay = stored_answer(sandbox.store, SCOPE, key, hashed)
            if replay is not None:
                return replay
            outcome = process_charge(sandbox, key, hashed, body)
        if outcome.recorded and sandbox.faults.take("charged_but_500", SCOPE) is not None:
            problem = ProblemError(500, "Injected fault", "charged, but answered 500").problem
            return problem_response(problem)
        return json_response(outcome.status_code, outcome.body)

    @get("/v1/charges/{charge_id:str}")
    async def get_charge(charge_id: str) -> ChargeView:
        charge = sandbox.store.fetch_one("SELECT * FROM charges WHERE id = ?", (charge_id,))
        if charge is None:
            raise ProblemError(404, "Charge not found", f"no charge {charge_id!r}")
        token = sandbox.store.fetch_one("SELECT * FROM tokens WHERE token = ?", (charge["token"],))
        return charge_view(charge, token)

    @get("/v1/charges")
    async def list_charges_by_reference(reference: str) -> dict[str, object]:
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
        return {"object": "list", "data": views}

    return [create_charge, get_charge, list_charges_by_reference]
