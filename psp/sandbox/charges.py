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

import sqlite3

import msgspec
from litestar.handlers import HTTPRouteHandler

from payments.psp.sandbox.idempotency import Outcome, count_attempt
from payments.psp.sandbox.identifiers import iso_utc, new_id, utc_now
from payments.psp.sandbox.lifecycle import schedule_transition
from payments.psp.sandbox.models import ChargeList, ChargeRequest, ChargeView, ErrorBody
from payments.psp.sandbox.openapi import follow
from payments.psp.sandbox.problems import ProblemError
from payments.psp.sandbox.resources import Resource, answer_created, resource_routes
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.tokens import (
    DISPUTED_LATER,
    PENDING,
    PROCESSING_ERROR,
    SUCCEED,
    SUCCEEDING,
)
from payments.psp.sandbox.views import charge_view, load_charge_view

SCOPE = "charges"


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
        outcome = answer_created(sandbox, connection, key, hashed, "charge", view, status_code)
        if behaviour == DISPUTED_LATER:
            delay = sandbox.config.dispute_delay_s
            schedule_transition(connection, "dispute_opening", charge_id, "needs_response", delay)
        return outcome


def charge_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    def view_of(charge: sqlite3.Row) -> ChargeView:
        token = sandbox.store.fetch_one("SELECT * FROM tokens WHERE token = ?", (charge["token"],))
        return charge_view(charge, token)

    return resource_routes(
        sandbox,
        Resource(
            thing="charge",
            request=ChargeRequest,
            view=ChargeView,
            listing=ChargeList,
            record=process_charge,
            view_of=view_of,
            summary="Charge a tokenised card",
            description="Outcomes follow the test card behind the token (see the module"
            " docstring).",
            created={
                201: (ChargeView, "the charge succeeded"),
                202: (ChargeView, "the charge is pending; a webhook tells the outcome"),
                402: (ChargeView, "the card was declined (status failed, with failure_code)"),
                503: (ErrorBody, "processing error: nothing was charged, retry with the same key"),
            },
            refused="the token is unknown",
            links={
                "refund": follow("createRefund", {"charge": "$response.body#/id"}),
                "dispute": follow("openDispute", {"charge": "$response.body#/id"}),
                "disputes": follow("listDisputesByCharge", charge="$response.body#/id"),
            },
        ),
    )
