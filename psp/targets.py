"""What the executor executes: charges (PaymentOrder), payouts (Payout) and refunds (Refund),
one protocol.

The executor's machinery (pre-call event, leases, retries with stored backoff, dead letters,
re-query by reference) is the same for both, and so are the domain's rules for an answer
(PspExecution.record_psp_answer); a target says only how to call the PSP for the aggregate
and how to look it up by our reference.
"""

from __future__ import annotations

from typing import Protocol

from payments.domain.execution import CallAnswer, LookupAnswer
from payments.domain.execution_commands import Executable
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.refund import Refund
from payments.psp.client import ChargeRequest, PayoutRequest, PspClient, RefundRequest


class ExecutionTarget(Protocol):
    def call(self, client: PspClient, aggregate: Executable) -> CallAnswer: ...

    def requery(self, client: PspClient, aggregate: Executable) -> LookupAnswer: ...


class Charges:
    """A PaymentOrder: charge the card token; Idempotency-Key = payment_order_id."""

    def call(self, client: PspClient, aggregate: Executable) -> CallAnswer:
        assert isinstance(aggregate, PaymentOrder)
        return client.create_charge(
            ChargeRequest(
                amount_minor=aggregate.amount_minor,
                currency=aggregate.currency,
                token=aggregate.card_token,
                reference=aggregate.payment_order_id,
                idempotency_key=aggregate.payment_order_id,
            )
        )

    def requery(self, client: PspClient, aggregate: Executable) -> LookupAnswer:
        assert isinstance(aggregate, PaymentOrder)
        return client.find_charge(aggregate.payment_order_id)


class Payouts:
    """A Payout: pay the seller's destination; Idempotency-Key = payout_id."""

    def call(self, client: PspClient, aggregate: Executable) -> CallAnswer:
        assert isinstance(aggregate, Payout)
        return client.create_payout(
            PayoutRequest(
                amount_minor=aggregate.amount_minor,
                currency=aggregate.currency,
                destination=aggregate.destination,
                reference=aggregate.payout_id,
                idempotency_key=aggregate.payout_id,
            )
        )

    def requery(self, client: PspClient, aggregate: Executable) -> LookupAnswer:
        assert isinstance(aggregate, Payout)
        return client.find_payout(aggregate.payout_id)


class Refunds:
    """A Refund: refund the order's charge; Idempotency-Key = refund_id."""

    def call(self, client: PspClient, aggregate: Executable) -> CallAnswer:
        assert isinstance(aggregate, Refund)
        return client.create_refund(
            RefundRequest(
                charge=aggregate.charge_reference,
                amount_minor=aggregate.amount_minor,
                reason=aggregate.reason,
                reference=aggregate.refund_id,
                idempotency_key=aggregate.refund_id,
            )
        )

    def requery(self, client: PspClient, aggregate: Executable) -> LookupAnswer:
        assert isinstance(aggregate, Refund)
        return client.find_refund(aggregate.refund_id)


TARGETS: dict[type[Executable], ExecutionTarget] = {
    PaymentOrder: Charges(),
    Payout: Payouts(),
    Refund: Refunds(),
}


def target_of(aggregate: Executable) -> ExecutionTarget:
    return TARGETS[type(aggregate)]
