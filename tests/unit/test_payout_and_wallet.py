"""Payout status machine and SellerWallet rules, given events in, expecting events out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments.domain.errors import IllegalTransition, InvalidCommand
from payments.domain.payout import Payout, PayoutStatus
from payments.domain.seller_wallet import SellerWallet
from tests.unit.execution_checks import assert_dead_letter_blocks_execution_until_replayed


def new_payout(amount: int = 500) -> Payout:
    payout = Payout(
        payout_id="po_1",
        seller_account="acme",
        amount_minor=amount,
        currency="USD",
        destination="acme",
        run_id=None,
        requested_by="test",
    )
    payout.collect_events()
    return payout


def names(aggregate: Payout | SellerWallet) -> list[str]:
    return [type(e).__name__ for e in aggregate.collect_events()]


def test_payout_goes_requested_executing_paid_returned() -> None:
    payout = new_payout()
    assert payout.status is PayoutStatus.REQUESTED
    payout.start_execution()
    payout.mark_pending("po_psp")
    assert payout.record_paid("po_psp", "webhook")
    assert not payout.record_paid("po_psp", "psp")  # a repeat changes nothing
    assert payout.record_returned("po_psp", "webhook")
    assert names(payout) == ["ExecutionStarted", "PendingAtPsp", "Paid", "Returned"]
    assert payout.status is PayoutStatus.RETURNED


def test_outcome_events_carry_the_terms_the_ledger_needs() -> None:
    payout = new_payout(700)
    payout.start_execution()
    payout.record_failure("account_closed", "po_psp", "psp")
    failed = payout.collect_events()[-1]
    assert isinstance(failed, Payout.Failed)
    assert (failed.seller_account, failed.amount_minor, failed.currency) == ("acme", 700, "USD")


def test_payout_cannot_return_before_paid_nor_start_when_terminal() -> None:
    payout = new_payout()
    with pytest.raises(IllegalTransition):
        payout.record_returned("po_psp", "webhook")
    payout.start_execution()
    payout.record_failure("declined", None, "psp")
    with pytest.raises(IllegalTransition):
        payout.start_execution()
    assert not payout.record_paid("po_psp", "webhook")  # contradicts FAILED: recorded only
    assert names(payout)[-1] == "DiscrepancyRecorded"
    assert payout.status is PayoutStatus.FAILED


def test_dead_lettered_payout_is_replayed_by_an_operator() -> None:
    payout = new_payout()
    payout.start_execution()
    payout.schedule_retry("PSP answered 503", datetime(2030, 1, 1, tzinfo=UTC))
    assert_dead_letter_blocks_execution_until_replayed(payout, "outage over")


def new_wallet() -> SellerWallet:
    wallet = SellerWallet(seller_account="acme", currency="USD")
    wallet.collect_events()
    return wallet


def test_wallet_credit_is_idempotent_by_log_position() -> None:
    wallet = new_wallet()
    assert wallet.move(up_to_position=10, amount_minor=900, entries=2)
    assert not wallet.move(up_to_position=10, amount_minor=900, entries=2)
    assert not wallet.move(up_to_position=7, amount_minor=100, entries=1)
    assert wallet.available_minor == 900
    assert names(wallet) == ["Moved"]


def test_wallet_refuses_a_payout_above_available_or_not_positive() -> None:
    wallet = new_wallet()
    wallet.move(1, 1000, 1)
    for amount in (1001, 0, -5):
        with pytest.raises(InvalidCommand):
            wallet.reserve_payout("po_x", amount)
    wallet.reserve_payout("po_a", 600)
    with pytest.raises(InvalidCommand):
        wallet.reserve_payout("po_b", 401)
    assert (wallet.available_minor, wallet.reserved_minor) == (400, 600)


def test_wallet_settles_releases_and_takes_returns_back() -> None:
    wallet = new_wallet()
    wallet.move(1, 1000, 1)
    wallet.reserve_payout("po_a", 300)
    wallet.reserve_payout("po_b", 200)
    assert wallet.settle_payout("po_a", 5)
    assert wallet.release_payout("po_b", 6)
    assert not wallet.release_payout("po_b", 6)  # the follower's repeat
    assert (wallet.available_minor, wallet.paid_out_minor) == (700, 300)
    assert wallet.return_payout("po_a", 300, 9)
    assert (wallet.available_minor, wallet.paid_out_minor) == (1000, 0)


steps = st.lists(
    st.tuples(st.sampled_from(["credit", "reserve", "settle", "release", "return"]),
              st.integers(min_value=1, max_value=10_000)),
    max_size=60,
)  # fmt: skip


@given(steps=steps)
@settings(max_examples=300, deadline=None)
def test_wallet_never_negative_and_balance_is_credits_minus_payouts(
    steps: list[tuple[str, int]],
) -> None:
    wallet = new_wallet()
    credited = paid = 0
    reserved: dict[str, int] = {}
    settled: list[tuple[str, int]] = []
    for n, (action, amount) in enumerate(steps):
        position = n + 1
        if action == "credit":
            wallet.move(position, amount, 1)
            credited += amount
        elif action == "reserve":
            try:
                wallet.reserve_payout(f"po_{n}", amount)
            except InvalidCommand:
                assert amount > credited - paid - sum(reserved.values())
            else:
                reserved[f"po_{n}"] = amount
        elif action in ("settle", "release") and reserved:
            payout_id = sorted(reserved)[amount % len(reserved)]
            if action == "settle":
                wallet.settle_payout(payout_id, position)
                paid += reserved[payout_id]
                settled.append((payout_id, reserved[payout_id]))
            else:
                wallet.release_payout(payout_id, position)
            del reserved[payout_id]
        elif action == "return" and settled:
            payout_id, returned = settled.pop(amount % len(settled))
            wallet.return_payout(payout_id, returned, position)
            paid -= returned
        assert wallet.available_minor >= 0
        assert wallet.available_minor == credited - paid - sum(reserved.values())
        assert wallet.paid_out_minor == paid
