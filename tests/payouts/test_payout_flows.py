"""Payouts end to end: API, executor and the real sandbox PSP over HTTP, on PostgreSQL."""

from __future__ import annotations

import pytest

from payments.domain.payout import PayoutStatus
from tests.executor.conftest import Stack
from tests.payouts.helpers import (
    api_get,
    api_post,
    credit,
    payout,
    payouts_at_psp,
    post_payout,
    seller,
    settle_payout,
    view_shows,
)
from tests.waiting import wait_until


def test_paid_payout_moves_the_amount_out_of_the_wallet_through_transit(stack: Stack) -> None:
    account = seller("paid")
    credit(stack, account, ["30", "20.50"])
    answer = post_payout(stack, account, "35")
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["status"], body["amount"], body["currency"]) == ("REQUESTED", "35.00", "USD")
    wallet = stack.services.application.find_wallet(account)
    assert wallet is not None
    assert wallet.available_minor == 1550
    paid = settle_payout(stack, body["payout_id"], PayoutStatus.PAID)
    assert paid.psp_reference is not None
    wallet = stack.services.application.find_wallet(account)
    assert wallet is not None
    assert (wallet.available_minor, wallet.paid_out_minor, wallet.reserved) == (1550, 3500, {})
    wait_until(lambda: view_shows(stack, account, available=1550, in_transit=0))
    assert payouts_at_psp(stack, body["payout_id"]) == 1
    got = api_get(stack, f"/payouts/{body['payout_id']}")
    assert got["status"] == "PAID"


def test_failed_payout_releases_the_reservation(stack: Stack) -> None:
    account = seller("fail")  # the sandbox fails payouts to destinations fail_*
    credit(stack, account, ["12"])
    answer = post_payout(stack, account)  # everything available
    assert answer.status_code == 201, answer.text
    assert answer.json()["amount"] == "12.00"
    wait_until(lambda: view_shows(stack, account, available=0, in_transit=1200))
    failed = settle_payout(stack, answer.json()["payout_id"], PayoutStatus.FAILED)
    assert failed.failure_reason
    wallet = stack.services.application.find_wallet(account)
    assert wallet is not None
    assert (wallet.available_minor, wallet.reserved) == (1200, {})
    wait_until(lambda: view_shows(stack, account, available=1200, in_transit=0))


def test_returned_payout_makes_the_amount_available_again(stack: Stack) -> None:
    account = seller("return")  # the sandbox returns payouts to destinations return_*
    credit(stack, account, ["8"])
    payout_id = post_payout(stack, account, "8").json()["payout_id"]
    settle_payout(stack, payout_id, PayoutStatus.PAID, PayoutStatus.RETURNED)
    returned = settle_payout(stack, payout_id, PayoutStatus.RETURNED)
    assert returned.status is PayoutStatus.RETURNED
    wallet = stack.services.application.find_wallet(account)
    assert wallet is not None
    assert (wallet.available_minor, wallet.paid_out_minor) == (800, 0)
    wait_until(lambda: view_shows(stack, account, available=800, in_transit=0))


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "status", "status": 503, "count": 2, "endpoint": "payouts"},
        {"kind": "charged_but_500", "count": 1, "endpoint": "payouts"},
    ],
)
def test_retried_payout_is_paid_once_at_the_psp(stack: Stack, fault: dict[str, object]) -> None:
    account = seller("retry")
    credit(stack, account, ["5"])
    with stack.sandbox.faulty(**fault):
        payout_id = post_payout(stack, account, "5").json()["payout_id"]
        paid = settle_payout(stack, payout_id, PayoutStatus.PAID)
    assert paid.attempts >= 2
    assert payouts_at_psp(stack, payout_id) == 1


def test_dead_lettered_payout_is_listed_and_replayed_then_paid_once(stack: Stack) -> None:
    account = seller("dlq")
    credit(stack, account, ["9"])
    with stack.sandbox.faulty(kind="status", status=503, count=50, endpoint="payouts"):
        payout_id = post_payout(stack, account, "9").json()["payout_id"]
        stack.settle(lambda: payout(stack, payout_id).dead_lettered)
        stack.executor.run_until_idle()
        listed = api_get(stack, "/dead-letters/payouts")["dead_letters"]
        assert payout_id in [letter["payout_id"] for letter in listed]
    assert payouts_at_psp(stack, payout_id) == 0
    replayed = api_post(stack, f"/dead-letters/payouts/{payout_id}/replay", {"reason": "PSP ok"})
    assert replayed["replayed"] == [payout_id]
    paid = settle_payout(stack, payout_id, PayoutStatus.PAID)
    assert paid.status is PayoutStatus.PAID
    assert payouts_at_psp(stack, payout_id) == 1
    stack.executor.run_until_idle()
    listed = api_get(stack, "/dead-letters/payouts")["dead_letters"]
    assert payout_id not in [letter["payout_id"] for letter in listed]
