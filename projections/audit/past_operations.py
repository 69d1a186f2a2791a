"""What the overview can honestly replay as of a past instant, beyond the day's orders:
the dead letters parked then, and what each seller had available then (DESIGN §10).

Dead letters: every order, payout or refund whose events recorded by the instant leave it
parked (the execution feed's rule: a DeadLettered not followed by a replay or an outcome).
Available balances: the sellers' available ledger accounts as of the instant (the ledger's
entries carry their event's time). Neither reads the live views' present state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.refund import Refund
from payments.projections.audit.as_of import trial_balance_as_of
from payments.projections.core import TrackedEvent
from payments.projections.event_store import aggregate_events
from payments.projections.source import ApplicationEventSource
from payments.projections.views.postings import seller_of_account

PARKED_BY: dict[str, type[Any]] = {
    "orders": PaymentOrder.DeadLettered,
    "payouts": Payout.DeadLettered,
    "refunds": Refund.DeadLettered,
}
# What takes a dead letter off the list: a replay, or an outcome reached anyway.
UNPARKED_BY = (
    PaymentOrder.DeadLetterReplayed,
    PaymentOrder.Succeeded,
    PaymentOrder.Failed,
    Payout.DeadLetterReplayed,
    Payout.Paid,
    Payout.Failed,
    Refund.DeadLetterReplayed,
    Refund.Succeeded,
    Refund.Failed,
)
READ_PAGE = 1000


class TooManyToReplay(RuntimeError):
    """More dead-lettered aggregates than a page should replay."""


def parked_at(events: Sequence[TrackedEvent], instant: datetime) -> bool:
    """Whether one aggregate's events recorded by `instant` leave it parked."""
    parked = False
    for tracked in events:
        if tracked.event.timestamp > instant:
            break  # an aggregate's events are causal (see order_as_of)
        if isinstance(tracked.event, tuple(PARKED_BY.values())):
            parked = True
        elif isinstance(tracked.event, UNPARKED_BY):
            parked = False
    return parked


def dead_letters_as_of(
    pool: ConnectionPool, application: Application[Any], instant: datetime, *, limit: int
) -> dict[str, int]:
    """How many orders, payouts and refunds were parked at `instant`; TooManyToReplay past
    `limit` aggregates ever dead-lettered by then."""
    source = ApplicationEventSource(application)
    topics = frozenset(str(kind.TOPIC) for kind in PARKED_BY.values())
    head, after = source.head(), 0
    candidates: dict[UUID, str] = {}
    while notifications := source.read(after, head, READ_PAGE, topics):
        for notification in notifications:
            event = source.decode(notification).event
            if event.timestamp <= instant:
                kind = next(k for k, cls in PARKED_BY.items() if isinstance(event, cls))
                candidates[event.originator_id] = kind
        if len(candidates) > limit:
            raise TooManyToReplay(f"more than {limit} dead letters by then")
        after = notifications[-1].id
    counts = dict.fromkeys(PARKED_BY, 0)
    for originator_id, kind in candidates.items():
        if parked_at(aggregate_events(pool, application, originator_id), instant):
            counts[kind] += 1
    return counts


def available_as_of(
    pool: ConnectionPool, application: Application[Any], instant: datetime
) -> dict[str, int]:
    """Each seller's available balance (minor units, credit-positive) as of `instant`."""
    balances, _ = trial_balance_as_of(pool, application, instant)
    available: dict[str, int] = {}
    for balance in balances.accounts:
        seller = seller_of_account(balance.account)
        if seller is not None and not seller[1]:
            available[seller[0]] = -balance.balance_minor
    return available
