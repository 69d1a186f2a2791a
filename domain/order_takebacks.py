"""What is taken back of a captured PaymentOrder: its refunds and its disputes (ADR 0014).

The order is the consistency boundary of what is taken back: a refund reserves its amount on
the order (saved with Refund.Requested), a dispute takes its amount while it is not won. These
mixins hold the commands and what they compute; PaymentOrder keeps the events (their topics
name the aggregate) and the @event methods that assign. The state defaults stand at class
level: the order status view rebuilds an order from its row, without them, to apply an event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from types import MappingProxyType

from payments.domain.errors import (
    FieldError,
    IllegalTransition,
    InvalidCommand,
    OrderNotRefundable,
    RefundConflict,
)
from payments.domain.money import Money


def refund_amount_errors(
    amount_minor: int, refundable_minor: int, currency: str
) -> list[FieldError]:
    """Why a refund of `amount_minor` cannot be taken now (none: it can)."""
    if refundable_minor <= 0:
        return [FieldError("amount", "nothing is left to refund of this order")]
    if amount_minor <= 0:
        return [FieldError("amount", "must be greater than zero")]
    if amount_minor > refundable_minor:
        left = Money(refundable_minor, currency).format()
        return [FieldError("amount", f"must be at most {left}, what is left to refund")]
    return []


class Captured:
    """What both mixins ask of the order: its status, and whether it was captured."""

    status: Enum
    payment_order_id: str
    amount_minor: int
    currency: str

    @property
    def is_captured(self) -> bool:
        raise AttributeError("defined by the aggregate")


class DisputeState(Captured):
    """An order's disputes, replaced (never mutated) by its events."""

    disputes: Mapping[str, tuple[int, str]] = MappingProxyType({})  # id -> (amount, outcome)

    # The aggregate's @event methods.
    _dispute_opened: Callable[..., None]
    _dispute_closed: Callable[..., None]

    @property
    def disputed_minor(self) -> int:
        """What disputes take of the order now: every dispute's amount unless it was won."""
        return sum(amount for amount, outcome in self.disputes.values() if outcome != "won")

    @property
    def latest_dispute_id(self) -> str | None:
        """The PSP's id of the order's last dispute (a charge has one; None: never disputed)."""
        return next(reversed(list(self.disputes)), None)

    def take_dispute(self, psp_dispute_id: str, amount_minor: int) -> bool:
        """A confirmed dispute on the captured charge; False when it was recorded already."""
        if psp_dispute_id in self.disputes:
            return False
        if not self.is_captured:
            raise IllegalTransition(self.status, "DISPUTED")
        self._dispute_opened(psp_dispute_id=psp_dispute_id, amount_minor=amount_minor)
        return True

    def close_dispute(self, psp_dispute_id: str, outcome: str) -> bool:
        """The dispute's outcome ("won" or "lost"); False when it is recorded already."""
        if outcome not in ("won", "lost") or psp_dispute_id not in self.disputes:
            raise IllegalTransition(f"dispute {psp_dispute_id}", outcome)
        if self.disputes[psp_dispute_id][1] == outcome:
            return False
        self._dispute_closed(psp_dispute_id=psp_dispute_id, outcome=outcome)
        return True

    def _opened(self, psp_dispute_id: str, amount_minor: int) -> None:
        """What DisputeOpened assigns."""
        self.disputes = MappingProxyType({**self.disputes, psp_dispute_id: (amount_minor, "open")})

    def _closed(self, psp_dispute_id: str, outcome: str) -> None:
        """What DisputeClosed assigns."""
        amount = self.disputes.get(psp_dispute_id, (0, outcome))[0]
        self.disputes = MappingProxyType({**self.disputes, psp_dispute_id: (amount, outcome)})


class RefundState(DisputeState):
    """An order's refunds, replaced (never mutated) by its events."""

    refund_ids: tuple[str, ...] = ()  # every refund reserved, in order
    refunds_in_flight: Mapping[str, int] = MappingProxyType({})  # refund_id -> amount
    refunded_minor: int = 0

    # The aggregate's @event methods.
    _refund_reserved: Callable[..., None]
    _refund_completed: Callable[..., None]
    _refund_released: Callable[..., None]

    @property
    def taken_minor(self) -> int:
        """What is taken back from the captured amount: refunds succeeded or in flight, and
        disputed amounts not won (a dispute may take more than refunds left: see refundable)."""
        return self.refunded_minor + sum(self.refunds_in_flight.values()) + self.disputed_minor

    @property
    def refundable_minor(self) -> int:
        """What a new refund may still take: nothing unless the order was captured."""
        if not self.is_captured:
            return 0
        return max(0, self.amount_minor - self.taken_minor)

    def reserve_refund(self, refund_id: str, amount_minor: int) -> None:
        """Take `amount_minor` of what is refundable for the refund `refund_id`.

        Only a captured order, only a positive amount within what is refundable, once per
        refund; a concurrent reservation makes the save conflict, and the loser decides again.
        """
        if not self.is_captured:
            raise OrderNotRefundable(self.payment_order_id, self.status.value)
        if refund_id in self.refund_ids:
            raise RefundConflict(refund_id)
        errors = refund_amount_errors(amount_minor, self.refundable_minor, self.currency)
        if errors:
            raise InvalidCommand(errors)
        self._refund_reserved(refund_id=refund_id, amount_minor=amount_minor)

    def complete_refund(self, refund_id: str) -> bool:
        """The refund succeeded; True when it changed the order, False for a repeat."""
        if refund_id not in self.refunds_in_flight:
            return False
        self._refund_completed(refund_id=refund_id)
        return True

    def release_refund(self, refund_id: str) -> bool:
        """The refund failed: its amount is refundable again; False for a repeat."""
        if refund_id not in self.refunds_in_flight:
            return False
        self._refund_released(refund_id=refund_id)
        return True

    def _reserved(self, refund_id: str, amount_minor: int) -> None:
        """What RefundReserved assigns."""
        self.refund_ids = (*self.refund_ids, refund_id)
        self.refunds_in_flight = MappingProxyType(
            {**self.refunds_in_flight, refund_id: amount_minor}
        )

    def _ended(self, refund_id: str, *, refunded: bool) -> None:
        """What RefundCompleted (refunded) and RefundReleased assign."""
        if refunded:
            self.refunded_minor += self.refunds_in_flight.get(refund_id, 0)
        in_flight = dict(self.refunds_in_flight)
        in_flight.pop(refund_id, None)
        self.refunds_in_flight = MappingProxyType(in_flight)
