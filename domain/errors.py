"""Domain errors: each names what was refused and why, in words a client can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


class DomainError(Exception):
    """Base of every rule the domain refuses."""


@dataclass(frozen=True, slots=True)
class FieldError:
    """One refused field: a path such as ``payment_orders[1].amount`` and a message."""

    field: str
    message: str


class InvalidCommand(DomainError):
    """A command whose fields break the rules; carries one FieldError per problem."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))
        self.errors = errors


class CheckoutConflict(DomainError):
    """A checkout_id that already exists with different content."""

    def __init__(self, checkout_id: str) -> None:
        super().__init__(f"checkout {checkout_id!r} already exists with different content")
        self.checkout_id = checkout_id


class PaymentOrderConflict(DomainError):
    """A payment_order_id that already belongs to another checkout or other content."""

    def __init__(self, payment_order_id: str) -> None:
        super().__init__(
            f"payment order {payment_order_id!r} already exists with different content"
        )
        self.payment_order_id = payment_order_id


class IllegalTransition(DomainError):
    """A state change the payment order's status machine does not allow."""

    def __init__(self, current: object, wanted: object) -> None:
        super().__init__(f"cannot go from {current} to {wanted}")
        self.current = current
        self.wanted = wanted


class NotFound(DomainError):
    """An aggregate that does not exist."""


def found(aggregate: T | None, name: str) -> T:
    """`aggregate` when there is one, else NotFound for `name` (such as "payout 'po_1'")."""
    if aggregate is None:
        raise NotFound(f"{name} not found")
    return aggregate


class PayoutConflict(DomainError):
    """A payout_id that already exists with other content (seller, amount)."""

    def __init__(self, payout_id: str) -> None:
        super().__init__(f"payout {payout_id!r} already exists with different content")
        self.payout_id = payout_id


class ConcurrentWrite(RuntimeError):
    """Another writer kept changing the same aggregates; trying again later will do."""


class RefundConflict(DomainError):
    """A refund id (an Idempotency-Key) already used for another order or other content."""

    def __init__(self, refund_id: str) -> None:
        super().__init__(f"refund {refund_id!r} already exists with different content")
        self.refund_id = refund_id


class OrderNotRefundable(DomainError):
    """A refund of an order that was never captured (not SUCCESS): nothing to give back."""

    def __init__(self, payment_order_id: str, status: str) -> None:
        super().__init__(
            f"payment order {payment_order_id!r} is {status}; only a SUCCESS order can be refunded"
        )
        self.payment_order_id = payment_order_id
        self.status = status


class SellerConflict(DomainError):
    """A seller account registered already (a second POST /sellers with another key)."""

    def __init__(self, seller_account: str) -> None:
        super().__init__(f"seller {seller_account!r} is registered already")
        self.seller_account = seller_account


class SellerNotPayable(DomainError):
    """A payout to a seller who is unknown, not verified by KYC, rejected or suspended."""

    def __init__(self, seller_account: str, why: str) -> None:
        super().__init__(why)
        self.seller_account = seller_account
