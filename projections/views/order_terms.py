"""The terms of each payment order (seller, amount), remembered by the views that post money.

Outcome events (Succeeded, ...) carry no amount; the ledger and wallet views each keep their
own copy of the terms from PaymentOrder.Created, so each rebuilds on its own.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from payments.domain.payment_order import PaymentOrder
from payments.projections.core import InMemoryView, TrackedEvent, UnapplicableEvent

CREATED_TOPIC: str = PaymentOrder.Created.TOPIC


@dataclass(frozen=True, slots=True)
class OrderTerms:
    order_uuid: UUID
    payment_order_id: str
    seller_account: str
    amount_minor: int
    currency: str
    commission_minor: int = 0
    funds_held: bool = False  # ADR 0014: the seller's share waits in pending until released

    @property
    def seller_net_minor(self) -> int:
        return self.amount_minor - self.commission_minor


def terms_of(event: PaymentOrder.Created) -> OrderTerms:
    return stated_terms(event.originator_id, event)


def stated_terms(order_uuid: UUID, order: PaymentOrder | PaymentOrder.Created) -> OrderTerms:
    """The terms of an order as the order, or the event that created it, states them."""
    return OrderTerms(
        order_uuid=order_uuid,
        payment_order_id=order.payment_order_id,
        seller_account=order.seller_account,
        amount_minor=order.amount_minor,
        currency=order.currency,
        commission_minor=order.commission_minor,
        funds_held=order.funds_held,
    )


class Facts(Protocol):
    """What a posting or wallet rule may look up besides its event."""

    def order_terms(self, order_uuid: UUID) -> OrderTerms: ...


class TermsBook:
    """Terms by order uuid; a rule that asks for unknown terms gets UnapplicableEvent."""

    def __init__(self, terms: Iterable[OrderTerms] = ()) -> None:
        self.by_uuid: dict[UUID, OrderTerms] = {t.order_uuid: t for t in terms}

    def add(self, terms: OrderTerms) -> None:
        if terms.order_uuid in self.by_uuid:
            raise UnapplicableEvent(f"payment order {terms.payment_order_id} created twice")
        self.by_uuid[terms.order_uuid] = terms

    def order_terms(self, order_uuid: UUID) -> OrderTerms:
        try:
            return self.by_uuid[order_uuid]
        except KeyError:
            raise UnapplicableEvent(f"no PaymentOrder.Created seen for {order_uuid}") from None


class InMemoryTermsView(InMemoryView):
    """An in-memory view that keeps the order terms it has seen (what fold_with_terms keeps in
    PostgreSQL): a batch folds against a copy of the book, kept only if the fold succeeds."""

    def __init__(self) -> None:
        super().__init__()
        self.book = TermsBook()

    def _fold(self, events: Sequence[TrackedEvent]) -> None:
        book = TermsBook(self.book.by_uuid.values())  # all or nothing
        self._fold_with_terms(events, book)
        self.book = book

    @abstractmethod
    def _fold_with_terms(self, events: Sequence[TrackedEvent], book: TermsBook) -> None:
        """Apply the batch with `book` (which it may add to), or raise and change nothing."""
