"""Money invariants (issue #15, ADR 0014) over random marketplace histories: checkouts with a
random commission, charges, settlements and releases, refunds (partial, full, refused, failed,
in flight), disputes (opened, won, lost, reopened) and payouts (paid, failed, returned, in
transit), made by the real domain and fed to the ledger and wallet views in random batches. At every step boundary the views must show
exactly what the model (money_model.py) computes from the facts; a rebuild in one batch must
give the same rows.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg_pool import ConnectionPool

from payments.domain.commission import RefundCommissionPolicy
from payments.projections.views.ledger import InMemoryLedger
from payments.projections.views.ledger_pg import PostgresLedger
from payments.projections.views.postings import (
    DISPUTE_FEES,
    PLATFORM_REVENUE,
    PSP_BALANCE,
    PSP_RECEIVABLE,
    seller_account,
    seller_pending_account,
)
from payments.projections.views.wallets import InMemoryWallets
from payments.projections.views.wallets_pg import PostgresWallets
from tests.projections.contract import view_in_scratch_schema
from tests.projections.events import only
from tests.projections.money_history import History
from tests.projections.money_model import COMMISSIONS, CommissionSpec, Expected
from tests.projections.money_steps import (
    DisputeDecide,
    DisputeOpen,
    PayoutRequest,
    PlaceOrders,
    RefundRequest,
    Release,
    Settle,
    Step,
    commissions,
    histories,
    policies,
)

cut_points = st.lists(st.integers(min_value=0, max_value=400), max_size=8)


def balance(ledger: Any, account: str) -> int:
    found = ledger.balance(account)
    return found.balance_minor if found else 0


def check(ledger: Any, wallets: Any, expected: Expected) -> None:
    """The views against the model at one point of the history."""
    transactions = ledger.transactions()
    for txn in transactions:
        assert len(txn.postings) >= 2
        assert sum(p.debit_minor for p in txn.postings) == sum(p.credit_minor for p in txn.postings)
    assert len({t.transaction_id for t in transactions}) == len(transactions)
    trial = ledger.trial_balance()
    assert trial.total_minor == 0
    shown = {a.account: a.balance_minor for a in trial.accounts if a.balance_minor}
    assert shown == expected.accounts
    # Refunds never exceed captures: what the ledger gave back per order, at most its amount.
    refunded = Counter[str]()
    for txn in transactions:
        if txn.kind == "refund":
            assert txn.payment_order_id is not None
            refunded[txn.payment_order_id] += sum(
                p.credit_minor for p in txn.postings if p.account == PSP_RECEIVABLE
            )
    for order_id, amount in refunded.items():
        assert amount <= expected.captured[order_id]
    assert {w.seller_account for w in wallets.wallets()} == set(expected.wallets)
    for seller, figures in expected.wallets.items():
        wallet = wallets.wallet(seller)
        assert wallet is not None
        assert (
            wallet.pending_minor,
            wallet.available_minor,
            wallet.in_transit_minor,
            wallet.paid_out_minor,
            wallet.credit_count,
        ) == (
            figures.pending,
            figures.available,
            figures.in_transit,
            figures.paid_out,
            figures.credits,
        )
        assert wallet.balance_minor == figures.balance
        assert (wallet.negative_since is not None) == (figures.balance < 0)
        assert -balance(ledger, seller_account(seller)) == wallet.available_minor
        assert -balance(ledger, seller_pending_account(seller)) == wallet.pending_minor
        credits = wallets.credits(seller)
        assert len(credits) == figures.credits
        assert {c.payment_order_id for c in credits if c.released_at is None} == (
            figures.unreleased_credits
        )


def feed_and_check(ledger: Any, wallets: Any, history: History, cuts: list[int]) -> None:
    """Feed both views in batches ending at the cuts (then at the head); wherever a batch ends
    at a step boundary, the views must show what the model expected there."""
    head = history.head
    events = history.events()
    for through in sorted({c for c in cuts if 0 < c < head} | {head}):
        for view in (ledger, wallets):
            after = view.position()
            batch = [e for e in only(events, view.topics) if after < e.notification_id <= through]
            view.apply_batch(batch, after=after, through=through)
        if through in history.snapshots:
            check(ledger, wallets, history.snapshots[through])
    check(ledger, wallets, history.snapshots[head])


def rebuilt(history: History) -> tuple[InMemoryLedger, InMemoryWallets]:
    """Fresh views given the whole log in one batch."""
    ledger, wallets = InMemoryLedger(), InMemoryWallets()
    events = history.events()
    for view in (ledger, wallets):
        view.apply_batch(list(only(events, view.topics)), after=0, through=history.head)
    return ledger, wallets


def assert_same_rows(ledger: Any, wallets: Any, ledger_again: Any, wallets_again: Any) -> None:
    assert ledger.transactions() == ledger_again.transactions()
    assert ledger.trial_balance() == ledger_again.trial_balance()
    assert wallets.wallets() == wallets_again.wallets()
    for wallet in wallets.wallets():
        seller = wallet.seller_account
        assert wallets.credits(seller) == wallets_again.credits(seller)
        statement = ledger.statement(seller_account(seller), limit=10**6)
        assert statement == ledger_again.statement(seller_account(seller), limit=10**6)


# Everything the PSP moved settles in a last file, and the release follower takes its turn.
SETTLE_EVERYTHING = Settle(mask=2**13 - 1, fee_per_mille=15, write_off=1, release=True)


def check_all_settled(ledger: Any, wallets: Any) -> None:
    """After every movement is settled and released, the PSP owes us nothing and nothing is
    pending (what the sellers are owed is available, or in debt)."""
    assert balance(ledger, PSP_RECEIVABLE) == 0
    for wallet in wallets.wallets():
        assert wallet.pending_minor == 0
        assert balance(ledger, seller_pending_account(wallet.seller_account)) == 0


@given(
    commission=commissions,
    policy=policies,
    steps=histories,
    settle_everything=st.booleans(),
    cuts=cut_points,
)
@settings(max_examples=600, deadline=None)
def test_ledger_and_wallets_follow_the_money_model_in_any_batching(
    commission: CommissionSpec,
    policy: RefundCommissionPolicy,
    steps: list[Step],
    settle_everything: bool,
    cuts: list[int],
) -> None:
    history = History(commission, policy).run(steps)
    if settle_everything:
        history.run([SETTLE_EVERYTHING])
    ledger, wallets = InMemoryLedger(), InMemoryWallets()
    feed_and_check(ledger, wallets, history, cuts)
    if settle_everything:
        check_all_settled(ledger, wallets)
    assert_same_rows(ledger, wallets, *rebuilt(history))


@given(commission=commissions, policy=policies, steps=histories, cuts=cut_points)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_postgres_ledger_and_wallets_follow_the_money_model(
    scratch_pool: ConnectionPool,
    commission: CommissionSpec,
    policy: RefundCommissionPolicy,
    steps: list[Step],
    cuts: list[int],
) -> None:
    history = History(commission, policy).run([*steps, SETTLE_EVERYTHING])
    with (
        view_in_scratch_schema(scratch_pool, PostgresLedger) as ledger,
        view_in_scratch_schema(scratch_pool, PostgresWallets) as wallets,
    ):
        feed_and_check(ledger, wallets, history, cuts)
        check_all_settled(ledger, wallets)
        assert_same_rows(ledger, wallets, *rebuilt(history))


def test_a_refund_after_a_payout_leaves_the_seller_in_debt_until_a_release_nets_it_off() -> None:
    history = History(COMMISSIONS[2], RefundCommissionPolicy.RETURN)  # 10 %, returned
    history.run(
        [
            PlaceOrders(((0, 10_000, "success"),)),  # acme earns 90.00 net
            Settle(mask=1, fee_per_mille=0, write_off=0),
            Release(),
            PayoutRequest(pick=0, percent=100, outcome="paid"),  # all 90.00 paid out
            RefundRequest("captured", pick=0, amount="part", percent=50, outcome="succeeded"),
        ]
    )
    ledger, wallets = InMemoryLedger(), InMemoryWallets()
    feed_and_check(ledger, wallets, history, [])
    wallet = wallets.wallet("acme")
    assert wallet is not None
    # 50.00 refunded: the seller bears 45.00, the platform returns 5.00 of its commission.
    assert (wallet.pending_minor, wallet.available_minor, wallet.paid_out_minor) == (0, -4500, 9000)
    assert wallet.negative_since is not None
    assert [w.seller_account for w in wallets.negative(limit=10)] == ["acme"]
    went_negative = wallet.negative_since

    history.run([PlaceOrders(((0, 2_000, "success"),))])  # 18.00 net, pending
    feed_and_check(ledger, wallets, history, [])
    wallet = wallets.wallet("acme")
    assert wallet is not None
    assert (wallet.pending_minor, wallet.available_minor) == (1800, -4500)
    assert wallet.negative_since == went_negative  # still in debt: -27.00

    history.run([PlaceOrders(((0, 5_000, "success"),)), Settle(3, 0, 0), Release()])
    feed_and_check(ledger, wallets, history, [])
    wallet = wallets.wallet("acme")
    assert wallet is not None
    # Released 18.00 + 45.00 net off the debt of 45.00: 18.00 available, nothing pending.
    assert (wallet.pending_minor, wallet.available_minor, wallet.balance_minor) == (0, 1800, 1800)
    assert wallet.negative_since is None
    assert wallets.negative(limit=10) == []
    assert_same_rows(ledger, wallets, *rebuilt(history))


def test_a_dispute_won_then_reopened_takes_the_shares_twice_and_the_fee_once() -> None:
    history = History(COMMISSIONS[2], RefundCommissionPolicy.RETURN)  # 10 %, returned
    history.run(
        [
            PlaceOrders(((0, 10_000, "success"),)),  # acme earns 90.00, the platform 10.00
            Settle(mask=1, fee_per_mille=0, write_off=0, release=True),
            DisputeOpen(pick=0, percent=100, fee=1500),
            DisputeDecide(pick=0, verdict="won"),
            DisputeDecide(pick=0, verdict="lost"),  # a second chargeback
        ]
    )
    ledger, wallets = InMemoryLedger(), InMemoryWallets()
    feed_and_check(ledger, wallets, history, [])
    wallet = wallets.wallet("acme")
    assert wallet is not None
    assert (wallet.available_minor, wallet.balance_minor) == (0, 0)
    assert balance(ledger, PLATFORM_REVENUE) == 0  # its 10.00 returned with the chargeback
    assert balance(ledger, DISPUTE_FEES) == 1500
    assert balance(ledger, PSP_RECEIVABLE) == -11_500  # withdrawn, not settled yet

    history.run([Settle(mask=2**13 - 1, fee_per_mille=0, write_off=0)])
    feed_and_check(ledger, wallets, history, [])
    # Capture +100.00, chargeback -100.00, fee -15.00, reversal +100.00, second -100.00.
    assert balance(ledger, PSP_RECEIVABLE) == 0
    assert balance(ledger, PSP_BALANCE) == -1500
    assert_same_rows(ledger, wallets, *rebuilt(history))
