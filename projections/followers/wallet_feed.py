"""The wallet feed: keeps each SellerWallet aggregate in step with the log (ADR 0006).

Succeeded orders credit their seller; payout outcomes settle, release or return a
reservation (domain/wallet_commands.py). Each change carries the notification position it
accounts for and a wallet ignores positions it has seen, so a crash between saving wallets
and committing the feed's position repeats nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.wallet_commands import WalletChange, WalletChangeKind, WalletCommands
from payments.projections.core import TrackedEvent
from payments.projections.event_store import load_aggregates
from payments.projections.followers.execution_feed import moved_tracking_ddl
from payments.projections.pg import Connection, PostgresView, tracking_ddl

TOPICS = frozenset(
    cls.TOPIC for cls in (PaymentOrder.Succeeded, Payout.Paid, Payout.Failed, Payout.Returned)
)
_KINDS = {
    Payout.Paid: WalletChangeKind.PAYOUT_PAID,
    Payout.Failed: WalletChangeKind.PAYOUT_FAILED,
    Payout.Returned: WalletChangeKind.PAYOUT_RETURNED,
}


class WalletFeed(PostgresView):
    name = "wallet_feed"
    topics: frozenset[str] | None = TOPICS
    tables = ("wallet_feed_tracking",)

    def __init__(self, pool: ConnectionPool, application: PaymentsApplication) -> None:
        super().__init__(pool)
        self.application = application
        self.wallets = WalletCommands(application)

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        table = cls.tables[-1]
        create, default_row = tracking_ddl(schema, table)
        return [create, *moved_tracking_ddl(table, "wallet-follower"), default_row]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        loaded = load_aggregates(
            self.application, self.pool, {t.event.originator_id for t in events}
        )
        by_seller: dict[str, list[WalletChange]] = defaultdict(list)
        for tracked in events:
            seller, change = _change_of(
                tracked.notification_id, tracked.event, loaded[tracked.event.originator_id]
            )
            by_seller[seller].append(change)
        self.wallets.apply(by_seller)


def _change_of(position: int, event: Any, aggregate: Any) -> tuple[str, WalletChange]:
    """The seller and the wallet change of a succeeded order or a payout outcome."""
    if isinstance(event, PaymentOrder.Succeeded):
        order: PaymentOrder = aggregate
        credit = WalletChange(position, WalletChangeKind.CREDIT, order.amount_minor, order.currency)
        return order.seller_account, credit
    payout: Payout = aggregate
    return event.seller_account, WalletChange(
        position, _KINDS[type(event)], event.amount_minor, event.currency, payout.payout_id
    )
