"""What a PaymentOrder holds besides its execution: refunds, disputes, a risk review. Each
part is replaced (never mutated) by the order's events, with class-level defaults, so that
an order the status view rebuilds from its row applies these events too."""

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
from payments.domain.execution import PspExecution
from payments.domain.money import Money


class Status(Enum):
    NOT_STARTED = "NOT_STARTED"
    EXECUTING = "EXECUTING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


TERMINAL = frozenset({Status.SUCCESS, Status.FAILED})


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


class RefundState:
    """An order's refunds, replaced (never mutated) by its events. Defaults at class level:
    the order status view rebuilds an order from its row, without them, to apply an event."""

    refund_ids: tuple[str, ...] = ()  # every refund reserved, in order
    refunds_in_flight: Mapping[str, int] = MappingProxyType({})  # refund_id -> amount
    refunded_minor: int = 0
    status: Enum
    payment_order_id: str
    currency: str
    _refund_reserved: Callable[..., None]
    _refund_completed: Callable[..., None]
    _refund_released: Callable[..., None]

    @property
    def refundable_minor(self) -> int:
        raise AttributeError("defined by the aggregate")

    def reserve_refund(self, refund_id: str, amount_minor: int) -> None:
        """Take `amount_minor` of what is refundable for the refund `refund_id`.

        Only a captured order, only a positive amount within what is refundable, once per
        refund; a concurrent reservation makes the save conflict, and the loser decides again.
        """
        if self.status is not Status.SUCCESS:
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


class DisputeState:
    """An order's disputes, replaced (never mutated) by its events; a class-level default, as
    RefundState's, so that an order rebuilt from a view's row applies dispute events too."""

    disputes: Mapping[str, tuple[int, str]] = MappingProxyType({})  # id -> (amount, outcome)
    status: Enum
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
        if self.status is not Status.SUCCESS:
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


class RiskState(PspExecution):
    """An order's risk review (issue #17): `risk_review` is the rule that sent it to review
    while an operator has not decided, None otherwise. The executor never charges an order
    under review: it does not need the executor, and no attempt may start."""

    risk_review: str | None = None
    risk_rule: str | None = None  # the rule that held or declined it
    _risk_assessed: Callable[..., None]
    _risk_reviewed: Callable[..., None]

    @property
    def needs_executor(self) -> bool:
        return super().needs_executor and self.risk_review is None

    def start_execution(self) -> None:
        if self.risk_review is not None:
            raise IllegalTransition(f"{self._state_name()} (in risk review)", "EXECUTING")
        super().start_execution()

    def assess_risk(
        self, outcome: str, rule: str | None, numbers: dict[str, int], detail: str
    ) -> None:
        """Record the rules' verdict; only before the first attempt."""
        if self.is_terminal or self.is_executing or self.attempts:
            raise IllegalTransition(self._state_name(), "risk assessed")
        self._risk_assessed(outcome=outcome, rule=rule, numbers=numbers, detail=detail)

    def review_risk(self, approved: bool, reason: str, actor: str) -> None:
        """An operator approves or declines an order in review (IllegalTransition otherwise)."""
        if self.risk_review is None:
            raise IllegalTransition(self._state_name(), "approved" if approved else "declined")
        self._risk_reviewed(
            approved=approved,
            reason=reason,
            actor=actor,
            rule=self.risk_review,
            reference=self.reference,
        )
