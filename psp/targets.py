"""What the executor executes: charges (PaymentOrder) and payouts (Payout), one protocol.

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
from payments.psp.client import ChargeRequest, PayoutRequest, PspClient


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


TARGETS: dict[type[Executable], ExecutionTarget] = {PaymentOrder: Charges(), Payout: Payouts()}


def target_of(aggregate: Executable) -> ExecutionTarget:
    return TARGETS[type(aggregate)]
