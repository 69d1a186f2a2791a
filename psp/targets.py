"""What the executor executes: charges (PaymentOrder) and payouts (Payout), one protocol.

The executor's machinery (pre-call event, leases, retries with stored backoff, dead letters,
re-query by reference) is the same for both; a target says how to call the PSP, how to look
the object up, and how to record a final answer on its aggregate.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.domain import MutableAggregateProtocol

from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.psp.client import (
    ChargeOutcome,
    ChargeRequest,
    Declined,
    LookupOutcome,
    PayoutRequest,
    PspClient,
    Succeeded,
)


class Executable(MutableAggregateProtocol[UUID], Protocol):
    """The execution state both PaymentOrder and Payout keep (ADR 0004, ADR 0006)."""

    attempts: int
    attempts_since_replay: int
    next_attempt_at: datetime | None
    pending_at_psp: bool
    dead_lettered: bool

    @property
    def is_terminal(self) -> bool: ...

    @property
    def is_executing(self) -> bool: ...

    def start_execution(self) -> None: ...

    def schedule_retry(self, error: str, next_attempt_at: datetime) -> None: ...

    def mark_pending(self, psp_reference: str) -> None: ...

    def dead_letter(self) -> None: ...


class ExecutionTarget(Protocol):
    def call(self, client: PspClient, aggregate: Any) -> ChargeOutcome: ...

    def requery(self, client: PspClient, aggregate: Any) -> LookupOutcome: ...

    def record(self, aggregate: Any, outcome: Succeeded | Declined) -> None: ...


class Charges:
    """A PaymentOrder: charge the card token; Idempotency-Key = payment_order_id."""

    def call(self, client: PspClient, aggregate: Any) -> ChargeOutcome:
        order: PaymentOrder = aggregate
        return client.create_charge(
            ChargeRequest(
                amount_minor=order.amount_minor,
                currency=order.currency,
                token=order.card_token,
                reference=order.payment_order_id,
                idempotency_key=order.payment_order_id,
            )
        )

    def requery(self, client: PspClient, aggregate: Any) -> LookupOutcome:
        order: PaymentOrder = aggregate
        return client.find_charge(order.payment_order_id)

    def record(self, aggregate: Any, outcome: Succeeded | Declined) -> None:
        order: PaymentOrder = aggregate
        if isinstance(outcome, Succeeded):
            order.record_success(outcome.psp_reference, source="psp")
        else:
            order.record_failure(outcome.code, outcome.reason, outcome.psp_reference, "psp")


class Payouts:
    """A Payout: pay the seller's destination; Idempotency-Key = payout_id."""

    def call(self, client: PspClient, aggregate: Any) -> ChargeOutcome:
        payout: Payout = aggregate
        return client.create_payout(
            PayoutRequest(
                amount_minor=payout.amount_minor,
                currency=payout.currency,
                destination=payout.destination,
                reference=payout.payout_id,
                idempotency_key=payout.payout_id,
            )
        )

    def requery(self, client: PspClient, aggregate: Any) -> LookupOutcome:
        payout: Payout = aggregate
        return client.find_payout(payout.payout_id)

    def record(self, aggregate: Any, outcome: Succeeded | Declined) -> None:
        payout: Payout = aggregate
        if isinstance(outcome, Succeeded):
            payout.record_paid(outcome.psp_reference, source="psp")
        else:
            payout.record_failure(outcome.reason, outcome.psp_reference, "psp")


TARGETS: dict[type[Any], ExecutionTarget] = {PaymentOrder: Charges(), Payout: Payouts()}


def target_of(aggregate: object) -> ExecutionTarget:
    return TARGETS[type(aggregate)]
