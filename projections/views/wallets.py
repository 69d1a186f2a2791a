"""Seller wallets: what we owe each seller (available) and what is on its way (pending).

Credits are keyed by payment_order_id, so an order credits its seller exactly once. Wallet
rules are pure (event -> movement) in WALLET_RULES; payouts will add entries that move
money from available to pending and out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.projections.core import (
    ProjectionView,
    TrackedEvent,
    TrackingConflict,
    UnapplicableEvent,
    check_batch,
)
from payments.projections.views.order_terms import CREATED_TOPIC, Facts, TermsBook, terms_of

NAME = "wallets"


@dataclass(frozen=True, slots=True)
class WalletCredit:
    payment_order_id: str
    seller_account: str
    amount_minor: int
    currency: str
    event_id: str
    event_time: datetime
    position: int


@dataclass(frozen=True, slots=True)
class Wallet:
    seller_account: str
    currency: str
    available_minor: int
    pending_minor: int
    credit_count: int
    updated_at: datetime
    position: int


@dataclass(frozen=True, slots=True)
class WalletMovement:
    """One event's effect on one seller's wallet."""

    seller_account: str
    currency: str
    available_delta: int
    pending_delta: int
    event_time: datetime
    position: int
    credit: WalletCredit | None = None


WalletRule = Callable[[TrackedEvent, Facts], WalletMovement]


def credit_pay_in(tracked: TrackedEvent, facts: Facts) -> WalletMovement:
    """A captured charge makes the order's amount available to its seller."""
    terms = facts.order_terms(tracked.event.originator_id)
    credit = WalletCredit(
        payment_order_id=terms.payment_order_id,
        seller_account=terms.seller_account,
        amount_minor=terms.amount_minor,
        currency=terms.currency,
        event_id=tracked.event_id,
        event_time=tracked.event.timestamp,
        position=tracked.notification_id,
    )
    return WalletMovement(
        seller_account=terms.seller_account,
        currency=terms.currency,
        available_delta=terms.amount_minor,
        pending_delta=0,
        event_time=tracked.event.timestamp,
        position=tracked.notification_id,
        credit=credit,
    )


def _payout_movement(tracked: TrackedEvent, available: int, pending: int) -> WalletMovement:
    event = tracked.event
    return WalletMovement(
        seller_account=event.seller_account,
        currency=event.currency,
        available_delta=available * event.amount_minor,
        pending_delta=pending * event.amount_minor,
        event_time=event.timestamp,
        position=tracked.notification_id,
    )


def reserve_payout(tracked: TrackedEvent, facts: Facts) -> WalletMovement:
    """A payout is reserved: available moves to pending while the PSP pays it."""
    return _payout_movement(tracked, available=-1, pending=+1)


def settle_payout(tracked: TrackedEvent, facts: Facts) -> WalletMovement:
    """Paid: the money has left the wallet."""
    return _payout_movement(tracked, available=0, pending=-1)


def release_payout(tracked: TrackedEvent, facts: Facts) -> WalletMovement:
    """Failed: pending goes back to available."""
    return _payout_movement(tracked, available=+1, pending=-1)


def return_payout(tracked: TrackedEvent, facts: Facts) -> WalletMovement:
    """Returned after being paid: available again."""
    return _payout_movement(tracked, available=+1, pending=0)


WALLET_RULES: dict[type[Any], WalletRule] = {
    PaymentOrder.Succeeded: credit_pay_in,
    Payout.Created: reserve_payout,
    Payout.Paid: settle_payout,
    Payout.Failed: release_payout,
    Payout.Returned: return_payout,
}


def wallet_topics() -> frozenset[str]:
    return frozenset({CREATED_TOPIC, *(str(rule_event.TOPIC) for rule_event in WALLET_RULES)})


def movements_for(events: Sequence[TrackedEvent], book: TermsBook) -> list[WalletMovement]:
    """Fold a batch: remember order terms, and build each event's wallet movement (pure)."""
    moves: list[WalletMovement] = []
    for tracked in events:
        if isinstance(tracked.event, PaymentOrder.Created):
            book.add(terms_of(tracked.event))
            continue
        rule = WALLET_RULES.get(type(tracked.event))
        if rule is not None:
            moves.append(rule(tracked, book))
    return moves


def move(wallet: Wallet | None, movement: WalletMovement) -> Wallet:
    """The wallet after a movement; a wallet never goes below zero."""
    if wallet is None:
        wallet = Wallet(movement.seller_account, movement.currency, 0, 0, 0, movement.event_time, 0)
    if wallet.currency != movement.currency:
        raise UnapplicableEvent(f"wallet {wallet.seller_account} is in {wallet.currency}")
    available = wallet.available_minor + movement.available_delta
    pending = wallet.pending_minor + movement.pending_delta
    if available < 0 or pending < 0:
        raise UnapplicableEvent(f"wallet {wallet.seller_account} would go below zero")
    return replace(
        wallet,
        available_minor=available,
        pending_minor=pending,
        credit_count=wallet.credit_count + (movement.credit is not None),
        updated_at=movement.event_time,
        position=movement.position,
    )


class WalletView(ProjectionView, Protocol):
    def wallet(self, seller_account: str) -> Wallet | None: ...

    def wallets(self) -> list[Wallet]:
        """Every wallet, by seller account."""
        ...

    def credits(self, seller_account: str) -> list[WalletCredit]:
        """A seller's credits, by position."""
        ...

    def orders_credited(self, payment_order_ids: Sequence[str]) -> set[str]: ...


class InMemoryWallets:
    name = NAME

    def __init__(self) -> None:
        self.topics: frozenset[str] | None = wallet_topics()
        self._position = 0
        self.book = TermsBook()
        self._wallets: dict[str, Wallet] = {}
        self._credits: dict[str, WalletCredit] = {}

    def position(self) -> int:
        return self._position

    def apply_batch(self, events: Sequence[TrackedEvent], *, after: int, through: int) -> None:
        check_batch(events, after, through)
        if self._position != after:
            raise TrackingConflict(self.name, after, self._position)
        book = TermsBook(self.book.by_uuid.values())  # all or nothing
        wallets, credits = dict(self._wallets), dict(self._credits)
        for movement in movements_for(events, book):
            if movement.credit is not None:
                if movement.credit.payment_order_id in credits:
                    raise UnapplicableEvent(
                        f"order {movement.credit.payment_order_id} already credited"
                    )
                credits[movement.credit.payment_order_id] = movement.credit
            wallets[movement.seller_account] = move(wallets.get(movement.seller_account), movement)
        self.book, self._wallets, self._credits = book, wallets, credits
        self._position = through

    def wallet(self, seller_account: str) -> Wallet | None:
        return self._wallets.get(seller_account)

    def wallets(self) -> list[Wallet]:
        return [self._wallets[s] for s in sorted(self._wallets)]

    def credits(self, seller_account: str) -> list[WalletCredit]:
        found = [c for c in self._credits.values() if c.seller_account == seller_account]
        return sorted(found, key=lambda c: c.position)

    def orders_credited(self, payment_order_ids: Sequence[str]) -> set[str]:
        return {i for i in payment_order_ids if i in self._credits}
