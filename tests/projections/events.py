"""Domain events for view (and aggregate) tests, made by the real aggregates but never stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from uuid import uuid4

from payments.domain.checkout import Checkout
from payments.domain.execution import FailureCode
from payments.domain.payment_order import PaymentOrder
from payments.domain.personal_data import SealedPersonalData
from payments.projections.core import TrackedEvent


class Log:
    """Numbers events as a notification log would, and remembers them."""

    def __init__(self) -> None:
        self.events: list[TrackedEvent] = []

    @property
    def head(self) -> int:
        return self.events[-1].notification_id if self.events else 0

    def record(self, *aggregates: Checkout | PaymentOrder) -> list[TrackedEvent]:
        new = []
        for aggregate in aggregates:
            for event in aggregate.collect_events():
                tracked = TrackedEvent(self.head + 1, type(event).TOPIC, event)
                self.events.append(tracked)
                new.append(tracked)
        return new

    def after(self, position: int) -> list[TrackedEvent]:
        return [e for e in self.events if e.notification_id > position]


def new_order(
    order_id: str,
    seller: str = "acme",
    amount: int = 1050,
    checkout: str = "co",
    *,
    funds_held: bool = False,
) -> PaymentOrder:
    """A new order (its Created event not yet collected) of one card in USD, no commission."""
    return PaymentOrder(
        payment_order_id=order_id,
        checkout_id=checkout,
        seller_account=seller,
        amount_minor=amount,
        currency="USD",
        card_token="tok_test",
        commission_minor=0,
        funds_held=funds_held,
    )


def new_checkout(checkout_id: str, order_ids: list[str]) -> Checkout:
    return Checkout(
        checkout_id=checkout_id,
        buyer_info=SealedPersonalData(uuid4(), b""),
        card_token="tok_test",
        card_details={},
        payment_order_ids=order_ids,
        content_fingerprint="test",
    )


def succeed(order: PaymentOrder) -> PaymentOrder:
    order.start_execution()
    order.record_success(f"ch_{order.payment_order_id}", source="test")
    return order


def fail(order: PaymentOrder) -> PaymentOrder:
    order.start_execution()
    order.record_failure(
        FailureCode.CARD_DECLINED, "declined", f"ch_{order.payment_order_id}", "test"
    )
    return order


def retry(order: PaymentOrder) -> PaymentOrder:
    order.start_execution()
    order.schedule_retry("psp timeout", datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    return order


def only(events: list[TrackedEvent], topic_filter: frozenset[str] | None) -> Iterator[TrackedEvent]:
    return (e for e in events if topic_filter is None or e.topic in topic_filter)
