"""Refund: money given back to the buyer of a captured order, through the PSP's refund API.

Executed like a charge (ADR 0004): ExecutionStarted before each call, Idempotency-Key = the
refund id, retries stored in events, dead letter after the last attempt. The split between
seller and platform is decided once, when the refund is requested (ADR 0014), and carried by
the outcome events, so that the ledger's rule needs nothing but the event.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain import execution
from payments.domain.execution import FailureCode, PspExecution
from payments.domain.ids import refund_uuid
from payments.domain.money import Money


class RefundStatus(Enum):
    REQUESTED = "REQUESTED"
    EXECUTING = "EXECUTING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


TERMINAL = frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED})


class Refund(PspExecution, Aggregate):
    TOPIC = "payments.Refund"
    NOUN = "refund"

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

    class ExecutionStarted(Aggregate.Event):
        TOPIC = "payments.Refund.ExecutionStarted.v1"
        attempt: int

    class RetryScheduled(Aggregate.Event):
        TOPIC = "payments.Refund.RetryScheduled.v1"
        attempt: int
        error: str
        next_attempt_at: datetime

    class PendingAtPsp(Aggregate.Event):
        TOPIC = "payments.Refund.PendingAtPsp.v1"
        psp_reference: str

    class Succeeded(Aggregate.Event):
        TOPIC = "payments.Refund.Succeeded.v1"
        psp_reference: str
        source: str
        # The terms again, so the ledger posts from this event alone (ADR 0014).
        payment_order_id: str
        seller_account: str
        amount_minor: int
        currency: str
        seller_share_minor: int
        platform_share_minor: int

    class Failed(Aggregate.Event):
        TOPIC = "payments.Refund.Failed.v1"
        code: FailureCode
        reason: str
        psp_reference: str | None
        source: str

    class DeadLettered(Aggregate.Event):
        TOPIC = "payments.Refund.DeadLettered.v1"
        attempts: int
        last_error: str

    class DeadLetterReplayed(Aggregate.Event):
        TOPIC = "payments.Refund.DeadLetterReplayed.v1"
        reason: str
        actor: str
        reference: str  # the refund_id, so an audit trail needs nothing but the event

    class DiscrepancyRecorded(Aggregate.Event):
        TOPIC = "payments.Refund.DiscrepancyRecorded.v1"
        reported_outcome: str
        psp_reference: str | None
        detail: str

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
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def reference(self) -> str:
        """Our reference at the PSP (and the Idempotency-Key of every call)."""
        return self.refund_id

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def is_executing(self) -> bool:
        return self.status is RefundStatus.EXECUTING

    def same_content(self, payment_order_id: str, amount_minor: int | None) -> bool:
        """True when a repeated request describes this refund (None: 'the rest')."""
        return payment_order_id == self.payment_order_id and amount_minor in (
            None,
            self.amount_minor,
        )

    # --- commands: validate, then trigger an event -------------------------------------

    def record_final_answer(
        self, answer: execution.Succeeded | execution.Declined, source: str
    ) -> bool:
        if isinstance(answer, execution.Succeeded):
            return self.record_success(answer.psp_reference, source)
        return self.record_failure(answer.code, answer.reason, answer.psp_reference, source)

    def record_success(self, psp_reference: str, source: str) -> bool:
        """The PSP refunded it; True when it changed the refund, False for a repeat."""
        if self.status is RefundStatus.SUCCEEDED and self.psp_reference == psp_reference:
            return False
        if self.is_terminal:
            self._discrepancy(RefundStatus.SUCCEEDED.value, psp_reference)
            return False
        self._require_executing("record a success")
        self._succeeded(
            psp_reference=psp_reference,
            source=source,
            payment_order_id=self.payment_order_id,
            seller_account=self.seller_account,
            amount_minor=self.amount_minor,
            currency=self.currency,
            seller_share_minor=self.seller_share_minor,
            platform_share_minor=self.platform_share_minor,
        )
        return True

    def record_failure(
        self, code: FailureCode, reason: str, psp_reference: str | None, source: str
    ) -> bool:
        """The PSP refused it for good; True when it changed the refund."""
        if self.status is RefundStatus.FAILED:
            return False
        if self.status is RefundStatus.SUCCEEDED:
            self._discrepancy(RefundStatus.FAILED.value, psp_reference)
            return False
        self._require_executing("record a failure")
        self._failed(code=code, reason=reason, psp_reference=psp_reference, source=source)
        return True

    # --- events: assign only ----------------------------------------------------------

    @event(ExecutionStarted)
    def _execution_started(self, attempt: int) -> None:
        self.status = RefundStatus.EXECUTING
        self._attempt_started(attempt)

    @event(RetryScheduled)
    def _retry_scheduled(self, attempt: int, error: str, next_attempt_at: datetime) -> None:
        self.last_error = error
        self.next_attempt_at = next_attempt_at

    @event(PendingAtPsp)
    def _pending_at_psp(self, psp_reference: str) -> None:
        self.pending_at_psp = True
        self.psp_reference = psp_reference
        self.next_attempt_at = None

    @event(Succeeded)
    def _succeeded(
        self,
        psp_reference: str,
        source: str,
        payment_order_id: str,
        seller_account: str,
        amount_minor: int,
        currency: str,
        seller_share_minor: int,
        platform_share_minor: int,
    ) -> None:
        self.status = RefundStatus.SUCCEEDED
        self._outcome_reached(psp_reference)

    @event(Failed)
    def _failed(
        self, code: FailureCode, reason: str, psp_reference: str | None, source: str
    ) -> None:
        self.status = RefundStatus.FAILED
        self.failure_code = code
        self.failure_reason = reason
        self._outcome_reached(psp_reference)

    @event(DeadLettered)
    def _dead_lettered(self, attempts: int, last_error: str) -> None:
        self.dead_lettered = True
        self.next_attempt_at = None

    @event(DeadLetterReplayed)
    def _dead_letter_replayed(self, reason: str, actor: str, reference: str) -> None:
        self.dead_lettered = False
        self.attempts_since_replay = 0

    @event(DiscrepancyRecorded)
    def _discrepancy_recorded(
        self, reported_outcome: str, psp_reference: str | None, detail: str
    ) -> None:
        self.discrepancies += 1
