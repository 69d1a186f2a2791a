"""Order status view: one row per payment order and one per checkout, folded from events.

The fold (`apply_order_event`, `apply_checkout_event`) is pure: an order's row is what the
PaymentOrder aggregate's own event-apply code makes of it; the PostgreSQL and in-memory views
only store its results.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from payments.domain.checkout import Checkout
from payments.domain.execution import FailureCode
from payments.domain.payment_order import PaymentOrder, Status
from payments.projections.core import InMemoryView, ProjectionView, TrackedEvent, UnapplicableEvent

NAME = "order_status"


@dataclass(frozen=True, slots=True)
class OrderStatus:
    order_uuid: UUID
    payment_order_id: str
    checkout_id: str
    seller_account: str
    amount_minor: int
    currency: str
    status: str
    attempts: int
    psp_reference: str | None
    failure_code: str | None
    failure_reason: str | None
    last_error: str | None
    next_attempt_at: datetime | None
    pending_at_psp: bool
    dead_lettered: bool
    discrepancies: int
    created_at: datetime
    updated_at: datetime
    version: int
    position: int
    commission_minor: int = 0  # ADR 0014; rows of orders before it: none
    funds_held: bool = False
    funds_released: bool = False
    # The risk rule holding it for an operator's review (issue #17); None otherwise. Rows
    # written before this column: None until the view is rebuilt (docs/projections.md).
    risk_review: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutStatus:
    checkout_uuid: UUID
    checkout_id: str
    payment_order_ids: tuple[str, ...]
    is_payment_done: bool
    created_at: datetime
    updated_at: datetime
    version: int
    position: int


@dataclass(frozen=True, slots=True)
class OrderFilter:
    """Listing filters; created_from is inclusive, created_to exclusive."""

    status: str | None = None
    seller_account: str | None = None
    checkout_id: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    amount_from_minor: int | None = None  # inclusive, like amount_to_minor
    amount_to_minor: int | None = None

    def matches(self, row: OrderStatus) -> bool:
        return (
            (self.status is None or row.status == self.status)
            and (self.seller_account is None or row.seller_account == self.seller_account)
            and (self.checkout_id is None or row.checkout_id == self.checkout_id)
            and (self.created_from is None or row.created_at >= self.created_from)
            and (self.created_to is None or row.created_at < self.created_to)
            and (self.amount_from_minor is None or row.amount_minor >= self.amount_from_minor)
            and (self.amount_to_minor is None or row.amount_minor <= self.amount_to_minor)
        )


@dataclass(frozen=True, slots=True, order=True)
class OrderKey:
    """Keyset position in a listing, newest first: (created_at, payment_order_id) descending."""

    created_at: datetime
    payment_order_id: str


@dataclass(frozen=True, slots=True)
class OrderPage:
    items: list[OrderStatus]
    next_key: OrderKey | None


def order_key(row: OrderStatus) -> OrderKey:
    return OrderKey(row.created_at, row.payment_order_id)


class OrderStatusView(ProjectionView, Protocol):
    def get_order(self, payment_order_id: str) -> OrderStatus | None: ...

    def get_orders(self, payment_order_ids: Sequence[str]) -> list[OrderStatus]:
        """The orders that exist among the ids, in the order of the ids."""
        ...

    def get_checkout(self, checkout_id: str) -> CheckoutStatus | None: ...

    def list_orders(
        self, where: OrderFilter, *, limit: int, after: OrderKey | None = None
    ) -> OrderPage: ...


# --- the fold ------------------------------------------------------------------------------
# An order's row is the PaymentOrder aggregate's own state after its events: the view applies
# each event with the aggregate's @event methods (the one state machine), on an aggregate
# rebuilt from the row, the way eventsourcing rebuilds one from a snapshot.

_NOT_IN_VIEW: dict[str, Any] = {"card_token": "", "attempts_since_replay": 0}


def _order_of(row: OrderStatus) -> PaymentOrder:
    order: PaymentOrder = object.__new__(PaymentOrder)
    order.__dict__.update(
        _NOT_IN_VIEW,
        _id=row.order_uuid,
        _version=row.version,
        _created_on=row.created_at,
        _modified_on=row.updated_at,
        _pending_events=[],
        payment_order_id=row.payment_order_id,
        checkout_id=row.checkout_id,
        seller_account=row.seller_account,
        amount_minor=row.amount_minor,
        currency=row.currency,
        commission_minor=row.commission_minor,
        funds_held=row.funds_held,
        funds_released=row.funds_released,
        status=Status(row.status),
        attempts=row.attempts,
        psp_reference=row.psp_reference,
        failure_code=None if row.failure_code is None else FailureCode(row.failure_code),
        failure_reason=row.failure_reason,
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        pending_at_psp=row.pending_at_psp,
        dead_lettered=row.dead_lettered,
        discrepancies=row.discrepancies,
        risk_review=row.risk_review,
    )
    return order


def row_of(order: PaymentOrder, position: int) -> OrderStatus:
    return OrderStatus(
        order_uuid=order.id,
        payment_order_id=order.payment_order_id,
        checkout_id=order.checkout_id,
        seller_account=order.seller_account,
        amount_minor=order.amount_minor,
        currency=order.currency,
        status=order.status.value,
        attempts=order.attempts,
        psp_reference=order.psp_reference,
        failure_code=None if order.failure_code is None else order.failure_code.value,
        failure_reason=order.failure_reason,
        last_error=order.last_error,
        next_attempt_at=order.next_attempt_at,
        pending_at_psp=order.pending_at_psp,
        dead_lettered=order.dead_lettered,
        discrepancies=order.discrepancies,
        created_at=order.created_on,
        updated_at=order.modified_on,
        version=order.version,
        commission_minor=order.commission_minor,
        funds_held=order.funds_held,
        funds_released=order.funds_released,
        risk_review=order.risk_review,
        position=position,
    )


def apply_order_event(row: OrderStatus | None, event: Any, position: int) -> OrderStatus:
    """The order row after `event`; refuses an event that does not follow the row."""
    if isinstance(event, PaymentOrder.Created):
        if row is not None:
            raise UnapplicableEvent(f"payment order {row.payment_order_id} created twice")
        created = event.mutate(None)
        assert isinstance(created, PaymentOrder)
        return row_of(created, position)
    if not isinstance(event, PaymentOrder.Event):
        raise UnapplicableEvent(f"no order status rule for {type(event).__qualname__}")
    if row is None:
        raise UnapplicableEvent(f"event for unknown payment order {event.originator_id}")
    if event.originator_version != row.version + 1:
        raise UnapplicableEvent(
            f"order {row.payment_order_id}: version {event.originator_version} "
            f"does not follow {row.version}"
        )
    order = _order_of(row)
    event.mutate(order)
    return row_of(order, position)


def apply_checkout_event(row: CheckoutStatus | None, event: Any, position: int) -> CheckoutStatus:
    if isinstance(event, Checkout.Created):
        if row is not None:
            raise UnapplicableEvent(f"checkout {row.checkout_id} created twice")
        return CheckoutStatus(
            checkout_uuid=event.originator_id,
            checkout_id=event.checkout_id,
            payment_order_ids=tuple(event.payment_order_ids),
            is_payment_done=False,
            created_at=event.timestamp,
            updated_at=event.timestamp,
            version=event.originator_version,
            position=position,
        )
    if not isinstance(event, Checkout.PaymentDone):
        raise UnapplicableEvent(f"no checkout rule for {type(event).__qualname__}")
    if row is None:
        raise UnapplicableEvent(f"event for unknown checkout {event.originator_id}")
    return dataclasses.replace(
        row,
        is_payment_done=True,
        updated_at=event.timestamp,
        version=event.originator_version,
        position=position,
    )


ORDER_TOPIC_PREFIX = "payments.PaymentOrder."
CHECKOUT_TOPIC_PREFIX = "payments.Checkout."


def is_order_event(tracked: TrackedEvent) -> bool:
    return tracked.topic.startswith(ORDER_TOPIC_PREFIX)


def is_checkout_event(tracked: TrackedEvent) -> bool:
    return tracked.topic.startswith(CHECKOUT_TOPIC_PREFIX)


# --- in memory -----------------------------------------------------------------------------


class InMemoryOrderStatusView(InMemoryView):
    """The order status view in dictionaries: for tests and for the contract suite."""

    name = NAME
    topics: frozenset[str] | None = None

    def __init__(self) -> None:
        super().__init__()
        self.orders: dict[UUID, OrderStatus] = {}
        self.checkouts: dict[UUID, CheckoutStatus] = {}

    def _fold(self, events: Sequence[TrackedEvent]) -> None:
        orders, checkouts = dict(self.orders), dict(self.checkouts)  # all or nothing
        for tracked in events:
            event, key = tracked.event, tracked.event.originator_id
            if is_order_event(tracked):
                orders[key] = apply_order_event(orders.get(key), event, tracked.notification_id)
            elif is_checkout_event(tracked):
                checkouts[key] = apply_checkout_event(
                    checkouts.get(key), event, tracked.notification_id
                )
        self.orders, self.checkouts = orders, checkouts

    def get_order(self, payment_order_id: str) -> OrderStatus | None:
        return next(
            (o for o in self.orders.values() if o.payment_order_id == payment_order_id), None
        )

    def get_orders(self, payment_order_ids: Sequence[str]) -> list[OrderStatus]:
        by_id = {o.payment_order_id: o for o in self.orders.values()}
        return [by_id[i] for i in payment_order_ids if i in by_id]

    def get_checkout(self, checkout_id: str) -> CheckoutStatus | None:
        return next((c for c in self.checkouts.values() if c.checkout_id == checkout_id), None)

    def list_orders(
        self, where: OrderFilter, *, limit: int, after: OrderKey | None = None
    ) -> OrderPage:
        rows = sorted(
            (o for o in self.orders.values() if where.matches(o)), key=order_key, reverse=True
        )
        if after is not None:
            rows = [o for o in rows if order_key(o) < after]
        items = rows[:limit]
        more = len(rows) > limit
        return OrderPage(items, order_key(items[-1]) if more and items else None)
