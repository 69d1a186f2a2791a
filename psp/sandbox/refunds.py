"""Refunds: `POST /v1/refunds` (idempotent by key), look-ups by id and by our reference.

Only a succeeded, undisputed charge can be refunded, in its currency, and never beyond what is
left of it: its amount minus its succeeded and pending refunds (failed ones give their amount
back). The check and the insert happen in one transaction, so concurrent refunds can never
overdraw a charge. An omitted amount refunds everything that is left.

Outcomes follow the card behind the charge: 4000000000005126 fails every refund at once
(status failed, failure_code refund_failed, `refund.failed`); a charge made with the pending card
4000000000003220 gets a pending refund (202) that succeeds `pending_delay_s` later with
`refund.succeeded`; every other refund succeeds at once (201, `refund.succeeded`). A refused
refund (422) records nothing, so its key can be used again.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import msgspec
from litestar import Request, Response, get, post
from litestar.handlers import HTTPRouteHandler
from litestar.params import JSONBody

from payments.psp.sandbox.bodies import StrictBody
from payments.psp.sandbox.faults import FaultBook
from payments.psp.sandbox.idempotency import Outcome, create_once, store_answer
from payments.psp.sandbox.identifiers import iso_utc, new_id, utc_now
from payments.psp.sandbox.lifecycle import schedule_transition
from payments.psp.sandbox.models import RefundList, RefundRequest, RefundView
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
from payments.psp.sandbox.tokens import PENDING, REFUNDS_FAIL
from payments.psp.sandbox.webhooks import enqueue_event

SCOPE = "refunds"
REFUNDS = "refunds"
REFUND_FAILURE_CODE = "refund_failed"
_FOLLOW_REFUND = {
    "get": follow("getRefund", refund_id="$response.body#/id"),
    "byReference": follow("listRefundsByReference", reference="$response.body#/reference"),
}
REFUND_LINKS = with_links({201: _FOLLOW_REFUND, 202: _FOLLOW_REFUND})


def refund_view(refund: sqlite3.Row) -> RefundView:
    return RefundView(
        id=refund["id"],
        object="refund",
        charge=refund["charge_id"],
        amount=refund["amount"],
        currency=refund["currency"],
        status=refund["status"],
        reference=refund["reference"],
        reason=refund["reason"],
        failure_code=refund["failure_code"],
        created=refund["created_at"],
    )


def load_refund_view(connection: sqlite3.Connection, refund_id: str) -> RefundView | None:
    refund = connection.execute("SELECT * FROM refunds WHERE id = ?", (refund_id,)).fetchone()
    return None if refund is None else refund_view(refund)


def refundable_minor(connection: sqlite3.Connection, charge: sqlite3.Row) -> int:
    """What is left to refund of a charge: its amount minus its succeeded and pending refunds."""
    committed = connection.execute(
        "SELECT coalesce(sum(amount), 0) FROM refunds"
        " WHERE charge_id = ? AND status IN ('pending', 'succeeded')",
        (charge["id"],),
    ).fetchone()[0]
    return int(charge["amount"]) - int(committed)


def _refused(title: str, field: str, detail: str) -> ProblemError:
    return ProblemError(422, title, detail, [FieldError(field, detail)])


def _check_refundable(connection: sqlite3.Connection, charge: sqlite3.Row) -> None:
    """Raise a 422 unless the charge may be refunded at all (the amount is checked after)."""
    if charge["status"] != "succeeded":
        raise _refused(
            "Charge not refundable",
            "charge",
            f"the charge is {charge['status']}; only a succeeded charge can be refunded",
        )
    disputed = connection.execute(
        "SELECT 1 FROM disputes WHERE charge_id = ?", (charge["id"],)
    ).fetchone()
    if disputed is not None:
        detail = "a disputed charge cannot be refunded; its dispute decides"
        raise _refused("Charge disputed", "charge", detail)


def process_refund(sandbox: Sandbox, key: str, hashed: str, body: RefundRequest) -> Outcome:
    """Check and record one refund with its idempotent answer and webhook, atomically."""
    with sandbox.store.transaction() as connection:
        charge = connection.execute(
            "SELECT c.*, t.behaviour FROM charges c JOIN tokens t ON t.token = c.token"
            " WHERE c.id = ?",
            (body.charge,),
        ).fetchone()
        if charge is None:
            raise _refused("Unknown charge", "charge", f"no charge {body.charge!r}")
        _check_refundable(connection, charge)
        left = refundable_minor(connection, charge)
        if left == 0:
            raise _refused("Charge fully refunded", "charge", "nothing is left to refund")
        amount = left if body.amount is None else body.amount
        if amount > left:
            raise _refused(
                "Refund exceeds the charge",
                "amount",
                f"{left} of the charge's {charge['amount']} is left to refund",
            )
        if charge["behaviour"] == REFUNDS_FAIL:
            status, failure_code, status_code = "failed", REFUND_FAILURE_CODE, 201
        elif charge["behaviour"] == PENDING:
            status, failure_code, status_code = "pending", None, 202
        else:
            status, failure_code, status_code = "succeeded", None, 201
        refund_id, now = new_id("re"), iso_utc(utc_now())
        connection.execute(
            "INSERT INTO refunds (id, charge_id, reference, amount, currency, status, reason,"
            " failure_code, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                refund_id,
                charge["id"],
                body.reference,
                amount,
                charge["currency"],
                status,
                body.reason,
                failure_code,
                now,
                now,
            ),
        )
        view = load_refund_view(connection, refund_id)
        payload = msgspec.json.encode(view)
        store_answer(connection, SCOPE, key, hashed, status_code, payload)
        if status == "pending":
            delay = sandbox.config.pending_delay_s
            schedule_transition(connection, "refund", refund_id, "succeeded", delay)
        else:
            enqueue_event(connection, sandbox.faults, f"refund.{status}", view)
        return Outcome(status_code, payload)


def settle_refund(
    connection: sqlite3.Connection, faults: FaultBook, refund_id: str, status: str
) -> None:
    """A pending refund becomes `status`, with its `refund.<status>` webhook."""
    changed = connection.execute(
        "UPDATE refunds SET status = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
        (status, iso_utc(utc_now()), refund_id),
    ).rowcount
    view = load_refund_view(connection, refund_id)
    if changed and view is not None:
        enqueue_event(connection, faults, f"refund.{status}", view)


def refund_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    @post(
        "/v1/refunds",
        operation_id="createRefund",
        operation_class=REFUND_LINKS,
        tags=[REFUNDS],
        summary="Refund a succeeded charge, in part or in full",
        dto=StrictBody[RefundRequest],
        responses=answers(
            {
                201: (RefundView, "the refund, succeeded or failed (see status)"),
                202: (RefundView, "the refund is pending; a webhook tells the outcome"),
            },
            BAD_BODY,
            IDEMPOTENT,
            REQUEST_FAULTS,
            LYING_FAULTS,
            {
                422: "the charge is unknown, not succeeded, disputed or fully refunded, or the"
                " amount exceeds what is left of it (nothing is recorded)"
            },
        ),
    )
    async def create_refund(
        request: Request[Any, Any, Any],
        data: JSONBody[RefundRequest],
        idempotency_key: IdempotencyKey,
    ) -> Response[bytes]:
        """Without `amount`, refunds everything that is left of the charge."""
        return await create_once(sandbox, request, SCOPE, idempotency_key, data, process_refund)

    @get(
        "/v1/refunds/{refund_id:str}",
        operation_id="getRefund",
        tags=[REFUNDS],
        summary="Look up a refund by id",
        responses=answers(
            {200: (RefundView, "the refund")}, BAD_PARAMETERS, {404: "no such refund"}
        ),
    )
    async def get_refund(refund_id: ObjectId) -> RefundView:
        refund = sandbox.store.fetch_one("SELECT * FROM refunds WHERE id = ?", (refund_id,))
        if refund is None:
            raise ProblemError(404, "Refund not found", f"no refund {refund_id!r}")
        return refund_view(refund)

    @get(
        "/v1/refunds",
        operation_id="listRefundsByReference",
        tags=[REFUNDS],
        summary="Look up the refunds made for one of our references",
        responses=answers(
            {200: (RefundList, "the refunds, oldest first")},
            BAD_PARAMETERS,
            {404: "no refund has this reference"},
        ),
    )
    async def list_refunds_by_reference(reference: ReferenceQuery) -> RefundList:
        refunds = sandbox.store.fetch_all(
            "SELECT * FROM refunds WHERE reference = ? ORDER BY created_at, id", (reference,)
        )
        if not refunds:
            raise ProblemError(404, "Refund not found", f"no refund for reference {reference!r}")
        return RefundList("list", [refund_view(refund) for refund in refunds])

    return [create_refund, get_refund, list_refunds_by_reference]
