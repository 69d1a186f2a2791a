"""What the executor executes: charges (PaymentOrder), payouts (Payout) and refunds (Refund),
one protocol.

The executor's machinery (pre-call event, leases, retries with stored backoff, dead letters,
re-query by reference) is the same for all three, and so are the domain's rules for an answer
(PspExecution.record_psp_answer); a target says only what to ask the PSP for the aggregate and
which of the client's calls creates it and looks it up by our reference. Our reference (the
aggregate's id) is also every call's Idempotency-Key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from payments.domain.execution import CallAnswer, LookupAnswer
from payments.domain.execution_commands import Executable
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.refund import Refund
from payments.psp.client import ChargeRequest, PayoutRequest, PspClient, RefundRequest

A = TypeVar("A", PaymentOrder, Payout, Refund)


class ExecutionTarget(Protocol):
    def call(self, client: PspClient, aggregate: Executable) -> CallAnswer: ...

    def requery(self, client: PspClient, aggregate: Executable) -> LookupAnswer: ...


@dataclass(frozen=True, slots=True)
class Target(Generic[A]):
    """One aggregate type at the PSP: the request its call sends, the client's create call
    for it and the client's look-up by our reference."""

    kind: type[A]
    request: Callable[[A], Any]
    create: Callable[[PspClient, Any], CallAnswer]
    find: Callable[[PspClient, str], LookupAnswer]

    def call(self, client: PspClient, aggregate: Executable) -> CallAnswer:
        assert isinstance(aggregate, self.kind)
        return self.create(client, self.request(aggregate))

    def requery(self, client: PspClient, aggregate: Executable) -> LookupAnswer:
        assert isinstance(aggregate, self.kind)
        return self.find(client, aggregate.reference)


def _charge(order: PaymentOrder) -> ChargeRequest:
    """Charge the order's card token."""
    key = order.reference
    return ChargeRequest(order.amount_minor, order.currency, order.card_token, key, key)


def _payout(payout: Payout) -> PayoutRequest:
    """Pay the seller's destination."""
    key = payout.reference
    return PayoutRequest(payout.amount_minor, payout.currency, payout.destination, key, key)


def _refund(refund: Refund) -> RefundRequest:
    """Refund the order's charge (the PSP's id of it), in part or in full."""
    key = refund.reference
    return RefundRequest(refund.charge_reference, refund.amount_minor, refund.reason, key, key)


# Through the client at hand (PspClient.create_charge itself is the protocol's empty body).
TARGETS: dict[type[Executable], ExecutionTarget] = {
    PaymentOrder: Target(
        PaymentOrder, _charge, lambda c, r: c.create_charge(r), lambda c, ref: c.find_charge(ref)
    ),
    Payout: Target(
        Payout, _payout, lambda c, r: c.create_payout(r), lambda c, ref: c.find_payout(ref)
    ),
    Refund: Target(
        Refund, _refund, lambda c, r: c.create_refund(r), lambda c, ref: c.find_refund(ref)
    ),
}


def target_of(aggregate: Executable) -> ExecutionTarget:
    return TARGETS[type(aggregate)]
