"""Follows the event log and keeps each SellerWallet aggregate in step with it (ADR 0006).

Succeeded orders credit their seller; payout outcomes settle, release or return a reservation.
Each change carries the notification position it accounts for and a wallet ignores positions
it has seen, so a crash between saving wallets and saving the follower's position repeats
nothing. Credits are batched: one Credited event per seller per batch keeps streams short.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.wallet_commands import WalletChange, WalletChangeKind, WalletCommands
from payments.projections.event_store import load_aggregates
from payments.projections.followers import execution_queue as q

log = logging.getLogger("payments.wallet_follower")
WALLET_FOLLOWER_LOCK = 7261004
WALLET_TOPICS = [
    cls.TOPIC for cls in (PaymentOrder.Succeeded, Payout.Paid, Payout.Failed, Payout.Returned)
]


class WalletFollower:
    name = "wallet-follower"

    def __init__(self, application: PaymentsApplication, pool: ConnectionPool) -> None:
        self.application = application
        self.pool = pool
        self.wallets = WalletCommands(application)

    def run_once(self, limit: int = 1000) -> int:
        """Apply the next batch of events to the wallets; returns how many were read."""
        with self.pool.connection() as conn, conn.transaction():
            locked = conn.execute(
                "SELECT pg_try_advisory_xact_lock(%s)", (WALLET_FOLLOWER_LOCK,)
            ).fetchone()
            if not locked or not locked[0]:
                return 0  # another process follows the log: it will do this work
            position = q.tracked_position(conn, self.name)
            notifications = self.application.recorder.select_notifications(
                position + 1, limit, topics=WALLET_TOPICS
            )
            if not notifications:
                return 0
            by_seller: dict[str, list[WalletChange]] = defaultdict(list)
            events = [self.application.mapper.to_domain_event(n) for n in notifications]
            loaded = load_aggregates(
                self.application,
                self.pool,
                {e.originator_id for e in events},
            )
            for notification, event in zip(notifications, events, strict=True):
                seller, change = _change_of(notification.id, event, loaded[event.originator_id])
                by_seller[seller].append(change)
            self.wallets.apply(by_seller)
            q.track(conn, self.name, notifications[-1].id)
        return len(notifications)

    def run_until_idle(self) -> None:
        while self.run_once():
            pass


_KINDS = {
    Payout.Paid: WalletChangeKind.PAYOUT_PAID,
    Payout.Failed: WalletChangeKind.PAYOUT_FAILED,
    Payout.Returned: WalletChangeKind.PAYOUT_RETURNED,
}


def _change_of(position: int, event: Any, aggregate: Any) -> tuple[str, WalletChange]:
    """The seller and the wallet change of a succeeded order or a payout outcome."""
    if isinstance(event, PaymentOrder.Succeeded):
        order: PaymentOrder = aggregate
        credit = WalletChange(position, WalletChangeKind.CREDIT, order.amount_minor, order.currency)
        return order.seller_account, credit
    payout: Payout = aggregate
    kind = _KINDS[type(event)]
    return event.seller_account, WalletChange(
        position, kind, event.amount_minor, event.currency, payout.payout_id
    )
