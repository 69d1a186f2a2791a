"""Seller wallets: what we owe each seller, derived from the ledger's own postings (ADR 0014).

A wallet is the seller's two ledger accounts read as one: `pending` is the balance of
`seller:{s}:pending` (earned, not settled by the PSP yet), `available` the balance of
`seller:{s}` (payable; it may go negative after a refund or a dispute). `in_transit` (payouts
reserved, not paid yet) and `paid_out` follow the seller's payouts. Every movement comes from
the posting rules (projections/views/postings.py), so a wallet cannot disagree with the ledger
and a new kind of posting (a refund, a dispute) moves wallets without a rule of its own.

Pay-ins are keyed by payment_order_id, so an order credits its seller exactly once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Protocol

from payments.projections.core import ProjectionView, TrackedEvent, UnapplicableEvent
from payments.projections.views.order_terms import Facts, InMemoryTermsView, TermsBook
from payments.projections.views.postings import (
    LedgerTransaction,
    batch_transactions,
    ledger_topics,
    seller_of_account,
)

NAME = "wallets"

# What a payout posting does to the seller's in_transit and paid_out (ADR 0006, 0014).
PAYOUT_EFFECTS: dict[str, tuple[int, int]] = {
    "payout_reserved": (+1, 0),
    "payout_paid": (-1, +1),
    "payout_failed": (-1, 0),
    "payout_returned": (0, -1),
}


@dataclass(frozen=True, slots=True)
class WalletCredit:
    """A pay-in: the order whose capture credited the seller (pending or, before ADR 0014,
    available)."""

    payment_order_id: str
    seller_account: str
    amount_minor: int
    currency: str
    event_id: str
    event_time: datetime
    position: int
    released_at: datetime | None  # when its pending share became available (None: not yet)


@dataclass(frozen=True, slots=True)
class Wallet:
    seller_account: str
    currency: str
    pending_minor: int
    available_minor: int
    in_transit_minor: int
    paid_out_minor: int
    credit_count: int
    negative_since: datetime | None  # when the balance last went below zero, while it is
    updated_at: datetime
    position: int

    @property
    def balance_minor(self) -> int:
        """What we owe the seller (pending + available); below zero the seller owes us."""
        return self.pending_minor + self.available_minor


@dataclass(frozen=True, slots=True)
class WalletMovement:
    """One transaction's effect on one seller's wallet."""

    seller_account: str
    currency: str
    pending_delta: int
    available_delta: int
    in_transit_delta: int
    paid_out_delta: int
    event_time: datetime
    position: int
    credit: WalletCredit | None = None
    released: str | None = None  # the payment order whose pending funds this released


def wallet_topics() -> frozenset[str]:
    """The ledger's topics: a wallet moves exactly when a seller's account is posted."""
    return ledger_topics()


def movements_of(
    transaction: LedgerTransaction, tracked: TrackedEvent, facts: Facts
) -> list[WalletMovement]:
    """The wallet movements of one ledger transaction, one per seller it touches."""
    pending: dict[str, int] = defaultdict(int)
    available: dict[str, int] = defaultdict(int)
    for posting in transaction.postings:
        found = seller_of_account(posting.account)
        if found is None:
            continue
        seller, is_pending = found
        (pending if is_pending else available)[seller] += posting.credit_minor - posting.debit_minor
    sellers = set(pending) | set(available)
    payer = paid = None  # the seller of a payout, or of a pay-in
    if transaction.kind in PAYOUT_EFFECTS:
        payer = tracked.event.seller_account
        sellers.add(payer)
    elif transaction.kind == "pay_in":
        paid = facts.order_terms(tracked.event.originator_id).seller_account
        sellers.add(paid)  # even when the commission took it all: the order is accounted for
    in_transit, paid_out = PAYOUT_EFFECTS.get(transaction.kind, (0, 0))
    moves = []
    for seller in sorted(sellers):
        amount = tracked.event.amount_minor if seller == payer else 0
        credit = None
        if seller == paid and transaction.payment_order_id is not None:
            credit = WalletCredit(
                payment_order_id=transaction.payment_order_id,
                seller_account=seller,
                amount_minor=pending[seller] + available[seller],
                currency=transaction.currency,
                event_id=transaction.transaction_id,
                event_time=transaction.event_time,
                position=transaction.position,
                released_at=None if pending[seller] else transaction.event_time,
            )
        moves.append(
            WalletMovement(
                seller_account=seller,
                currency=transaction.currency,
                pending_delta=pending[seller],
                available_delta=available[seller],
                in_transit_delta=in_transit * amount,
                paid_out_delta=paid_out * amount,
                event_time=transaction.event_time,
                position=transaction.position,
                credit=credit,
                released=transaction.payment_order_id
                if transaction.kind == "funds_released"
                else None,
            )
        )
    return moves


def movements_for(events: Sequence[TrackedEvent], book: TermsBook) -> list[WalletMovement]:
    """Fold a batch: remember order terms, and build each event's wallet movements (pure)."""
    return [
        movement
        for tracked, transaction in batch_transactions(events, book)
        for movement in movements_of(transaction, tracked, book)
    ]


