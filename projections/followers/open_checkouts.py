"""What the execution feed remembers of the checkouts whose creation it applied: the status
of each of their orders once final. An order's final event then tells, without loading
anything, whether its checkout is now complete (load the checkout, once, to record it) or
still has an order open (load nothing). A checkout created before the feed's memory began is
not here, and its orders are loaded as before."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from uuid import UUID

from payments.domain.payment_order import Status

# Checkouts the feed keeps at most (a backlog beyond it is loaded instead).
CHECKOUTS_KEPT = 100_000


class OpenCheckouts:
    """Checkouts not yet complete: each one's orders (by payment order id, in the checkout's
    order) with their final statuses so far (None: open), and which order each uuid is."""

    def __init__(self, kept: int = CHECKOUTS_KEPT) -> None:
        self.kept = kept
        self._orders: dict[str, dict[str, Status | None]] = {}
        self._order_of: dict[UUID, tuple[str, str]] = {}  # uuid → (checkout id, order id)

    def __len__(self) -> int:
        return len(self._orders)

    def checkout_created(self, checkout_id: str, payment_order_ids: Iterable[str]) -> None:
        if len(self._orders) >= self.kept:
            self.forget()  # a backlog of checkouts: load them instead
        self._orders[checkout_id] = dict.fromkeys(payment_order_ids)

    def order_created(self, order_uuid: UUID, checkout_id: str, payment_order_id: str) -> None:
        if payment_order_id in self._orders.get(checkout_id, ()):
            self._order_of[order_uuid] = (checkout_id, payment_order_id)

    def ended(self, finished: Mapping[UUID, Status]) -> tuple[dict[str, list[Status]], set[UUID]]:
        """Record the orders a batch made final. Answers the checkouts this completes, each
        with its orders' statuses in its order, and the orders this memory does not know
        (an order is asked once: a retried batch loads what it ends)."""
        unknown: set[UUID] = set()
        touched: set[str] = set()
        for order_uuid, status in finished.items():
            known = self._order_of.pop(order_uuid, None)  # final for good: asked no more
            if known is None:
                unknown.add(order_uuid)
                continue
            checkout_id, payment_order_id = known
            self._orders[checkout_id][payment_order_id] = status
            touched.add(checkout_id)
        complete: dict[str, list[Status]] = {}
        for checkout_id in touched:
            statuses = list(self._orders[checkout_id].values())
            if all(status is not None for status in statuses):
                complete[checkout_id] = [s for s in statuses if s is not None]
                del self._orders[checkout_id]
        return complete, unknown

    def forget(self) -> None:
        self._orders.clear()
        self._order_of.clear()
