"""Ledger and wallet invariants for any history of orders and outcomes, in any batching."""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from payments.bench.history import OUTCOMES, apply_outcome
from payments.projections.views.ledger import InMemoryLedger
from payments.projections.views.ledger_pg import PostgresLedger
from payments.projections.views.postings import PSP_BALANCE, PSP_RECEIVABLE
from payments.projections.views.wallets import InMemoryWallets
from payments.projections.views.wallets_pg import PostgresWallets
from tests.projections.contract import view_in_scratch_schema
from tests.projections.events import Log, new_order, only

orders_strategy = st.lists(
    st.tuples(
        st.sampled_from(["acme", "bolt", "cogs", "dyna"]),
        st.integers(min_value=1, max_value=10**9),
        st.sampled_from(OUTCOMES),
    ),
    max_size=30,
)


def history(orders: list[tuple[str, int, str]]) -> tuple[Log, Counter[str]]:
    """Record the orders with their outcomes; answer the log and the expected seller credits."""
    import random

    log, expected = Log(), Counter[str]()
    for i, (seller, amount, outcome) in enumerate(orders):
        order = new_order(f"po_{i}", seller=seller, amount=amount)
        log.record(order)
        apply_outcome(order, outcome, random.Random(i))
        log.record(order)
        if "success" in outcome:
            expected[seller] += amount
    return log, expected


def feed_in_batches(view: Any, log: Log, cuts: list[int]) -> None:
    """Apply the log in batches ending at the given positions (then at the head)."""
    for through in sorted({c for c in cuts if 0 < c < log.head} | {log.head}):
        after = view.position()
        batch = [e for e in only(log.after(after), view.topics) if e.notification_id <= through]
        view.apply_batch(batch, after=after, through=through)


def check_invariants(ledger: Any, wallets: Any, expected: Counter[str]) -> None:
    transactions = ledger.transactions()
    for txn in transactions:
        assert sum(p.debit_minor for p in txn.postings) == sum(p.credit_minor for p in txn.postings)
        assert len(txn.postings) >= 2
    assert len({t.transaction_id for t in transactions}) == len(transactions)
    trial = ledger.trial_balance()
    assert trial.total_minor == 0
    assert sum(a.balance_minor for a in trial.accounts) == 0
    receivable = ledger.balance(PSP_RECEIVABLE)
    assert (receivable.balance_minor if receivable else 0) == sum(expected.values())
    for seller, amount in expected.items():
        wallet = wallets.wallet(seller)
        credits = wallets.credits(seller)
        assert wallet.available_minor == sum(c.amount_minor for c in credits) == amount
        assert wallet.pending_minor == 0
        assert -ledger.balance(f"seller:{seller}").balance_minor == wallet.available_minor
    assert {w.seller_account for w in wallets.wallets()} == set(expected)


@given(orders=orders_strategy, cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6))
@settings(max_examples=150, deadline=None)
def test_in_memory_ledger_balances_and_wallets_match_credits(
    orders: list[tuple[str, int, str]], cuts: list[int]
) -> None:
    log, expected = history(orders)
    ledger, wallets = InMemoryLedger(), InMemoryWallets()
    feed_in_batches(ledger, log, cuts)
    feed_in_batches(wallets, log, cuts)
    check_invariants(ledger, wallets, expected)


@given(orders=orders_strategy, cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=4))
@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_postgres_ledger_balances_and_wallets_match_credits(
    scratch_pool: ConnectionPool, orders: list[tuple[str, int, str]], cuts: list[int]
) -> None:
    log, expected = history(orders)
    with (
        view_in_scratch_schema(scratch_pool, PostgresLedger) as ledger,
        view_in_scratch_schema(scratch_pool, PostgresWallets) as wallets,
    ):
        feed_in_batches(ledger, log, cuts)
        feed_in_batches(wallets, log, cuts)
        check_invariants(ledger, wallets, expected)