def move(wallet: Wallet | None, movement: WalletMovement) -> Wallet:
    """The wallet after a movement. Available may go below zero (a refund after a payout);
    pending, in transit and paid out never do, or the event log is not what we think."""
    if wallet is None:
        wallet = Wallet(
            movement.seller_account, movement.currency, 0, 0, 0, 0, 0, None, movement.event_time, 0
        )
    if wallet.currency != movement.currency:
        raise UnapplicableEvent(f"wallet {wallet.seller_account} is in {wallet.currency}")
    moved = replace(
        wallet,
        pending_minor=wallet.pending_minor + movement.pending_delta,
        available_minor=wallet.available_minor + movement.available_delta,
        in_transit_minor=wallet.in_transit_minor + movement.in_transit_delta,
        paid_out_minor=wallet.paid_out_minor + movement.paid_out_delta,
        credit_count=wallet.credit_count + (movement.credit is not None),
        updated_at=movement.event_time,
        position=movement.position,
    )
    if min(moved.pending_minor, moved.in_transit_minor, moved.paid_out_minor) < 0:
        raise UnapplicableEvent(f"wallet {wallet.seller_account} would go below zero")
    if moved.balance_minor >= 0:
        return replace(moved, negative_since=None)
    return replace(moved, negative_since=wallet.negative_since or movement.event_time)


class WalletView(ProjectionView, Protocol):
    def wallet(self, seller_account: str) -> Wallet | None: ...

    def wallets(self) -> list[Wallet]:
        """Every wallet, by seller account."""
        ...

    def credits(self, seller_account: str) -> list[WalletCredit]:
        """A seller's credits, by position."""
        ...

    def orders_credited(self, payment_order_ids: Sequence[str]) -> set[str]: ...

    def negative(self, limit: int, after: str | None = None) -> list[Wallet]:
        """Wallets whose balance is below zero, by seller account, after `after`."""
        ...

    def unreleased_before(self, instant: datetime, limit: int, after: str = "") -> list[str]:
        """Orders captured at or before `instant` whose pending funds are not released yet,
        by payment_order_id, after `after`."""
        ...


class InMemoryWallets(InMemoryTermsView):
    name = NAME
    topics: frozenset[str] | None = wallet_topics()

    def __init__(self) -> None:
        super().__init__()
        self._wallets: dict[str, Wallet] = {}
        self._credits: dict[str, WalletCredit] = {}

    def _fold_with_terms(self, events: Sequence[TrackedEvent], book: TermsBook) -> None:
        wallets, credits = dict(self._wallets), dict(self._credits)
        for movement in movements_for(events, book):
            if movement.credit is not None:
                if movement.credit.payment_order_id in credits:
                    raise UnapplicableEvent(
                        f"order {movement.credit.payment_order_id} already credited"
                    )
                credits[movement.credit.payment_order_id] = movement.credit
            if movement.released is not None and movement.released in credits:
                credits[movement.released] = replace(
                    credits[movement.released], released_at=movement.event_time
                )
            wallets[movement.seller_account] = move(wallets.get(movement.seller_account), movement)
        self._wallets, self._credits = wallets, credits

    def wallet(self, seller_account: str) -> Wallet | None:
        return self._wallets.get(seller_account)

    def wallets(self) -> list[Wallet]:
        return [self._wallets[s] for s in sorted(self._wallets)]

    def credits(self, seller_account: str) -> list[WalletCredit]:
        found = [c for c in self._credits.values() if c.seller_account == seller_account]
        return sorted(found, key=lambda c: c.position)

    def orders_credited(self, payment_order_ids: Sequence[str]) -> set[str]:
        return {i for i in payment_order_ids if i in self._credits}

    def unreleased_before(self, instant: datetime, limit: int, after: str = "") -> list[str]:
        return sorted(
            c.payment_order_id
            for c in self._credits.values()
            if c.released_at is None and c.event_time <= instant and c.payment_order_id > after
        )[:limit]

    def negative(self, limit: int, after: str | None = None) -> list[Wallet]:
        found = [
            w
            for w in self.wallets()
            if w.balance_minor < 0 and (after is None or w.seller_account > after)
        ]
        return found[:limit]
