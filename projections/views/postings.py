"""Posting rules: pure functions from a domain event to one balanced ledger transaction.

DESIGN §6. Add a rule by adding an entry to POSTING_RULES (payouts reserved/paid/failed/
returned, settlement lines, fees, resolutions); the ledger view reads exactly the topics of this
table plus order terms. A rule answers None when its event moves no money.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payments.domain.dispute import Dispute
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.reconciliation.memory import total_entries, unpack
from payments.domain.reconciliation_run import ReconciliationRun
from payments.domain.refund import Refund
from payments.projections.core import TrackedEvent, UnapplicableEvent
from payments.projections.views.order_terms import CREATED_TOPIC, Facts, TermsBook, terms_of

PSP_RECEIVABLE = "psp_receivable"  # asset: captured at the PSP, not settled yet
PSP_BALANCE = "psp_balance"  # asset: settled, held at the PSP for us
PAYOUTS_IN_TRANSIT = "payouts_in_transit"  # money on its way to sellers' banks
PSP_FEES = "psp_fees"  # expense
WRITE_OFFS = "write_offs"  # expense (a credit balance is a gain)
BANK = "bank"  # asset: our own bank account, where the PSP pays our settled balance
PLATFORM_REVENUE = "platform_revenue"  # income: the commission (ADR 0014)
DISPUTE_FEES = "dispute_fees"  # expense: what the PSP charges per dispute
SELLER_PREFIX = "seller:"
PENDING_SUFFIX = ":pending"


def seller_account(seller: str) -> str:
    """A seller's available liability account: what we may pay out (may go negative)."""
    return f"{SELLER_PREFIX}{seller}"


def seller_pending_account(seller: str) -> str:
    """A seller's pending liability account: earned, not payable until the PSP settles it."""
    return f"{SELLER_PREFIX}{seller}{PENDING_SUFFIX}"


def seller_of_account(account: str) -> tuple[str, bool] | None:
    """(seller, is_pending) for a seller account, None for any other account."""
    if not account.startswith(SELLER_PREFIX):
        return None
    rest = account[len(SELLER_PREFIX) :]
    if rest.endswith(PENDING_SUFFIX):
        return rest[: -len(PENDING_SUFFIX)], True
    return rest, False


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


PostingRule = Callable[[Any, Facts], PostingSet | None]


def pay_in_succeeded(event: PaymentOrder.Succeeded, facts: Facts) -> PostingSet:
    """A captured charge: the PSP owes us the amount; the seller earned its net, pending until
    the PSP settles it, and the platform its commission (ADR 0014). Orders recorded before
    ADR 0014 (funds not held) credited the seller's available account with the whole amount."""
    terms = facts.order_terms(event.originator_id)
    if terms.funds_held:
        credits = [
            (seller_pending_account(terms.seller_account), terms.seller_net_minor),
            (PLATFORM_REVENUE, terms.commission_minor),
        ]
    else:
        credits = [(seller_account(terms.seller_account), terms.amount_minor)]
    return PostingSet(
        kind="pay_in",
        currency=terms.currency,
        postings=(
            Posting(PSP_RECEIVABLE, debit_minor=terms.amount_minor),
            *(Posting(account, credit_minor=amount) for account, amount in credits if amount),
        ),
        payment_order_id=terms.payment_order_id,
    )


def funds_released(event: PaymentOrder.FundsReleased, facts: Facts) -> PostingSet | None:
    """The seller's net moves from pending to available (settled, or after N days)."""
    terms = facts.order_terms(event.originator_id)
    if not terms.seller_net_minor:
        return None  # the commission took the whole amount: nothing was pending
    return PostingSet(
        kind="funds_released",
        currency=terms.currency,
        postings=(
            Posting(
                seller_pending_account(terms.seller_account), debit_minor=terms.seller_net_minor
            ),
            Posting(seller_account(terms.seller_account), credit_minor=terms.seller_net_minor),
        ),
        payment_order_id=terms.payment_order_id,
    )


def psp_fees_booked(event: ReconciliationRun.FeesBooked, facts: Facts) -> PostingSet:
    """A settlement batch's fees, as runs before v0.3 booked them (per batch); kept as posted:
    an expense, netted from what the PSP owes."""
    return PostingSet(
        kind="psp_fees",
        currency=event.currency,
        postings=(
            Posting(PSP_FEES, debit_minor=event.total_minor),
            Posting(PSP_RECEIVABLE, credit_minor=event.total_minor),
        ),
    )


def _payout_posting(kind: str, debit: str, credit: str, event: Any) -> PostingSet:
    return PostingSet(
        kind=kind,
        currency=event.currency,
        postings=(
            Posting(debit, debit_minor=event.amount_minor),
            Posting(credit, credit_minor=event.amount_minor),
        ),
    )


def payout_reserved(event: Payout.Created, facts: Facts) -> PostingSet:
    """A payout is reserved: the seller's money is on its way."""
    seller = seller_account(event.seller_account)
    return _payout_posting("payout_reserved", seller, PAYOUTS_IN_TRANSIT, event)


def payout_paid(event: Payout.Paid, facts: Facts) -> PostingSet:
    """The PSP paid it out of the settled balance it holds for us."""
    return _payout_posting("payout_paid", PAYOUTS_IN_TRANSIT, PSP_BALANCE, event)


def payout_failed(event: Payout.Failed, facts: Facts) -> PostingSet:
    """The reservation is reversed: the seller is owed the amount again."""
    seller = seller_account(event.seller_account)
    return _payout_posting("payout_failed", PAYOUTS_IN_TRANSIT, seller, event)


