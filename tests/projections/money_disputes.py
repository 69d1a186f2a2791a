"""The dispute steps of a random marketplace history (money_history.py): the PSP's dispute
recorded by the real DisputeCommands, its shares checked, the model's movements kept in step."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from payments.domain.dispute import DisputeStatus, PspDispute
from payments.domain.dispute_commands import DisputeCommands
from payments.domain.reconciliation.expected import (
    CHARGEBACK,
    CHARGEBACK_REVERSAL,
    DISPUTE_FEE,
    SECOND_CHARGEBACK,
    movement_id,
)
from tests.projections.money_model import LOST, REOPENED, WON, DisputeFact, Model, Movement

CURRENCY = "USD"


class DisputeSteps:
    """Mixed into History, whose model, dispute commands and ids these steps use."""

    model: Model
    disputes: DisputeCommands
    next_id: Callable[[str], str]

    def psp_dispute(self, dispute: DisputeFact, status: DisputeStatus) -> PspDispute:
        return PspDispute(
            psp_dispute_id=dispute.dispute_id,
            charge_id=f"ch_{dispute.order_id}",
            charge_reference=dispute.order_id,
            amount_minor=dispute.amount,
            currency=CURRENCY,
            fee_minor=dispute.fee,
            reason="fraudulent",
            status=status,
            evidence_due_by=datetime(2030, 1, 9, tzinfo=UTC),
        )

    def open_dispute(self, order_id: str, percent: int, fee: int) -> None:
        order = self.model.orders[order_id]
        amount = max(1, order.amount * percent // 100)
        seller_share, platform_share = self.model.split(order_id, amount)
        dispute = DisputeFact(
            self.next_id("dp"), order_id, order.seller, amount, fee, seller_share, platform_share
        )
        recorded = self.disputes.record_psp_dispute(
            self.psp_dispute(dispute, DisputeStatus.NEEDS_RESPONSE)
        )
        assert recorded.changed
        made = recorded.dispute
        assert (made.seller_share_minor, made.platform_share_minor) == (
            seller_share,
            platform_share,
        )
        self.model.disputes[dispute.dispute_id] = dispute
        self.movement(CHARGEBACK, dispute.dispute_id, -amount)
        if fee:
            self.movement(DISPUTE_FEE, dispute.dispute_id, -fee)

    def decide_dispute(self, dispute_id: str, verdict: str) -> None:
        dispute = self.model.disputes[dispute_id]
        reopened = dispute.status == WON
        if reopened:  # a second chargeback, split anew on what is taken now
            dispute.seller_share, dispute.platform_share = self.model.split(
                dispute.order_id, dispute.amount
            )
        status = DisputeStatus.WON if verdict == "won" else DisputeStatus.LOST
        recorded = self.disputes.record_psp_dispute(self.psp_dispute(dispute, status))
        assert recorded.changed
        made = recorded.dispute
        assert (made.seller_share_minor, made.platform_share_minor) == (
            dispute.seller_share,
            dispute.platform_share,
        )
        if reopened:
            dispute.status = REOPENED
            self.movement(SECOND_CHARGEBACK, dispute_id, -dispute.amount)
        elif verdict == "won":
            dispute.status = WON
            self.movement(CHARGEBACK_REVERSAL, dispute_id, dispute.amount)
        else:
            dispute.status = LOST

    def movement(self, kind: str, key: str, signed: int) -> None:
        reference = movement_id(kind, key)
        self.model.movements[reference] = Movement(reference, kind, signed)