payout_plan = st.lists(
    st.tuples(
        st.sampled_from(["acme", "bolt"]),
        st.integers(min_value=1, max_value=10**6),
        st.sampled_from(["credit", "paid", "failed", "returned", "in_flight"]),
    ),
    max_size=30,
)


def history_with_payouts(
    plan: list[tuple[str, int, str]],
) -> tuple[Log, dict[str, int], dict[str, int], dict[str, int]]:
    """Credits and payouts; payouts only of what is available (the SellerWallet's rule).
    Answers the log and, per seller, credits, money paid out for good, and money in flight."""
    from payments.domain.payout import Payout
    from payments.domain.seller_wallet import SellerWallet

    log = Log()
    credits: Counter[str] = Counter()
    paid: Counter[str] = Counter()
    in_flight: Counter[str] = Counter()
    wallets: dict[str, SellerWallet] = {}
    for i, (seller, amount, step) in enumerate(plan):
        wallet = wallets.setdefault(seller, SellerWallet(seller_account=seller, currency="USD"))
        if step == "credit":
            order = new_order(f"po_{i}", seller=seller, amount=amount)
            order.start_execution()
            order.record_success(f"ch_{i}", "psp")
            log.record(order)
            wallet.move(i + 1, amount, 1)
            credits[seller] += amount
            continue
        if amount > wallet.available_minor:
            continue
        wallet.reserve_payout(f"pay_{i}", amount)
        payout = Payout(
            payout_id=f"pay_{i}",
            seller_account=seller,
            amount_minor=amount,
            currency="USD",
            destination=seller,
            run_id=None,
            requested_by="test",
        )
        payout.start_execution()
        if step == "in_flight":
            in_flight[seller] += amount
        elif step == "failed":
            payout.record_failure("declined", f"psp_{i}", "psp")
            wallet.release_payout(f"pay_{i}", i + 1)
        else:
            payout.record_paid(f"psp_{i}", "psp")
            wallet.settle_payout(f"pay_{i}", i + 1)
            if step == "returned":
                payout.record_returned(f"psp_{i}", "webhook")
                wallet.return_payout(f"pay_{i}", amount, i + 1)
            else:
                paid[seller] += amount
        log.record(payout)
    return log, credits, paid, in_flight


@given(plan=payout_plan, cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=6))
@settings(max_examples=150, deadline=None)
def test_wallet_balance_is_credits_minus_payouts_and_never_negative(
    plan: list[tuple[str, int, str]], cuts: list[int]
) -> None:
    log, credits, paid, in_flight = history_with_payouts(plan)
    ledger, wallets = InMemoryLedger(), InMemoryWallets()
    feed_in_batches(ledger, log, cuts)
    feed_in_batches(wallets, log, cuts)
    trial = ledger.trial_balance()
    assert trial.total_minor == 0
    for txn in ledger.transactions():
        assert sum(p.debit_minor for p in txn.postings) == sum(p.credit_minor for p in txn.postings)
    for seller in credits:
        wallet = wallets.wallet(seller)
        available = credits[seller] - paid[seller] - in_flight[seller]
        assert (wallet.available_minor, wallet.in_transit_minor) == (available, in_flight[seller])
        assert wallet.available_minor + wallet.in_transit_minor == credits[seller] - paid[seller]
        assert -ledger.balance(f"seller:{seller}").balance_minor == available >= 0
    transit = ledger.balance("payouts_in_transit")  # credited while the PSP pays them out
    assert (transit.balance_minor if transit else 0) == -sum(in_flight.values())
    # Captures stay receivable until a settlement line moves them; payouts leave psp_balance.
    receivable = ledger.balance(PSP_RECEIVABLE)
    assert (receivable.balance_minor if receivable else 0) == sum(credits.values())
    balance = ledger.balance(PSP_BALANCE)
    assert (balance.balance_minor if balance else 0) == -sum(paid.values())