def payout_returned(event: Payout.Returned, facts: Facts) -> PostingSet:
    """A paid payout came back to the PSP balance: the seller is owed it again."""
    seller = seller_account(event.seller_account)
    return _payout_posting("payout_returned", PSP_BALANCE, seller, event)


def _withdrawn(kind: str, event: Dispute.Opened | Dispute.Reopened, fee_minor: int) -> PostingSet:
    """A chargeback takes the amount (and the fee) from what the PSP owes us; the seller and
    the platform bear the amount by their shares, the fee is ours (ADR 0014)."""
    return PostingSet(
        kind=kind,
        currency=event.currency,
        postings=_entries(
            {
                seller_account(event.seller_account): event.seller_share_minor,
                PLATFORM_REVENUE: event.platform_share_minor,
                DISPUTE_FEES: fee_minor,
                PSP_RECEIVABLE: -(event.amount_minor + fee_minor),
            }
        ),
        payment_order_id=event.payment_order_id,
    )


def dispute_opened(event: Dispute.Opened, facts: Facts) -> PostingSet:
    return _withdrawn("dispute_opened", event, event.fee_minor)


def dispute_reopened(event: Dispute.Reopened, facts: Facts) -> PostingSet:
    """A second chargeback: withdrawn again, without a fee."""
    return _withdrawn("dispute_reopened", event, 0)


def dispute_won(event: Dispute.Won, facts: Facts) -> PostingSet:
    """The amount comes back to what the PSP owes us, and to those who bore it; the fee
    stays booked (the PSP keeps it)."""
    return PostingSet(
        kind="dispute_won",
        currency=event.currency,
        postings=_entries(
            {
                PSP_RECEIVABLE: event.amount_minor,
                seller_account(event.seller_account): -event.seller_share_minor,
                PLATFORM_REVENUE: -event.platform_share_minor,
            }
        ),
        payment_order_id=event.payment_order_id,
    )


def refund_succeeded(event: Refund.Succeeded, facts: Facts) -> PostingSet:
    """A refund paid back to the buyer (ADR 0014): the seller's available account bears its
    share (it may go negative), the platform returns its commission share, and the PSP owes
    us that much less until its settlement line books it (Dr psp_receivable, Cr psp_balance)."""
    debits = (
        (seller_account(event.seller_account), event.seller_share_minor),
        (PLATFORM_REVENUE, event.platform_share_minor),
    )
    return PostingSet(
        kind="refund",
        currency=event.currency,
        postings=(
            *(Posting(account, debit_minor=amount) for account, amount in debits if amount),
            Posting(PSP_RECEIVABLE, credit_minor=event.amount_minor),
        ),
        payment_order_id=event.payment_order_id,
    )


def _entries(amounts: dict[str, int]) -> tuple[Posting, ...]:
    """Signed amounts by account (debit +) as entries, in account order."""
    return tuple(
        Posting(account, debit_minor=amount)
        if amount > 0
        else Posting(account, credit_minor=-amount)
        for account, amount in sorted(amounts.items())
        if amount
    )


def lines_settled(event: ReconciliationRun.LinesSettled, facts: Facts) -> PostingSet | None:
    """A chunk of settlement lines, each booked once per line identity (ADR 0010): captures
    (Dr psp_balance net, Dr psp_fees fee, Cr psp_receivable), fee lines (Dr psp_fees, Cr
    psp_balance), bank payouts (Dr bank, Cr psp_balance), payout fees; one transaction."""
    entries = _entries(total_entries(unpack(event.bookings)))
    if not entries:
        return None
    return PostingSet(kind="settlement", currency=event.currency, postings=entries)


def auto_fix_confirmed(
    event: ReconciliationRun.AutoFixConfirmed, facts: Facts
) -> PostingSet | None:
    """A settled line of an order the PSP confirmed: booked like a matched capture."""
    entries = _entries(total_entries(unpack(event.bookings)))
    if not entries:
        return None
    return PostingSet(
        kind="settlement",
        currency=event.currency,
        postings=entries,
        payment_order_id=event.payment_order_id,
    )


def exception_resolved(
    event: ReconciliationRun.ExceptionResolved, facts: Facts
) -> PostingSet | None:
    """A person's resolution of a reconciliation exception: its adjustment (DESIGN §6)."""
    entries = _entries(event.entries)
    if not entries:
        return None
    return PostingSet(kind="reconciliation_adjustment", currency=event.currency, postings=entries)


POSTING_RULES: dict[type[Any], PostingRule] = {
    PaymentOrder.Succeeded: pay_in_succeeded,
    PaymentOrder.FundsReleased: funds_released,
    Payout.Created: payout_reserved,
    Payout.Paid: payout_paid,
    Payout.Failed: payout_failed,
    Payout.Returned: payout_returned,
    Refund.Succeeded: refund_succeeded,
    ReconciliationRun.FeesBooked: psp_fees_booked,
    ReconciliationRun.LinesSettled: lines_settled,
    ReconciliationRun.AutoFixConfirmed: auto_fix_confirmed,
    ReconciliationRun.ExceptionResolved: exception_resolved,
    Dispute.Opened: dispute_opened,
    Dispute.Won: dispute_won,
    Dispute.Reopened: dispute_reopened,
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
    if result is None:
        return None
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


def batch_transactions(
    events: Sequence[TrackedEvent], book: TermsBook
) -> Iterator[tuple[TrackedEvent, LedgerTransaction]]:
    """Fold a batch: remember order terms in `book`, and yield each other event that posts a
    transaction, with it (pure)."""
    for tracked in events:
        if isinstance(tracked.event, PaymentOrder.Created):
            book.add(terms_of(tracked.event))
            continue
        txn = transaction_for(tracked, book)
        if txn is not None:
            yield tracked, txn
