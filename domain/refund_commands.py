"""Commands on refunds: request (reserve on the order + create, in one save), PSP outcomes
(the refund's outcome and the order's completion or release, in one save), dead-letter
replay. Each decides on fresh state again after a concurrent write (ADR 0014)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from eventsourcing.domain import Aggregate

from payments.domain.application import PaymentsApplication
from payments.domain.commission import RefundCommissionPolicy, split_taking
from payments.domain.errors import (
    OrderNotRefundable,
    RefundConflict,
    found,
)
from payments.domain.execution import Declined, Succeeded
from payments.domain.ids import payment_order_uuid, refund_uuid
from payments.domain.payment_order import PaymentOrder, Status
from payments.domain.reasons import require_reason
from payments.domain.refund import Refund, RefundStatus

REFUND_PREFIX = "re_"
MAX_REASON_LENGTH = 200
# 20 concurrent refunds of one order each conflict at most once per winner before them.
REFUND_SAVE_ATTEMPTS = 25


def refund_id_for_key(idempotency_key: str) -> str:
    """The refund a POST .../refunds with this (caller-scoped) Idempotency-Key creates."""
    return REFUND_PREFIX + hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]


@dataclass(frozen=True, slots=True)
class RequestRefund:
    refund_id: str
    payment_order_id: str
    amount_minor: int | None  # None: everything that is left to refund
    reason: str | None
    requested_by: str  # the API key id


@dataclass(frozen=True, slots=True)
class RefundPlacement:
    refund: Refund
    created: bool
    position: int | None = None


def settle_order_of(application: PaymentsApplication, refund: Refund) -> list[Aggregate]:
    """The order's side of a refund's outcome, to save with it: a succeeded refund completes
    its reservation, a failed one releases it (its amount is refundable again)."""
    if not refund.is_terminal:
        return []
    order = application.get_order(refund.payment_order_id)
    if refund.status is RefundStatus.SUCCEEDED:
        changed = order.complete_refund(refund.refund_id)
    else:
        changed = order.release_refund(refund.refund_id)
    return [order] if changed else []


def reserved_refund(
    order: PaymentOrder,
    refund_id: str,
    amount_minor: int,
    policy: RefundCommissionPolicy,
    *,
    reason: str | None,
    charge_reference: str,
    requested_by: str,
) -> Refund:
    """A new Refund of `amount_minor`, reserved on the order, its amount split between the
    seller and the platform by `policy` (ADR 0014). Both are to be saved together."""
    taken_before = order.taken_minor
    order.reserve_refund(refund_id, amount_minor)
    split = split_taking(
        gross_minor=order.amount_minor,
        commission_minor=order.commission_minor,
        taken_before_minor=taken_before,
        amount_minor=amount_minor,
        policy=policy,
    )
    return Refund(
        refund_id=refund_id,
        payment_order_id=order.payment_order_id,
        order_uuid=payment_order_uuid(order.payment_order_id),
        seller_account=order.seller_account,
        amount_minor=amount_minor,
        currency=order.currency,
        seller_share_minor=split.seller_minor,
        platform_share_minor=split.platform_minor,
        reason=reason,
        charge_reference=charge_reference,
        requested_by=requested_by,
    )


class RefundCommands:
    def __init__(self, application: PaymentsApplication) -> None:
        self.application = application

    def find(self, refund_id: str) -> Refund | None:
        return self.application.find(Refund, refund_uuid(refund_id))

    def get(self, refund_id: str) -> Refund:
        return found(self.find(refund_id), f"refund {refund_id!r}")

    def refunds_of(self, order: PaymentOrder) -> list[Refund]:
        """The order's refunds, oldest first."""
        return [self.get(refund_id) for refund_id in order.refund_ids]

    # --- requesting a refund ---------------------------------------------------------------

    def request_refund(self, command: RequestRefund) -> RefundPlacement:
        """Reserve the amount on the order and create the Refund in one save.

        Only a captured (SUCCESS) order; a positive amount within what is refundable (None:
        all of it); the split between seller and platform by the deployment's policy on the
        running total. A racing refund of the same order makes one of the saves conflict;
        the loser decides again on what is left. An identical repeat answers the refund.
        """
        _check_reason(command.reason)

        def decide() -> tuple[RefundPlacement, list[Aggregate]]:
            existing = self.find(command.refund_id)
            if existing is not None:
                if not existing.same_content(command.payment_order_id, command.amount_minor):
                    raise RefundConflict(command.refund_id)
                return RefundPlacement(existing, created=False), []
            order = self.application.get_order(command.payment_order_id)
            if order.status is not Status.SUCCESS or order.psp_reference is None:
                raise OrderNotRefundable(order.payment_order_id, order.status.value)
            amount = command.amount_minor
            if amount is None:
                amount = order.refundable_minor
            refund = reserved_refund(
                order,
                command.refund_id,
                amount,
                self.application.policy.refund_commission,
                reason=command.reason,
                charge_reference=order.psp_reference,
                requested_by=command.requested_by,
            )
            return RefundPlacement(refund, created=True), [order, refund]

        placement, position = self.application.decide_and_save(decide, REFUND_SAVE_ATTEMPTS)
        return replace(placement, position=position)

    # --- outcomes (webhooks) and operators --------------------------------------------------

    def record_answer(self, refund_id: str, answer: Succeeded | Declined, source: str) -> bool:
        """The PSP's final word on a refund, saved with the order's completion or release;
        True when it changed the refund."""

        def decide() -> tuple[bool, list[Aggregate]]:
            refund = self.get(refund_id)
            changed = refund.record_final_answer(answer, source)
            return changed, [refund, *settle_order_of(self.application, refund)]

        return self.application.decide_and_save(decide)[0]

    def replay_dead_letter(self, refund_id: str, reason: str, actor: str) -> int | None:
        """Send a dead-lettered refund back to the executor; returns the event position."""
        refund = self.get(refund_id)
        refund.replay_dead_letter(reason, actor)
        return self.application.record(refund)


def _check_reason(reason: str | None) -> None:
    if reason is None:
        return
    require_reason(reason, MAX_REASON_LENGTH)
