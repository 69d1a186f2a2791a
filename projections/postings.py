"""Posting rules: pure functions from a domain event to one balanced ledger transaction.

DESIGN §6. Add a rule by adding an entry to POSTING_RULES (payouts reserved/paid/failed/
returned, fees); the ledger view reads exactly the topics of this table plus order terms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.payment_order import PaymentOrder
from projections.core import TrackedEvent, UnapplicableEvent
from projections.order_terms import CREATED_TOPIC, Facts

PSP_RECEIVABLE = "psp_receivable"  # asset: money the PSP owes us
PAYOUTS_IN_TRANSIT = "payouts_in_transit"  # asset: money on its way to sellers' banks
PSP_FEES = "psp_fees"  # expense


def seller_account(seller: str) -> str:
    """A seller's wallet liability account."""
    return f"seller:{seller}"


@dataclass(frozen=True, slots=True)
class Posting:
    """One entry: exactly one of debit_minor and credit_minor is positive."""

    account: str
    debit_minor: int = 0
    credit_minor: int = 0


@dataclass(frozen=True, slots=True)
class PostingSet:
    """What a rule returns: a kind, the currency, the entries and the order they concern."""

    kind: str
    currency: str
    postings: tuple[Posting, ...]
    payment_order_id: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerTransaction:
    transaction_id: str  # the causing event: "<originator uuid>:<version>"
    kind: str
    payment_order_id: str | None
    currency: str
    event_time: datetime
    position: int
    postings: tuple[Posting, ...]


PostingRule = Callable[[Any, Facts], PostingSet]


def pay_in_succeeded(event: PaymentOrder.Succeeded, facts: Facts) -> PostingSet:
    """A captured charge: the PSP owes us the amount, and we owe it to the seller."""
    terms = facts.order_terms(event.originator_id)
    return PostingSet(
        kind="pay_in",
        currency=terms.currency,
        postings=(
            Posting(PSP_RECEIVABLE, debit_minor=terms.amount_minor),
            Posting(seller_account(terms.seller_account), credit_minor=terms.amount_minor),
        ),
        payment_order_id=terms.payment_order_id,
    )


POSTING_RULES: dict[type[Any], PostingRule] = {
    PaymentOrder.Succeeded: pay_in_succeeded,
}


def ledger_topics() -> frozenset[str]:
    """The stored topics the ledger reads: every rule's event, and order terms."""
    return frozenset({CREATED_TOPIC, *(str(rule_event.TOPIC) for rule_event in POSTING_RULES)})


def check_balanced(postings: tuple[Posting, ...]) -> None:
    """Refuse a transaction that does not balance or has malformed entries."""
    if len(postings) < 2:
        raise UnapplicableEvent("a ledger transaction needs at least two entries")
    for posting in postings:
        amounts = (posting.debit_minor, posting.credit_minor)
        if min(amounts) < 0 or (posting.debit_minor > 0) == (posting.credit_minor > 0):
            raise UnapplicableEvent(f"entry for {posting.account} must debit or credit > 0")
    debits = sum(p.debit_minor for p in postings)
    credits = sum(p.credit_minor for p in postings)
    if debits != credits:
        raise UnapplicableEvent(f"unbalanced transaction: debits {debits} != credits {credits}")


def transaction_for(tracked: TrackedEvent, facts: Facts) -> LedgerTransaction | None:
    """The balanced transaction `tracked` causes, or None when no rule posts for it."""
    rule = POSTING_RULES.get(type(tracked.event))
    if rule is None:
        return None
    result = rule(tracked.event, facts)
    check_balanced(result.postings)
    return LedgerTransaction(
        transaction_id=tracked.event_id,
        kind=result.kind,
        payment_order_id=result.payment_order_id,
        currency=result.currency,
        event_time=tracked.event.timestamp,
        position=tracked.notification_id,
        postings=result.postings,
    )
