"""The release feed: a capture the PSP settled makes its seller's share available (ADR 0014).

It follows the reconciliation runs' bookings: every capture line booked (a matched line, or an
auto-fix the PSP confirmed) releases the pending funds of the order it settled. The order
decides (PaymentOrder.release_funds: only a captured order whose funds are held, only once),
so a crash between releasing and committing the feed's position repeats nothing. With
`PAYMENTS_AVAILABLE_AFTER_DAYS` set, the deployment releases by age instead and this feed only
moves its position (one rule, never both: ADR 0014).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.domain.ids import payment_order_uuid
from payments.domain.order_commands import OrderCommands
from payments.domain.payment_order import PaymentOrder
from payments.domain.reconciliation.memory import CAPTURE, unpack
from payments.domain.reconciliation_run import ReconciliationRun
from payments.projections.core import TrackedEvent
from payments.projections.event_store import load_aggregates
from payments.projections.followers.follower import FeedView
from payments.projections.pg import Connection

SETTLED = "settled"
TOPICS = frozenset(
    str(cls.TOPIC) for cls in (ReconciliationRun.LinesSettled, ReconciliationRun.AutoFixConfirmed)
)
RELEASE_CHUNK = 1000  # orders loaded and saved together


def settled_orders(events: Iterable[TrackedEvent]) -> list[str]:
    """The payment order ids whose captures these events booked as settled, in order."""
    found: dict[str, None] = {}
    for tracked in events:
        for booking in unpack(tracked.event.bookings):
            if booking.booking == CAPTURE and booking.reference:
                found[booking.reference] = None
    return list(found)


class ReleaseFeed(FeedView):
    name = "release_feed"
    topics: frozenset[str] | None = TOPICS
    tables = ("release_feed_tracking",)

    def __init__(
        self, pool: ConnectionPool, application: PaymentsApplication, *, enabled: bool = True
    ) -> None:
        super().__init__(pool, application)
        self.orders = OrderCommands(application)
        self.enabled = enabled

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        if not self.enabled:
            return
        order_ids = settled_orders(events)
        for start in range(0, len(order_ids), RELEASE_CHUNK):
            chunk = order_ids[start : start + RELEASE_CHUNK]
            loaded = load_aggregates(
                self.application, self.pool, [payment_order_uuid(i) for i in chunk]
            )
            held = {
                order.payment_order_id: order
                for order in loaded.values()
                if isinstance(order, PaymentOrder) and order.awaits_release
            }
            if held:
                self.orders.release_funds(held, SETTLED)
