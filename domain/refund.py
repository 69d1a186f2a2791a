"""Refund: money given back to the buyer of a captured order, through the PSP's refund API.

Executed like a charge (ADR 0004): ExecutionStarted before each call, Idempotency-Key = the
refund id, retries stored in events, dead letter after the last attempt. The split between
seller and platform is decided once, when the refund is requested (ADR 0014), and carried by
the outcome events, so that the ledger's rule needs nothing but the event.
"""

from __future__ import annotations

from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain import execution_events
from payments.domain.commission import Split, taking_terms
from payments.domain.execution import FailureCode, SucceedsOrFails
from payments.domain.ids import refund_uuid


class RefundStatus(Enum):
    REQUESTED = "REQUESTED"
    EXECUTING = "EXECUTING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


TERMINAL = frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED})


class Refund(SucceedsOrFails, Aggregate):
    TOPIC = "payments.Refund"
    NOUN = "refund"
    EXECUTING, TERMINAL = RefundStatus.EXECUTING, TERMINAL
    SUCCEEDED, FAILED = RefundStatus.SUCCEEDED, RefundStatus.FAILED

    class Created(Aggregate.Created):
        """The base of Requested, which is the only created event ever recorded (the
        library defines a Created on every aggregate; its topic must be explicit)."""

        TOPIC = "payments.Refund.Created.v1"

    class Requested(Created):
        TOPIC = "payments.Refund.Requested.v1"
        refund_id: str
        payment_order_id: str
        order_uuid: UUID | None
        seller_account: str
        amount_minor: int
        currency: str
        seller_share_minor: int
        platform_share_minor: int
        reason: str | None
        charge_reference: str  # the PSP's id of the captured charge
        requested_by: str  # the API key id

    class ExecutionStarted(execution_events.ExecutionStarted):
        TOPIC = "payments.Refund.ExecutionStarted.v1"

    class RetryScheduled(execution_events.RetryScheduled):
        TOPIC = "payments.Refund.RetryScheduled.v1"

    class PendingAtPsp(execution_events.PendingAtPsp):
        TOPIC = "payments.Refund.PendingAtPsp.v1"

    class Succeeded(execution_events.Succeeded):
        TOPIC = "payments.Refund.Succeeded.v1"
        # The terms again, so the ledger posts from this event alone (ADR 0014).
        payment_order_id: str
        seller_account: str
        amount_minor: int
        currency: str
        seller_share_minor: int
        platform_share_minor: int

    class Failed(execution_events.Failed):
        TOPIC = "payments.Refund.Failed.v1"

    class DeadLettered(execution_events.DeadLettered):
        TOPIC = "payments.Refund.DeadLettered.v1"

    class DeadLetterReplayed(execution_events.DeadLetterReplayed):
        TOPIC = "payments.Refund.DeadLetterReplayed.v1"

    class DiscrepancyRecorded(execution_events.DiscrepancyRecorded):
        TOPIC = "payments.Refund.DiscrepancyRecorded.v1"

    @staticmethod
    def create_id(refund_id: str) -> UUID:
        return refund_uuid(refund_id)

    @event(Requested)
    def __init__(
        self,
        refund_id: str,
        payment_order_id: str,
        order_uuid: UUID | None,
        seller_account: str,
        amount_minor: int,
        currency: str,
        seller_share_minor: int,
        platform_share_minor: int,
        reason: str | None,
        charge_reference: str,
        requested_by: str,
    ) -> None:
        self.refund_id = refund_id
        self.payment_order_id = payment_order_id
        self.seller_account = seller_account
        self.amount_minor = amount_minor
        self.currency = currency
        self.seller_share_minor = seller_share_minor
        self.platform_share_minor = platform_share_minor
        self.reason = reason
        self.charge_reference = charge_reference
        self.requested_by = requested_by
        self.status = RefundStatus.REQUESTED
        self._init_execution()
        self.failure_code: FailureCode | None = None
        self.failure_reason: str | None = None

    @property
    def reference(self) -> str:
        """Our reference at the PSP (and the Idempotency-Key of every call)."""
        return self.refund_id

    def same_content(self, payment_order_id: str, amount_minor: int | None) -> bool:
        """True when a repeated request describes this refund (None: 'the rest')."""
        return payment_order_id == self.payment_order_id and amount_minor in (
            None,
            self.amount_minor,
        )

    def _success_terms(self) -> dict[str, Any]:
        """The terms again on Succeeded, so the ledger posts from that event alone (ADR 0014)."""
        return taking_terms(self, Split(self.seller_share_minor, self.platform_share_minor))
