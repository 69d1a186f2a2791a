"""Commands on disputes: record what the PSP confirms (opened, won, lost, reopened) and the
evidence it accepted. Each saves the Dispute and its PaymentOrder in one save, and decides
again on fresh state after a concurrent write (the order is the consistency boundary of what
refunds and disputes take of it)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from eventsourcing.domain import Aggregate

from payments.domain.application import PaymentsApplication
from payments.domain.commission import RefundCommissionPolicy, Split, split_taking
from payments.domain.dispute import Dispute, DisputeStatus, PspDispute
from payments.domain.errors import DomainError, NotFound
from payments.domain.ids import dispute_uuid
from payments.domain.payment_order import PaymentOrder


class NoDispute(NotFound):
    """An order that was never disputed."""


class DisputeMismatch(DomainError):
    """A confirmed dispute that cannot be about this order (another charge or currency)."""


def refunds_taken_minor(order: PaymentOrder) -> int:
    """What refunds took of the order so far: succeeded and in flight."""
    return order.refunded_minor + sum(order.refunds_in_flight.values())


def dispute_split(
    order: PaymentOrder, taken_before_minor: int, amount_minor: int, policy: RefundCommissionPolicy
) -> Split:
    """Who bears a disputed amount: split_taking on what is left of the order; whatever the
    PSP withdraws beyond that (refunds and a dispute over the same money) is the seller's."""
    left = max(0, order.amount_minor - taken_before_minor)
    covered = min(amount_minor, left)
    if covered == 0:
        return Split(seller_minor=amount_minor, platform_minor=0)
    split = split_taking(
        gross_minor=order.amount_minor,
        commission_minor=order.commission_minor,
        taken_before_minor=taken_before_minor,
        amount_minor=covered,
        policy=policy,
    )
    return Split(split.seller_minor + amount_minor - covered, split.platform_minor)


@dataclass(frozen=True, slots=True)
class DisputeRecording:
    """What recording a confirmed dispute did: the dispute, and whether anything changed."""

    dispute: Dispute
    changed: bool
    position: int | None = None


class DisputeCommands:
    def __init__(self, application: PaymentsApplication, policy: RefundCommissionPolicy) -> None:
        self.application = application
        self.policy = policy

    # --- reads ------------------------------------------------------------------------

    def find(self, psp_dispute_id: str) -> Dispute | None:
        return self.application.find(Dispute, dispute_uuid(psp_dispute_id))

    def dispute_of_order(self, payment_order_id: str) -> Dispute:
        """The order's (last) dispute; NotFound for an unknown order, NoDispute for none."""
        order = self.application.get_order(payment_order_id)
        psp_dispute_id = order.latest_dispute_id
        dispute = None if psp_dispute_id is None else self.find(psp_dispute_id)
        if dispute is None:
            raise NoDispute(f"payment order {payment_order_id!r} has no dispute")
        return dispute

    # --- what the PSP confirmed ---------------------------------------------------------------

    def record_psp_dispute(self, facts: PspDispute) -> DisputeRecording:
        """Bring our dispute in line with the PSP's confirmed state: open it (once per PSP
        dispute id), then won, lost or reopened as the PSP says. Repeats and stale states
        change nothing. NotFound when the charge is not one of our orders; IllegalTransition
        when the order has not recorded its capture yet (the PSP's next delivery will do)."""

        def decide() -> tuple[DisputeRecording, list[Aggregate]]:
            order = self.application.get_order(facts.charge_reference)
            dispute = self.find(facts.psp_dispute_id)
            opened = dispute is None
            if dispute is None:
                dispute = self._open(order, facts)
            followed = self._follow(order, dispute, facts.status)
            changed = opened or followed
            return DisputeRecording(dispute, changed), ([dispute, order] if changed else [])

        recording, position = self.application.decide_and_save(decide)
        return replace(recording, position=position)

    def _open(self, order: PaymentOrder, facts: PspDispute) -> Dispute:
        if order.psp_reference is not None and order.psp_reference != facts.charge_id:
            raise DisputeMismatch(
                f"dispute {facts.psp_dispute_id} is on charge {facts.charge_id}, but order "
                f"{order.payment_order_id} was captured as {order.psp_reference}"
            )
        if facts.currency != order.currency:
            raise DisputeMismatch(
                f"dispute {facts.psp_dispute_id} is in {facts.currency}, the order in "
                f"{order.currency}"
            )
        taken_before = refunds_taken_minor(order) + order.disputed_minor
        split = dispute_split(order, taken_before, facts.amount_minor, self.policy)
        order.take_dispute(facts.psp_dispute_id, facts.amount_minor)
        return Dispute(
            psp_dispute_id=facts.psp_dispute_id,
            payment_order_id=order.payment_order_id,
            seller_account=order.seller_account,
            amount_minor=facts.amount_minor,
            fee_minor=facts.fee_minor,
            currency=facts.currency,
            seller_share_minor=split.seller_minor,
            platform_share_minor=split.platform_minor,
            reason=facts.reason,
            evidence_due_by=facts.evidence_due_by,
            charge_reference=facts.charge_reference,
        )

    def _follow(self, order: PaymentOrder, dispute: Dispute, status: DisputeStatus) -> bool:
        """Apply the PSP's decision, if it made one we have not recorded."""
        if status is DisputeStatus.WON:
            if not dispute.record_won():
                return False
            order.close_dispute(dispute.psp_dispute_id, "won")
            return True
        if status is not DisputeStatus.LOST:
            return False  # still open at the PSP: evidence is recorded when we forward it
        if dispute.status is DisputeStatus.WON:  # a second chargeback
            taken_before = refunds_taken_minor(order) + order.disputed_minor
            split = dispute_split(order, taken_before, dispute.amount_minor, self.policy)
            changed = dispute.record_reopened(split)
        else:
            changed = dispute.record_lost()
        if changed:
            order.close_dispute(dispute.psp_dispute_id, "lost")
        return changed

    # --- evidence ---------------------------------------------------------------------------

    def evidence_target(self, payment_order_id: str, now: datetime) -> Dispute:
        """The order's dispute, if it may take evidence now; else NotFound, NoDispute,
        DisputeClosed or EvidenceTooLate (checked before anything goes to the PSP)."""
        dispute = self.dispute_of_order(payment_order_id)
        dispute.check_evidence_allowed(now)
        return dispute

    def record_evidence(self, psp_dispute_id: str, submitted_by: str, text: str) -> int | None:
        """Record evidence the PSP accepted (once); the position of the write, if any."""

        def decide() -> list[Aggregate]:
            dispute = self.find(psp_dispute_id)
            if dispute is None:
                raise NoDispute(f"no dispute {psp_dispute_id!r}")
            return [dispute] if dispute.record_evidence(submitted_by, text) else []

        return self.application.retry_on_conflict(decide)
