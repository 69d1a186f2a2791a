"""Payouts: `POST /v1/payouts` (idempotent by key), lookups by id and by our reference.

A destination that looks like a bank token (`btok_...`) must be one the sandbox issued (422
otherwise, nothing recorded); other destinations are free text, as before.
A payout starts "pending" and after `payout_delay_s` becomes "paid" (`payout.paid`);
destinations starting with `fail_` become "failed" (`payout.failed`); those starting with
`return_` become "paid" and, `payout_return_delay_s` later, "returned" (`payout.returned`).
"""

from __future__ import annotations

from litestar.handlers import HTTPRouteHandler

from payments.psp.sandbox.bank_tokens import require_bank_token
from payments.psp.sandbox.idempotency import Outcome, store_answer
from payments.psp.sandbox.identifiers import iso_utc, new_id, utc_now
from payments.psp.sandbox.lifecycle import schedule_transition
from payments.psp.sandbox.lookups import load_view
from payments.psp.sandbox.models import PayoutList, PayoutRequest, PayoutView
from payments.psp.sandbox.resources import Resource, resource_routes
from payments.psp.sandbox.runtime import Sandbox
from payments.psp.sandbox.views import payout_view

SCOPE = "payouts"


def record_payout(sandbox: Sandbox, key: str, hashed: str, body: PayoutRequest) -> Outcome:
    """Record one payout, its idempotent answer and its scheduled outcome, atomically."""
    config = sandbox.config
    with sandbox.store.transaction() as connection:
        if body.destination.startswith("btok_"):
            require_bank_token(connection, body.destination, "destination")
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
        view = load_view(connection, "payouts", payout_id, payout_view)
        return store_answer(connection, SCOPE, key, hashed, 201, view)


def payout_routes(sandbox: Sandbox) -> list[HTTPRouteHandler]:
    return resource_routes(
        sandbox,
        Resource(
            thing="payout",
            request=PayoutRequest,
            view=PayoutView,
            listing=PayoutList,
            record=record_payout,
            view_of=payout_view,
            summary="Pay money out to a destination",
            description="Destinations `fail_*` fail, `return_*` are paid and then returned;"
            " others are paid.",
            created={201: (PayoutView, "the payout, pending; webhooks tell its outcome")},
            refused="the destination is a bank token the sandbox never issued",
        ),
    )
