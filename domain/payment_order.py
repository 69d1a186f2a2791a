"""PaymentOrder: one seller's share of a checkout, charged at the PSP exactly once in effect."""

from __future__ import annotations

from enum import Enum
from types import MappingProxyType
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain import execution_events
from payments.domain.execution import FailureCode, SucceedsOrFails
from payments.domain.ids import payment_order_uuid
from payments.domain.money import Money
from payments.domain.order_risk import RiskState
from payments.domain.order_takebacks import RefundState


class Status(Enum):
    NOT_STARTED = "NOT_STARTED"
    EXECUTING = "EXECUTING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


TERMINAL = frozenset({Status.SUCCESS, Status.FAILED})


class PaymentOrder(RefundState, RiskState, SucceedsOrFails, Aggregate):
    TOPIC = "payments.PaymentOrder"
    EXECUTING, TERMINAL = Status.EXECUTING, TERMINAL
    SUCCEEDED, FAILED = Status.SUCCESS, Status.FAILED

    class Created(Aggregate.Created):
        TOPIC = "payments.PaymentOrder.Created.v1"
        # v2 adds the platform's commission and whether the seller's share is held pending
        # until the PSP settles it (ADR 0014). Orders recorded before had no commission and
        # credited the seller at once: upcast as such, so their history keeps its meaning.
        class_version = 2
        payment_order_id: str
        checkout_id: str
        seller_account: str
        amount_minor: int
        currency: str
        card_token: str
        commission_minor: int
        funds_held: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["commission_minor"] = 0
            state["funds_held"] = False

    class ExecutionStarted(execution_events.ExecutionStarted):
        TOPIC = "payments.PaymentOrder.ExecutionStarted.v1"

    class RetryScheduled(execution_events.RetryScheduled):
        TOPIC = "payments.PaymentOrder.RetryScheduled.v1"

    class PendingAtPsp(execution_events.PendingAtPsp):
        TOPIC = "payments.PaymentOrder.PendingAtPsp.v1"

    class Succeeded(execution_events.Succeeded):
        TOPIC = "payments.PaymentOrder.Succeeded.v1"

    class Failed(execution_events.Failed):
        TOPIC = "payments.PaymentOrder.Failed.v1"

    class DeadLettered(execution_events.DeadLettered):
        TOPIC = "payments.PaymentOrder.DeadLettered.v1"

    class DeadLetterReplayed(execution_events.DeadLetterReplayed):
        TOPIC = "payments.PaymentOrder.DeadLetterReplayed.v1"
        class_version = 2  # v2 adds who replayed it (an API key id, or "cli") and what

    class FundsReleased(Aggregate.Event):
        """The seller's share of a captured order became available to pay out (ADR 0014)."""

        TOPIC = "payments.PaymentOrder.FundsReleased.v1"
        reason: str  # "settled" (a matched settlement line) or "after_days"

    # --- disputes (ADR 0014): what a chargeback takes of the order ---------------------------

    class DisputeOpened(Aggregate.Event):
        """Saved with Dispute.Opened: the disputed amount is taken while the dispute is not won."""

        TOPIC = "payments.PaymentOrder.DisputeOpened.v1"
        psp_dispute_id: str
        amount_minor: int

    class DisputeClosed(Aggregate.Event):
        """Saved with Dispute.Won/Lost/Reopened: "won" gives the amount back, "lost" takes it
        (again, after a second chargeback)."""

        TOPIC = "payments.PaymentOrder.DisputeClosed.v1"
        psp_dispute_id: str
        outcome: str  # "won" | "lost"

    # --- refunds (ADR 0014): the order is the consistency boundary of what is taken back --

    class RefundReserved(Aggregate.Event):
        """A refund took `amount_minor` of what is refundable (saved with Refund.Requested)."""

        TOPIC = "payments.PaymentOrder.RefundReserved.v1"
        refund_id: str
        amount_minor: int

    class RefundCompleted(Aggregate.Event):
        """The reserved refund succeeded at the PSP: its amount is refunded for good."""

        TOPIC = "payments.PaymentOrder.RefundCompleted.v1"
        refund_id: str

    class RefundReleased(Aggregate.Event):
        """The reserved refund failed: its amount is refundable again."""

        TOPIC = "payments.PaymentOrder.RefundReleased.v1"
        refund_id: str

    class DiscrepancyRecorded(execution_events.DiscrepancyRecorded):
        TOPIC = "payments.PaymentOrder.DiscrepancyRecorded.v1"

    class RiskAssessed(Aggregate.Event):
        TOPIC = "payments.PaymentOrder.RiskAssessed.v1"  # before any charge (docs/events.md)
        outcome: str
        rule: str | None
        numbers: dict[str, int]
        detail: str

    class RiskReviewed(Aggregate.Event):
        TOPIC = "payments.PaymentOrder.RiskReviewed.v1"  # an operator's decision
        approved: bool
        reason: str
        actor: str  # the operator's API key id
        rule: str
        reference: str  # the payment_order_id, so an audit trail needs nothing but the event

    @staticmethod
    def create_id(payment_order_id: str) -> UUID:
        return payment_order_uuid(payment_order_id)

    @event(Created)
    def __init__(
        self,
        payment_order_id: str,
        checkout_id: str,
        seller_account: str,
        amount_minor: int,
        currency: str,
        card_token: str,
        commission_minor: int,
        funds_held: bool,
    ) -> None:
        self.payment_order_id = payment_order_id
        self.checkout_id = checkout_id
        self.seller_account = seller_account
        self.amount_minor = amount_minor
        self.currency = currency
        self.card_token = card_token
        self.commission_minor = commission_minor
        self.funds_held = funds_held
        self.funds_released = False
        self.status = Status.NOT_STARTED
        self._init_execution()
        self.failure_code: FailureCode | None = None
        self.failure_reason: str | None = None
        self.refund_ids = ()
        self.refunds_in_flight = MappingProxyType({})
        self.refunded_minor = 0

    @property
    def seller_net_minor(self) -> int:
        """What the seller earns from this order: the amount less the commission."""
        return self.amount_minor - self.commission_minor

    @property
    def awaits_release(self) -> bool:
        """True for a captured order whose seller's share is still pending."""
        return self.status is Status.SUCCESS and self.funds_held and not self.funds_released

    @property
    def is_captured(self) -> bool:
        return self.status is Status.SUCCESS

    @property
    def reference(self) -> str:
        """Our reference at the PSP (and the Idempotency-Key of every call)."""
        return self.payment_order_id

    def same_content(self, checkout_id: str, seller_account: str, amount: Money) -> bool:
        """True when a repeated command describes exactly this order."""
        return (self.checkout_id, self.seller_account, self.amount) == (
            checkout_id,
            seller_account,
            amount,
        )

    # --- commands: validate, then trigger an event -------------------------------------

    def release_funds(self, reason: str) -> bool:
        """Make the seller's share available; True when it changed, False when not held.

        Only a captured order's share is released, and only once; an order whose net is
        zero (commission took it all) has nothing to release but is marked all the same.
        """
        if not self.awaits_release:
            return False
        self._funds_released(reason=reason)
        return True

    @classmethod
    def final_status_of(cls, event: object) -> Status | None:
        """The status an order's own event leaves it in for good (SUCCESS or FAILED: its
        outcome recorded, or blocked by the risk rules), None for any other event: what
        `is_terminal` and `status` say after it, known without loading the order."""
        if isinstance(event, cls.Succeeded):
            return Status.SUCCESS
        if isinstance(event, cls.Failed):
            return Status.FAILED
        if isinstance(event, cls.RiskAssessed) and event.outcome == "decline":
            return Status.FAILED
        if isinstance(event, cls.RiskReviewed) and not event.approved:
            return Status.FAILED
        return None

    # --- risk (issue #17): the rules' verdict, an operator's review (order_risk.py) -------

    @event(RiskAssessed)
    def _risk_assessed(
        self, outcome: str, rule: str | None, numbers: dict[str, int], detail: str
    ) -> None:
        self.risk_rule = rule
        if outcome == "review":
            self.risk_review = rule
        elif outcome == "decline":
            self._blocked(_declined_by_rule(rule, detail))

    @event(RiskReviewed)
    def _risk_reviewed(
        self, approved: bool, reason: str, actor: str, rule: str, reference: str
    ) -> None:
        self.risk_review = None
        if not approved:
            self._blocked(_declined_in_review(rule, reason))

    @classmethod
    def risk_block_of(cls, event: object) -> str | None:
        """Why the risk rules blocked the order, for an event that blocks it (the order's
        failure_reason after it), else None."""
        if isinstance(event, cls.RiskAssessed) and event.outcome == "decline":
            return _declined_by_rule(event.rule, event.detail)
        if isinstance(event, cls.RiskReviewed) and not event.approved:
            return _declined_in_review(event.rule, event.reason)
        return None

    def _blocked(self, reason: str) -> None:
        self.status = Status.FAILED
        self.failure_code = FailureCode.BLOCKED_BY_RISK
        self.failure_reason = reason
        self._outcome_reached(None)

    # --- events: assign only ----------------------------------------------------------

    @event(FundsReleased)
    def _funds_released(self, reason: str) -> None:
        self.funds_released = True

    @event(DisputeOpened)
    def _dispute_opened(self, psp_dispute_id: str, amount_minor: int) -> None:
        self._opened(psp_dispute_id, amount_minor)

    @event(DisputeClosed)
    def _dispute_closed(self, psp_dispute_id: str, outcome: str) -> None:
        self._closed(psp_dispute_id, outcome)

    @event(RefundReserved)
    def _refund_reserved(self, refund_id: str, amount_minor: int) -> None:
        self._reserved(refund_id, amount_minor)

    @event(RefundCompleted)
    def _refund_completed(self, refund_id: str) -> None:
        self._ended(refund_id, refunded=True)

    @event(RefundReleased)
    def _refund_released(self, refund_id: str) -> None:
        self._ended(refund_id, refunded=False)


def _declined_by_rule(rule: str | None, detail: str) -> str:
    return f"blocked by risk rule {rule}: {detail}"


def _declined_in_review(rule: str, reason: str) -> str:
    return f"declined in review (risk rule {rule}): {reason}"
