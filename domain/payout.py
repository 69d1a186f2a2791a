"""Payout: one transfer of a seller's balance to the seller, through the PSP's payout API.

Executed like a charge (ADR 0004): ExecutionStarted before each call, Idempotency-Key = the
payout id, retries stored in events, dead letter after the last attempt. Outcome events carry
the seller, amount and currency, so ledger and wallet rules need nothing but the event.
"""

from __future__ import annotations

from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain import execution, execution_events
from payments.domain.errors import IllegalTransition
from payments.domain.execution import PspExecution
from payments.domain.ids import payout_uuid


class PayoutStatus(Enum):
    REQUESTED = "REQUESTED"
    EXECUTING = "EXECUTING"
    PAID = "PAID"
    FAILED = "FAILED"
    RETURNED = "RETURNED"


TERMINAL = frozenset({PayoutStatus.PAID, PayoutStatus.FAILED, PayoutStatus.RETURNED})


class Payout(PspExecution, Aggregate):
    TOPIC = "payments.Payout"
    NOUN = "payout"
    EXECUTING, TERMINAL = PayoutStatus.EXECUTING, TERMINAL

    class Created(Aggregate.Created):
        TOPIC = "payments.Payout.Created.v1"
        class_version = 2  # v2 adds who asked for it: an API key id (None: a scheduled run)
        payout_id: str
        seller_account: str
        amount_minor: int
        currency: str
        destination: str
        run_id: str | None
        requested_by: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["requested_by"] = None if state.get("run_id") else "unknown"

    class ExecutionStarted(execution_events.ExecutionStarted):
        TOPIC = "payments.Payout.ExecutionStarted.v1"

    class RetryScheduled(execution_events.RetryScheduled):
        TOPIC = "payments.Payout.RetryScheduled.v1"

    class PendingAtPsp(execution_events.PendingAtPsp):
        TOPIC = "payments.Payout.PendingAtPsp.v1"

    class Paid(Aggregate.Event):
        TOPIC = "payments.Payout.Paid.v1"
        psp_reference: str
        source: str
        seller_account: str
        amount_minor: int
        currency: str

    class Failed(Aggregate.Event):
        TOPIC = "payments.Payout.Failed.v1"
        reason: str
        psp_reference: str | None
        source: str
        seller_account: str
        amount_minor: int
        currency: str

    class Returned(Aggregate.Event):
        TOPIC = "payments.Payout.Returned.v1"
        psp_reference: str
        source: str
        seller_account: str
        amount_minor: int
        currency: str

    class DeadLettered(execution_events.DeadLettered):
        TOPIC = "payments.Payout.DeadLettered.v1"

    class DeadLetterReplayed(execution_events.DeadLetterReplayed):
        TOPIC = "payments.Payout.DeadLetterReplayed.v1"
        class_version = 2  # v2 adds who replayed it (an API key id, or "cli") and what

    class DiscrepancyRecorded(execution_events.DiscrepancyRecorded):
        TOPIC = "payments.Payout.DiscrepancyRecorded.v1"

    @staticmethod
    def create_id(payout_id: str) -> UUID:
        return payout_uuid(payout_id)

    @event(Created)
    def __init__(
        self,
        payout_id: str,
        seller_account: str,
        amount_minor: int,
        currency: str,
        destination: str,
        run_id: str | None,
        requested_by: str | None,
    ) -> None:
        self.payout_id = payout_id
        self.seller_account = seller_account
        self.amount_minor = amount_minor
        self.currency = currency
        self.destination = destination
        self.run_id = run_id
        self.requested_by = requested_by
        self.status = PayoutStatus.REQUESTED
        self._init_execution()
        self.failure_reason: str | None = None

    @property
    def reference(self) -> str:
        """Our reference at the PSP (and the Idempotency-Key of every call)."""
        return self.payout_id

    def same_content(self, seller_account: str, amount_minor: int | None) -> bool:
        """True when a repeated request describes this payout (None: 'all available')."""
        return seller_account == self.seller_account and amount_minor in (None, self.amount_minor)

    # --- commands: validate, then trigger an event -------------------------------------

    def record_final_answer(
        self, answer: execution.Succeeded | execution.Declined, source: str
    ) -> bool:
        if isinstance(answer, execution.Succeeded):
            return self.record_paid(answer.psp_reference, source)
        return self.record_failure(answer.reason, answer.psp_reference, source)

    def record_paid(self, psp_reference: str, source: str) -> bool:
        """The PSP paid it out; True when it changed the payout, False for a repeat."""
        if self.status in (PayoutStatus.PAID, PayoutStatus.RETURNED):
            if self.psp_reference != psp_reference:
                self._discrepancy("PAID", psp_reference)
            return False
        if self.status is PayoutStatus.FAILED:
            self._discrepancy("PAID", psp_reference)
            return False
        self._require_executing("record paid")
        self._paid(psp_reference=psp_reference, source=source, **self._terms())
        return True

    def record_failure(self, reason: str, psp_reference: str | None, source: str) -> bool:
        """The PSP refused it for good; True when it changed the payout."""
        if self.status is PayoutStatus.FAILED:
            return False
        if self.status in (PayoutStatus.PAID, PayoutStatus.RETURNED):
            self._discrepancy("FAILED", psp_reference)
            return False
        self._require_executing("record a failure")
        self._failed(reason=reason, psp_reference=psp_reference, source=source, **self._terms())
        return True

    def record_returned(self, psp_reference: str, source: str) -> bool:
        """A paid payout came back; True when it changed the payout."""
        if self.status is PayoutStatus.RETURNED:
            return False
        if self.status is not PayoutStatus.PAID or self.psp_reference != psp_reference:
            if self.is_terminal:
                self._discrepancy("RETURNED", psp_reference)
                return False
            raise IllegalTransition(self._state_name(), PayoutStatus.RETURNED.value)
        self._returned(psp_reference=psp_reference, source=source, **self._terms())
        return True

    def _terms(self) -> dict[str, Any]:
        """What every outcome event carries again, so that ledger and wallet rules need
        nothing but the event: the seller, the amount and the currency."""
        return {
            "seller_account": self.seller_account,
            "amount_minor": self.amount_minor,
            "currency": self.currency,
        }

    # --- events: assign only ----------------------------------------------------------

    @event(Paid)
    def _paid(
        self, psp_reference: str, source: str, seller_account: str, amount_minor: int, currency: str
    ) -> None:
        self.status = PayoutStatus.PAID
        self._outcome_reached(psp_reference)

    @event(Failed)
    def _failed(
        self,
        reason: str,
        psp_reference: str | None,
        source: str,
        seller_account: str,
        amount_minor: int,
        currency: str,
    ) -> None:
        self.status = PayoutStatus.FAILED
        self.failure_reason = reason
        self._outcome_reached(psp_reference)

    @event(Returned)
    def _returned(
        self, psp_reference: str, source: str, seller_account: str, amount_minor: int, currency: str
    ) -> None:
        self.status = PayoutStatus.RETURNED
