"""Domain errors: each names what was refused and why, in words a client can act on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, TypeVar

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


class ContentConflict(DomainError):
    """An id used again with other content; `what` names its kind in the message."""

    what: ClassVar[str]

    def __init__(self, business_id: str) -> None:
        super().__init__(f"{self.what} {business_id!r} already exists with different content")
        self.business_id = business_id


class CheckoutConflict(ContentConflict):
    """A checkout_id that already exists with different content."""

    what = "checkout"


class PaymentOrderConflict(ContentConflict):
    """A payment_order_id that already belongs to another checkout or other content."""

    what = "payment order"


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


class NotConfigured(DomainError):
    """The deployment lacks a setting this command needs; the message names it."""


class PayoutConflict(ContentConflict):
    """A payout_id that already exists with other content (seller, amount)."""

    what = "payout"


class ConcurrentWrite(RuntimeError):
    """Another writer kept changing the same aggregates; trying again later will do."""


class RefundConflict(ContentConflict):
    """A refund id (an Idempotency-Key) already used for another order or other content."""

    what = "refund"


class WebhookEndpointConflict(ContentConflict):
    """An endpoint id (an Idempotency-Key whose stored answer has expired) made before with
    another URL, types or description."""

    what = "webhook endpoint"


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
