"""The ledger and wallet views' contracts, run against the in-memory and PostgreSQL views."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from payments.projections.core import UnapplicableEvent
from payments.projections.views.ledger import EntryKey, InMemoryLedger
from payments.projections.views.ledger_pg import PostgresLedger
from payments.projections.views.postings import PSP_RECEIVABLE, Posting
from payments.projections.views.wallets import InMemoryWallets
from payments.projections.views.wallets_pg import PostgresWallets
from tests.projections.contract import IMPLEMENTATIONS, feed, make_view
from tests.projections.events import Log, fail, new_order, only, retry, succeed


@pytest.fixture(params=IMPLEMENTATIONS)
def ledger(request: pytest.FixtureRequest, scratch_pool: ConnectionPool) -> Iterator[Any]:
    with make_view(request.param, scratch_pool, InMemoryLedger, PostgresLedger) as built:
        yield built


@pytest.fixture(params=IMPLEMENTATIONS)
def wallets(request: pytest.FixtureRequest, scratch_pool: ConnectionPool) -> Iterator[Any]:
    with make_view(request.param, scratch_pool, InMemoryWallets, PostgresWallets) as built:
        yield built


def refuses_a_replayed_success(view: Any) -> Log:
    """Feed `view` an order's success, then assert it refuses that success at a later position."""
    log = Log()
    log.record(succeed(new_order("po_1")))
    feed(view, log)
    success = log.events[-1]
    replay = type(success)(log.head + 1, success.topic, success.event)
    with pytest.raises(UnapplicableEvent):
        view.apply_batch([replay], after=log.head, through=log.head + 1)
    return log


# --- ledger ---------------------------------------------------------------------------------


def test_a_success_posts_receivable_against_the_seller(ledger: Any) -> None:
    log = Log()
    order = succeed(new_order("po_1", seller="acme", amount=1050))
    log.record(order)
    feed(ledger, log)
    [txn] = ledger.transactions()
    assert txn.kind == "pay_in"
    assert txn.payment_order_id == "po_1"
    assert txn.postings == (
        Posting(PSP_RECEIVABLE, debit_minor=1050),
        Posting("seller:acme", credit_minor=1050),
    )
    assert txn.transaction_id == f"{order.id}:3"
    assert txn.position == log.head
    assert ledger.balance(PSP_RECEIVABLE).balance_minor == 1050
    assert ledger.balance("seller:acme").balance_minor == -1050
    assert ledger.trial_balance().total_minor == 0
    assert ledger.orders_with_postings(["po_1", "po_2"]) == {"po_1"}


def test_failures_retries_and_new_orders_post_nothing(ledger: Any) -> None:
    log = Log()
    log.record(new_order("po_new"), fail(new_order("po_f")), retry(new_order("po_r")))
    feed(ledger, log)
    assert ledger.transactions() == []
    assert ledger.trial_balance().accounts == []
    assert ledger.balance(PSP_RECEIVABLE) is None
    assert ledger.position() == log.head


def test_terms_from_an_earlier_batch_are_remembered(ledger: Any) -> None:
    log = Log()
    order = new_order("po_1", seller="acme", amount=700)
    log.record(order)
    feed(ledger, log)
    log.record(succeed(order))
    feed(ledger, log)
    assert ledger.balance("seller:acme").credit_minor == 700


def test_a_success_without_its_order_is_refused_and_changes_nothing(ledger: Any) -> None:
    log = Log()
    stray = new_order("po_stray")
    stray.collect_events()
    events = log.record(succeed(stray))
    with pytest.raises(UnapplicableEvent):
        ledger.apply_batch(list(only(events, ledger.topics)), after=0, through=log.head)
    assert ledger.position() == 0
    assert ledger.transactions() == []


def test_the_same_causing_event_never_posts_twice(ledger: Any) -> None:
    log = refuses_a_replayed_success(ledger)
    assert len(ledger.transactions()) == 1
    assert ledger.position() == log.head


def test_statements_page_oldest_first_and_trial_balance_lists_every_account(ledger: Any) -> None:
    log = Log()
    for i in range(7):
        log.record(
            succeed(new_order(f"po_{i}", seller="acme" if i % 2 else "bolt", amount=100 + i))
        )
    feed(ledger, log)
    lines, after = [], None
    while True:
        page = ledger.statement(PSP_RECEIVABLE, limit=3, after=after)
        lines += page.entries
        if page.next_key is None:
            break
        after = page.next_key
    assert [e.debit_minor for e in lines] == [100 + i for i in range(7)]
    assert [EntryKey(e.position, e.line) for e in lines] == sorted(
        EntryKey(e.position, e.line) for e in lines
    )
    trial = ledger.trial_balance()
    assert [a.account for a in trial.accounts] == [PSP_RECEIVABLE, "seller:acme", "seller:bolt"]
    assert trial.total_minor == 0
    assert ledger.statement("seller:nobody", limit=10).entries == []


# --- wallets --------------------------------------------------------------------------------


def test_a_success_credits_the_sellers_available_balance_once(wallets: Any) -> None:
    log = Log()
    log.record(succeed(new_order("po_1", seller="acme", amount=1050)))
    log.record(
        succeed(new_order("po_2", seller="acme", amount=50)), fail(new_order("po_3", seller="acme"))
    )
    feed(wallets, log)
    wallet = wallets.wallet("acme")
    assert (wallet.available_minor, wallet.pending_minor, wallet.credit_count) == (1100, 0, 2)
    assert wallet.position == log.head - 3  # po_2's success, before po_3's events
    assert [c.payment_order_id for c in wallets.credits("acme")] == ["po_1", "po_2"]
    assert wallets.orders_credited(["po_1", "po_2", "po_3"]) == {"po_1", "po_2"}
    assert wallets.wallet("nobody") is None
    assert [w.seller_account for w in wallets.wallets()] == ["acme"]


def test_a_second_credit_for_one_order_is_refused(wallets: Any) -> None:
    refuses_a_replayed_success(wallets)
    assert wallets.wallet("acme").available_minor == 1050
