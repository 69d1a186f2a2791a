"""Dispute: a chargeback the card network raised on one of our captured orders (ADR 0014).

The PSP decides a dispute; we record what its own look-up confirms (never a webhook's word):
opened (the amount and the PSP's fee withdrawn), evidence we forwarded, won (the amount given
back, the fee kept), lost, and a second chargeback (a won dispute lost after all). Each event
that moves money carries the seller's and the platform's shares, so that the ledger never
depends on configuration or on other aggregates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from payments.domain.commission import Split, taking_terms
from payments.domain.errors import DomainError
from payments.domain.ids import dispute_uuid

SUMMARY_CHARACTERS = 100  # what of an evidence text the event keeps: a hint, not the evidence


class DisputeStatus(Enum):
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"


OPEN = frozenset({DisputeStatus.NEEDS_RESPONSE, DisputeStatus.UNDER_REVIEW})
PSP_STATUSES = {status.value: status for status in DisputeStatus}


@dataclass(frozen=True, slots=True)
class PspDispute:
    """A dispute as the PSP's own look-up shows it (the only word we record from)."""

    psp_dispute_id: str
    charge_id: str
    charge_reference: str  # our reference at the PSP: the payment_order_id
    amount_minor: int
    currency: str
    fee_minor: int
    reason: str
    status: DisputeStatus
    evidence_due_by: datetime


class DisputeClosed(DomainError):
    """Evidence for a dispute that is no longer awaiting it (under review, won or lost)."""

    def __init__(self, psp_dispute_id: str, status: DisputeStatus) -> None:
        super().__init__(f"dispute {psp_dispute_id} is {status.value}: it takes no evidence")
        self.status = status


class EvidenceTooLate(DomainError):
    """Evidence after the deadline the PSP set."""

    def __init__(self, psp_dispute_id: str, due_by: datetime) -> None:
        super().__init__(f"evidence for dispute {psp_dispute_id} was due by {due_by.isoformat()}")
        self.due_by = due_by


def evidence_summary(text: str) -> str:
    """The short hint an event keeps of an evidence text (the text itself stays at the PSP)."""
    flat = " ".join(text.split())
    if len(flat) <= SUMMARY_CHARACTERS:
        return flat
    return flat[: SUMMARY_CHARACTERS - 1] + "…"


class TakingMoved(Aggregate.Event):
    """The base of Won and Reopened: what moves the disputed amount again carries the order,
    the seller, the amount and both shares, so the ledger posts from the event alone."""

    payment_order_id: str
    seller_account: str
    currency: str
    amount_minor: int
    seller_share_minor: int
    platform_share_minor: int


class Dispute(Aggregate):
    TOPIC = "payments.Dispute"

    class Opened(Aggregate.Created):
        TOPIC = "payments.Dispute.Opened.v1"
        psp_dispute_id: str
        payment_order_id: str
        seller_account: str
        amount_minor: int
        fee_minor: int
        currency: str
        seller_share_minor: int
        platform_share_minor: int
        reason: str
        evidence_due_by: datetime
        charge_reference: str

    # Opened is the creation event; no event of the generic name is defined beside it.
    Created = None  # type: ignore[assignment]

    class EvidenceSubmitted(Aggregate.Event):
        TOPIC = "payments.Dispute.EvidenceSubmitted.v1"
        payment_order_id: str  # so that the audit trail needs nothing but the event
        submitted_by: str
        summary: str

    class Won(TakingMoved):
        """The amount comes back: shares as withdrawn, so the ledger reverses them exactly."""

        TOPIC = "payments.Dispute.Won.v1"

        def apply(self, aggregate: Any) -> None:
            aggregate.status = DisputeStatus.WON

    class Lost(Aggregate.Event):
        TOPIC = "payments.Dispute.Lost.v1"

    class Reopened(TakingMoved):
        """A second chargeback: a won dispute lost after all; the amount is withdrawn again."""

        TOPIC = "payments.Dispute.Reopened.v1"

        def apply(self, aggregate: Any) -> None:
            aggregate.status = DisputeStatus.LOST
            aggregate.reopened = True
            aggregate.seller_share_minor = self.seller_share_minor
            aggregate.platform_share_minor = self.platform_share_minor

    @staticmethod
    def create_id(psp_dispute_id: str) -> UUID:
        return dispute_uuid(psp_dispute_id)

    @event(Opened)
    def __init__(
        self,
        psp_dispute_id: str,
        payment_order_id: str,
        seller_account: str,
        amount_minor: int,
        fee_minor: int,
        currency: str,
        seller_share_minor: int,
        platform_share_minor: int,
        reason: str,
        evidence_due_by: datetime,
        charge_reference: str,
    ) -> None:
        self.psp_dispute_id = psp_dispute_id
        self.payment_order_id = payment_order_id
        self.seller_account = seller_account
        self.amount_minor = amount_minor
        self.fee_minor = fee_minor
        self.currency = currency
        self.seller_share_minor = seller_share_minor
        self.platform_share_minor = platform_share_minor
        self.reason = reason
        self.evidence_due_by = evidence_due_by
        self.charge_reference = charge_reference
        self.status = DisputeStatus.NEEDS_RESPONSE
        self.evidence_submitted = False
        self.reopened = False

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    # --- commands -----------------------------------------------------------------------

    def check_evidence_allowed(self, now: datetime) -> None:
        """Raise unless evidence may go to the PSP now: before the due time (checked first, as
        the PSP does), and while the dispute awaits it."""
        if now >= self.evidence_due_by:
            raise EvidenceTooLate(self.psp_dispute_id, self.evidence_due_by)
        if self.status is not DisputeStatus.NEEDS_RESPONSE:
            raise DisputeClosed(self.psp_dispute_id, self.status)

    def record_evidence(self, submitted_by: str, text: str) -> bool:
        """Record evidence the PSP accepted; False when it was recorded already."""
        if self.evidence_submitted:
            return False
        if not self.is_open:
            raise DisputeClosed(self.psp_dispute_id, self.status)
        self._evidence_submitted(
            payment_order_id=self.payment_order_id,
            submitted_by=submitted_by,
            summary=evidence_summary(text),
        )
        return True

    def record_won(self) -> bool:
        """The PSP decided for us; False when nothing changes (a repeat, or already decided)."""
        if not self.is_open:
            return False
        terms = taking_terms(self, Split(self.seller_share_minor, self.platform_share_minor))
        self.trigger_event(self.Won, **terms)
        return True

    def record_lost(self) -> bool:
        """The PSP decided against us while the dispute was open (nothing comes back)."""
        if not self.is_open:
            return False
        self._lost()
        return True

    def record_reopened(self, split: Split) -> bool:
        """A won dispute lost after all (once): the amount is withdrawn again, split anew."""
        if self.status is not DisputeStatus.WON or self.reopened:
            return False
        self.trigger_event(self.Reopened, **taking_terms(self, split))
        return True

    # --- events: assign only --------------------------------------------------------------

    @event(EvidenceSubmitted)
    def _evidence_submitted(self, payment_order_id: str, submitted_by: str, summary: str) -> None:
        self.status = DisputeStatus.UNDER_REVIEW
        self.evidence_submitted = True

    @event(Lost)
    def _lost(self) -> None:
        self.status = DisputeStatus.LOST
