"""The wallet feed: keeps each SellerWallet aggregate in step with the log (ADR 0006, 0014).

Whatever the posting rules post to a seller's available account `seller:{s}` (funds released
on settlement, orders captured before ADR 0014, refunds, disputes, resolutions) moves that
seller's wallet by the same amount; payout outcomes settle, release or return a reservation
(domain/wallet_commands.py). Each change carries the notification position it accounts for
and a wallet ignores positions it has seen, so a crash between saving wallets and committing
the feed's position repeats nothing.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.reconciliation_run import ReconciliationRun
from payments.domain.wallet_commands import WalletChange, WalletChangeKind, WalletCommands
from payments.projections.core import TrackedEvent
from payments.projections.event_store import load_created
from payments.projections.followers.follower import FeedView
from payments.projections.pg import Connection
from payments.projections.views.order_terms import (
    CREATED_TOPIC,
    OrderTerms,
    stated_terms,
    terms_of,
)
from payments.projections.views.postings import POSTING_RULES, seller_of_account

_KINDS = {
    Payout.Paid: WalletChangeKind.PAYOUT_PAID,
    Payout.Failed: WalletChangeKind.PAYOUT_FAILED,
    Payout.Returned: WalletChangeKind.PAYOUT_RETURNED,
}
# Never followed: a payout is reserved in the same save as it is created (ADR 0006), and
# settlement bookings post to the PSP's accounts only, never to a seller's.
_NOT_FOLLOWED = frozenset(
    {
        Payout.Created,
        ReconciliationRun.FeesBooked,
        ReconciliationRun.LinesSettled,
        ReconciliationRun.AutoFixConfirmed,
    }
)
TOPICS = frozenset(str(cls.TOPIC) for cls in POSTING_RULES if cls not in _NOT_FOLLOWED)
# Aggregates whose creation a change needs: an order's terms, a payout's id.
_LOADED_PREFIXES = ("payments.PaymentOrder.", "payments.Payout.")
# Orders whose terms the feed keeps from their Created events at most, until their outcome
# (a backlog beyond it is loaded instead, as are the terms an event needs later).
TERMS_KEPT = 100_000
_OUTCOMES = (PaymentOrder.Succeeded, PaymentOrder.Failed)
# Read to remember an order's terms, and to forget them when it fails (it posts nothing).
_REMEMBERING = frozenset({CREATED_TOPIC, PaymentOrder.Failed.TOPIC})


class WalletFeed(FeedView):
    name = "wallet_feed"
    topics: frozenset[str] | None = TOPICS | _REMEMBERING
    tables = ("wallet_feed_tracking",)
    former_name = "wallet-follower"

    def __init__(self, pool: ConnectionPool, application: PaymentsApplication) -> None:
        super().__init__(pool, application)
        self.wallets = WalletCommands(application)
        # The terms of the orders created since this process followed, until their outcome:
        # what a capture needs, without loading the event that created its order.
        self._terms: dict[UUID, OrderTerms] = {}

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        followed = [t for t in events if t.topic in TOPICS]
        for tracked in events:
            if tracked.topic == CREATED_TOPIC:
                if len(self._terms) >= TERMS_KEPT:
                    self._terms.clear()
                self._terms[tracked.event.originator_id] = terms_of(tracked.event)
        wanted = {
            t.event.originator_id
            for t in followed
            if t.topic.startswith(_LOADED_PREFIXES) and t.event.originator_id not in self._terms
        }
        known = _LoadedTerms(load_created(self.application, self.pool, wanted), self._terms)
        by_seller: dict[str, list[WalletChange]] = defaultdict(list)
        for tracked in followed:
            for seller, change in changes_of(tracked, known):
                by_seller[seller].append(change)
        if by_seller:
            self.wallets.apply(by_seller)
        for tracked in events:  # the batch's later events had them too
            if isinstance(tracked.event, _OUTCOMES):
                self._terms.pop(tracked.event.originator_id, None)


class _LoadedTerms:
    """Order terms remembered, or read from the loaded events that created the orders (the
    posting rules' Facts); and the loaded events that created payouts."""

    def __init__(self, loaded: dict[UUID, Any], remembered: dict[UUID, OrderTerms]) -> None:
        self.loaded = loaded
        self.remembered = remembered

    def order_terms(self, order_uuid: UUID) -> OrderTerms:
        terms = self.remembered.get(order_uuid)
        if terms is not None:
            return terms
        created: PaymentOrder.Created = self.loaded[order_uuid]
        return stated_terms(order_uuid, created)


def changes_of(tracked: TrackedEvent, known: _LoadedTerms) -> list[tuple[str, WalletChange]]:
    """Each seller's wallet change from one event: a payout outcome, or what the event's
    posting rule posts to sellers' available accounts."""
    event, position = tracked.event, tracked.notification_id
    kind = _KINDS.get(type(event))
    if kind is not None:
        created: Payout.Created = known.loaded[event.originator_id]
        change = WalletChange(position, kind, event.amount_minor, event.currency, created.payout_id)
        return [(event.seller_account, change)]
    posted = POSTING_RULES[type(event)](event, known)
    if posted is None:
        return []
    moved: dict[str, int] = defaultdict(int)
    for posting in posted.postings:
        found = seller_of_account(posting.account)
        if found is not None and not found[1]:
            moved[found[0]] += posting.credit_minor - posting.debit_minor
    return [
        (seller, WalletChange(position, WalletChangeKind.CREDIT, amount, posted.currency))
        for seller, amount in sorted(moved.items())
        if amount
    ]
