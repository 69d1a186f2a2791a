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

from litestar.handlers import HTTPRouteHandler

from payments.psp.sandbox.faults import FaultBook
from payments.psp.sandbox.idempotency import Outcome
from payments.psp.sandbox.identifiers import iso_utc, new_id, utc_now
from payments.psp.sandbox.lookups import load_view
from payments.psp.sandbox.models import RefundList, RefundRequest, RefundView
from payments.psp.sandbox.problems import FieldError, ProblemError
from payments.psp.sandbox.resources import Resource, answer_created, resource_routes
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.tokens import PENDING, REFUNDS_FAIL
from payments.psp.sandbox.views import row_view
from payments.psp.sandbox.webhooks import enqueue_event

REFUND_FAILURE_CODE = "refund_failed"


def refund_view(refund: sqlite3.Row) -> RefundView:
    return row_view(RefundView, refund, object="refund")


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
        view = load_view(connection, "refunds", refund_id, refund_view)
        return answer_created(sandbox, connection, key, hashed, "refund", view, status_code)


def settle_refund(
    connection: sqlite3.Connection, faults: FaultBook, refund_id: str, status: str
) -> None:
    """A pending refund becomes `status`, with its `refund.<status>` webhook."""
    changed = connection.execute(
        "UPDATE refunds SET status = ?, updated_at = ? WHERE id = ? AND status = 'pending'",
        (status, iso_utc(utc_now()), refund_id),
    ).rowcount
    view = load_view(connection, "refunds", refund_id, refund_view)
    if changed and view is not None:
        enqueue_event(connection, faults, f"refund.{status}", view)


def refund_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    return resource_routes(
        sandbox,
        Resource(
            thing="refund",
            request=RefundRequest,
            view=RefundView,
            listing=RefundList,
            record=process_refund,
            view_of=refund_view,
            summary="Refund a succeeded charge, in part or in full",
            description="Without `amount`, refunds everything that is left of the charge.",
            created={
                201: (RefundView, "the refund, succeeded or failed (see status)"),
                202: (RefundView, "the refund is pending; a webhook tells the outcome"),
            },
            refused="the charge is unknown, not succeeded, disputed or fully refunded, or the"
            " amount exceeds what is left of it (nothing is recorded)",
        ),
    )
