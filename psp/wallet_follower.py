"""Follows the event log and keeps each SellerWallet aggregate in step with it (ADR 0006).

Succeeded orders credit their seller; payout outcomes settle, release or return a reservation.
Each change carries the notification position it accounts for and a wallet ignores positions
it has seen, so a crash between saving wallets and saving the follower's position repeats
nothing. Credits are batched: one Credited event per seller per batch keeps streams short.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.payout_commands import PayoutCommands
from payments.domain.seller_wallet import SellerWallet
from payments.psp import execution_queue as q
from payments.psp.aggregates import load_aggregates

log = logging.getLogger("payments.wallet_follower")
WALLET_FOLLOWER_LOCK = 7261004
WALLET_TOPICS = [
    cls.TOPIC for cls in (PaymentOrder.Succeeded, Payout.Paid, Payout.Failed, Payout.Returned)
]


@dataclass(frozen=True, slots=True)
class WalletChange:
    position: int
    event: Any  # PaymentOrder.Succeeded or a Payout outcome
    amount_minor: int
    currency: str


class WalletFollower:
    name = "wallet-follower"

    def __init__(self, application: PaymentsApplication, pool: ConnectionPool) -> None:
        self.application = application
        self.pool = pool
        self.payouts = PayoutCommands(application)

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
            orders = load_aggregates(
                self.application,
                self.pool,
                (e.originator_id for e in events if isinstance(e, PaymentOrder.Succeeded)),
            )
            for notification, event in zip(notifications, events, strict=True):
                seller, change = self._change_of(notification.id, event, orders)
                by_seller[seller].append(change)
            self._save(by_seller)
            q.track(conn, self.name, notifications[-1].id)
        return len(notifications)

    def run_until_idle(self) -> None:
        while self.run_once():
            pass

    def _change_of(
        self, position: int, event: Any, orders: dict[UUID, Any]
    ) -> tuple[str, WalletChange]:
        if isinstance(event, PaymentOrder.Succeeded):
            order: PaymentOrder = orders[event.originator_id]
            change = WalletChange(position, event, order.amount_minor, order.currency)
            return order.seller_account, change
        return event.seller_account, WalletChange(
            position, event, event.amount_minor, event.currency
        )

    def _save(self, by_seller: dict[str, list[WalletChange]]) -> None:
        wallets = [self._applied(seller, changes) for seller, changes in by_seller.items()]
        try:
            self.application.save(*wallets)
        except IntegrityError:
            # A payout was reserved meanwhile: seller by seller, on fresh state.
            for seller, changes in by_seller.items():
                self._save_one(seller, changes)

    def _save_one(self, seller: str, changes: list[WalletChange], attempts: int = 5) -> None:
        for attempt in range(attempts):
            try:
                self.application.save(self._applied(seller, changes))
            except IntegrityError:
                if attempt == attempts - 1:
                    raise
                continue
            return

    def _applied(self, seller: str, changes: list[WalletChange]) -> SellerWallet:
        """The seller's wallet with every change it has not seen yet applied, in log order."""
        wallet = self.payouts.wallet_for_update(seller, changes[0].currency)
        credit_minor = credit_orders = credit_through = 0
        for change in changes:
            if change.position <= wallet.position:
                continue
            event = change.event
            if isinstance(event, PaymentOrder.Succeeded):
                credit_minor += change.amount_minor
                credit_orders += 1
                credit_through = change.position
                continue
            if credit_orders:
                wallet.credit(credit_through, credit_minor, credit_orders)
                credit_minor = credit_orders = 0
            payout_id = self._payout_id(event)
            if isinstance(event, Payout.Paid):
                wallet.settle_payout(payout_id, change.position)
            elif isinstance(event, Payout.Failed):
                wallet.release_payout(payout_id, change.position)
            else:
                wallet.return_payout(payout_id, change.amount_minor, change.position)
        if credit_orders:
            wallet.credit(credit_through, credit_minor, credit_orders)
        return wallet

    def _payout_id(self, event: Any) -> str:
        payout: Payout = self.application.repository.get(event.originator_id)
        return payout.payout_id
