"""Orders, balances and wallets as they stood at an instant (DESIGN §10, ADR 0007).

Orders are replayed from their own events. Balances and wallets come from ledger entries,
which carry the time and position of the event that caused them: the rows the ledger holds
up to its position P, plus the view's rules applied here to the events after P
(the unapplied tail). So a lagging view never gives a wrong answer: it gives the same one,
a little slower, or AsOfUnavailable when the tail is too long to replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from payments.domain.ids import payment_order_uuid
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.projections.audit.instants import AsOfUnavailable, unapplied_tail
from payments.projections.core import TrackedEvent, UnapplicableEvent
from payments.projections.event_store import aggregate_events
from payments.projections.pg import fetch_all, fetch_one, load_terms
from payments.projections.views.ledger import (
    AccountBalance,
    EntryKey,
    EntryLine,
    StatementPage,
    TrialBalance,
    entry_lines,
)
from payments.projections.views.ledger_pg import ENTRY_COLUMNS, PostgresLedger
from payments.projections.views.order_status import OrderStatus, apply_order_event
from payments.projections.views.order_terms import TermsBook, terms_of
from payments.projections.views.postings import (
    POSTING_RULES,
    ledger_topics,
    seller_pending_account,
    transaction_for,
)
from payments.projections.views.postings import seller_account as seller_ledger_account
from payments.projections.views.wallets import PAYOUT_EFFECTS, Wallet

# --- orders --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OrderAsOf:
    row: OrderStatus
    ledger_updated: bool
    wallet_updated: bool


def order_as_of(
    pool: ConnectionPool, application: Application[Any], payment_order_id: str, instant: datetime
) -> OrderAsOf | None:
    """The order after its events recorded at or before `instant`; None if not created yet.

    An aggregate's events are causal, so the fold stops at the first one recorded after the
    instant (only clock skew between hosts could put a later event's time before it).
    """
    events = aggregate_events(pool, application, payment_order_uuid(payment_order_id))
    row: OrderStatus | None = None
    for tracked in events:
        if tracked.event.timestamp > instant:
            break
        row = apply_order_event(row, tracked.event, tracked.notification_id)
    if row is None:
        return None
    before = [t.event for t in events if t.event.timestamp <= instant]
    return OrderAsOf(
        row,
        ledger_updated=any(type(e) in POSTING_RULES for e in before),
        wallet_updated=any(isinstance(e, PaymentOrder.Succeeded) for e in before),  # the pay-in
    )


# --- the ledger ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerAsOf:
    """Entries of the view up to `view_position`, and those the tail adds, up to `head`."""

    view_position: int
    head: int
    tail: list[EntryLine]


def _tail_book(pool: ConnectionPool, terms_table: str, events: list[TrackedEvent]) -> TermsBook:
    """Terms the view stores for the tail's orders, plus the tail's own Created events."""
    with pool.connection() as conn:
        book = load_terms(conn, terms_table, events)
    for tracked in events:
        if isinstance(tracked.event, PaymentOrder.Created):
            # The view may have stored these meanwhile: the same terms either way.
            book.by_uuid.setdefault(tracked.event.originator_id, terms_of(tracked.event))
    return book


def ledger_tail(
    pool: ConnectionPool, application: Application[Any], instant: datetime
) -> LedgerAsOf:
    """The ledger view's position and the entries of later events recorded by `instant`."""
    position = PostgresLedger(pool).position()
    head, events = unapplied_tail(application, position, ledger_topics(), what="ledger")
    tracked = list(events)
    book = _tail_book(pool, "ledger_order_terms", tracked)
    lines: list[EntryLine] = []
    try:
        for event in tracked:
            txn = transaction_for(event, book)
            if txn is not None and txn.event_time <= instant:
                lines.extend(entry_lines(txn))
    except UnapplicableEvent as error:
        raise AsOfUnavailable(f"the ledger view is stuck: {error}") from error
    return LedgerAsOf(position, head, lines)


def _sum_lines(account: str, lines: list[EntryLine]) -> AccountBalance | None:
    mine = [line for line in lines if line.account == account]
    if not mine:
        return None
    return AccountBalance(
        account,
        mine[0].currency,
        sum(line.debit_minor for line in mine),
        sum(line.credit_minor for line in mine),
        len(mine),
    )


def _merge(first: AccountBalance | None, second: AccountBalance | None) -> AccountBalance | None:
    if first is None or second is None:
        return first or second
    return AccountBalance(
        first.account,
        first.currency,
        first.debit_minor + second.debit_minor,
        first.credit_minor + second.credit_minor,
        first.entry_count + second.entry_count,
    )


def account_as_of(
    pool: ConnectionPool, application: Application[Any], account: str, instant: datetime
) -> tuple[AccountBalance | None, LedgerAsOf]:
    """An account's totals over entries whose events were recorded at or before `instant`."""
    state = ledger_tail(pool, application, instant)
    row = fetch_one(
        pool,
        "SELECT currency, sum(debit_minor), sum(credit_minor), count(*) FROM ledger_entries "
        "WHERE account = %s AND event_time <= %s AND position <= %s GROUP BY currency",
        (account, instant, state.view_position),
    )
    stored = AccountBalance(account, row[0], int(row[1]), int(row[2]), int(row[3])) if row else None
    return _merge(stored, _sum_lines(account, state.tail)), state


def statement_as_of(
    pool: ConnectionPool,
    state: LedgerAsOf,
    account: str,
    instant: datetime,
    *,
    limit: int,
    after: EntryKey | None = None,
) -> StatementPage:
    """A page of the account's entries recorded by `instant`, oldest first (view, then tail)."""
    start = (after.position, after.line) if after else (-1, 0)
    rows = fetch_all(
        pool,
        f"SELECT {', '.join(ENTRY_COLUMNS)} FROM ledger_entries WHERE account = %s "
        "AND event_time <= %s AND position <= %s AND (position, line) > (%s, %s) "
        "ORDER BY position, line LIMIT %s",
        (account, instant, state.view_position, *start, limit + 1),
    )
    lines = [EntryLine(*row) for row in rows]
    lines += [
        line
        for line in state.tail
        if line.account == account and (line.position, line.line) > start
    ]
    return StatementPage.of(lines, limit)


def trial_balance_as_of(
    pool: ConnectionPool, application: Application[Any], instant: datetime
) -> tuple[TrialBalance, LedgerAsOf]:
    """Every account's totals as of `instant`; still sums to zero (whole transactions only)."""
    state = ledger_tail(pool, application, instant)
    rows = fetch_all(
        pool,
        "SELECT account, currency, sum(debit_minor), sum(credit_minor), count(*) "
        "FROM ledger_entries WHERE event_time <= %s AND position <= %s "
        "GROUP BY account, currency",
        (instant, state.view_position),
    )
    balances = {r[0]: AccountBalance(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows}
    for account in sorted({line.account for line in state.tail}):
        merged = _merge(balances.get(account), _sum_lines(account, state.tail))
        assert merged is not None
        balances[account] = merged
    return TrialBalance([balances[a] for a in sorted(balances)]), state


# Payout events, as the posting kind they cause.
PAYOUT_KINDS: dict[type[Any], str] = {
    Payout.Created: "payout_reserved",
    Payout.Paid: "payout_paid",
    Payout.Failed: "payout_failed",
    Payout.Returned: "payout_returned",
}

# --- wallets -------------------------------------------------------------------------------


def wallet_as_of(
    pool: ConnectionPool, application: Application[Any], seller_account: str, instant: datetime
) -> Wallet | None:
    """A seller's wallet as of `instant`, from the ledger and the seller's payouts' events.

    Pending and available are the balances of the seller's two ledger accounts (ADR 0014);
    in transit and paid out replay the events of each payout that posted to the seller's
    available account. None if nothing was posted by then.
    """
    accounts = (seller_ledger_account(seller_account), seller_pending_account(seller_account))
    found = [account_as_of(pool, application, account, instant) for account in accounts]
    balances = [balance for balance, _ in found]
    state = found[0][1]
    if balances == [None, None]:
        return None
    rows = fetch_all(
        pool,
        "SELECT e.transaction_id, e.payment_order_id, e.position, e.event_time, t.kind "
        "FROM ledger_entries e JOIN ledger_transactions t USING (transaction_id) "
        "WHERE e.account = ANY(%s) AND e.event_time <= %s AND e.position <= %s",
        (list(accounts), instant, state.view_position),
    )
    entries = [(str(r[0]), r[1], int(r[2]), r[3], str(r[4])) for r in rows] + [
        (e.transaction_id, e.payment_order_id, e.position, e.event_time, e.kind)
        for e in state.tail
        if e.account in accounts
    ]
    last = max(entries, key=lambda e: e[2])
    position, updated_at = last[2], last[3]
    in_transit = paid_out = 0
    payouts = sorted(
        {txn.split(":")[0] for txn, _, _, _, kind in entries if kind in PAYOUT_EFFECTS}
    )
    for originator in payouts:  # few per seller, each found by its primary key
        for tracked in aggregate_events(pool, application, UUID(originator)):
            kind = PAYOUT_KINDS.get(type(tracked.event))
            if kind is None or tracked.event.timestamp > instant:
                continue
            transit_sign, paid_sign = PAYOUT_EFFECTS[kind]
            in_transit += transit_sign * tracked.event.amount_minor
            paid_out += paid_sign * tracked.event.amount_minor
            if tracked.notification_id > position:
                position, updated_at = tracked.notification_id, tracked.event.timestamp
    available, pending = (b.credit_minor - b.debit_minor if b else 0 for b in balances)
    currency = next(b.currency for b in balances if b is not None)
    return Wallet(
        seller_account=seller_account,
        currency=currency,
        pending_minor=pending,
        available_minor=available,
        in_transit_minor=in_transit,
        paid_out_minor=paid_out,
        credit_count=len({txn for txn, _, _, _, kind in entries if kind == "pay_in"}),
        negative_since=None,  # an age needs the whole history; the live view keeps it
        updated_at=updated_at,
        position=position,
    )
