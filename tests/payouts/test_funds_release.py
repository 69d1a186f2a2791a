"""Funds become available only when the PSP settles them (ADR 0014), net of commission.

A stack with the default rule (settlement) and a commission of 2.5%+0.30: a captured order
shows its commission and seller net, the seller's share is pending and cannot be paid out;
the day's settlement file from the sandbox (real HTTP) releases it, psp_receivable of the day
returns to zero and the platform's revenue is the commission; then the payout goes through.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from payments.domain.payment_order import PaymentOrder
from tests.executor.conftest import Stack, stack_fixture
from tests.payouts.helpers import credit, post_payout, seller

stack = stack_fixture(PAYMENTS_COMMISSION="2.5%+0.30")


def wallet(stack: Stack, seller_account: str) -> dict[str, str]:
    stack.services.catch_up_wallets()
    head = stack.services.application.recorder.max_notification_id()
    answer = stack.http.get(f"/wallets/{seller_account}", params={"min_position": head})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def account(stack: Stack, name: str) -> str:
    head = stack.services.application.recorder.max_notification_id()
    answer = stack.http.get(f"/ledger/accounts/{name}", params={"min_position": head})
    assert answer.status_code == 200, answer.text
    return str(answer.json()["balance"])


def test_settlement_makes_the_net_available_and_only_then_it_can_be_paid_out(
    stack: Stack,
) -> None:
    who = seller("rel")
    credit(stack, who, ["100.00", "20.00"])  # commissions 2.80 and 0.80
    head = stack.services.application.recorder.max_notification_id()
    found = stack.http.get("/payments", params={"seller_account": who, "min_position": head}).json()
    answers = {o["amount"]: o for o in found["items"]}
    assert (answers["100.00"]["commission"], answers["100.00"]["seller_net"]) == ("2.80", "97.20")
    assert (answers["20.00"]["commission"], answers["20.00"]["seller_net"]) == ("0.80", "19.20")
    assert {o["seller_funds"] for o in answers.values()} == {"pending"}

    before = wallet(stack, who)
    assert before["pending"] == "116.40"  # 97.20 + 19.20
    assert before["available"] == "0.00"
    assert before["balance"] == "116.40"
    assert before["funds_available_on"] == "settlement"
    refused = post_payout(stack, who)
    assert refused.status_code == 422, refused.text  # nothing available yet

    today = datetime.now(UTC).date()
    summary = stack.services.reconciler.fetch_and_reconcile(today)
    assert summary["open_exceptions"] == 0, summary

    after = wallet(stack, who)
    assert (after["pending"], after["available"], after["balance"]) == ("0.00", "116.40", "116.40")
    assert account(stack, f"seller:{who}:pending") == "0.00"
    assert account(stack, "psp_receivable") == "0.00"  # the whole day settled
    assert account(stack, "platform_revenue") == "-3.60"  # credit balance: income

    paid = post_payout(stack, who)
    assert paid.status_code == 201, paid.text
    assert paid.json()["amount"] == "116.40"


def test_a_release_is_recorded_once_even_when_the_file_is_reconciled_again(stack: Stack) -> None:
    who = seller("once")
    credit(stack, who, ["10.00"])
    today = datetime.now(UTC).date()
    stack.services.reconciler.fetch_and_reconcile(today)
    stack.services.catch_up_wallets()
    stack.services.reconciler.fetch_and_reconcile(today)  # the same file: nothing new
    stack.services.catch_up_wallets()
    head = stack.services.application.recorder.max_notification_id()
    found = stack.http.get("/payments", params={"seller_account": who, "min_position": head})
    orders = [
        stack.services.application.get_order(o["payment_order_id"]) for o in found.json()["items"]
    ]
    assert orders
    for order in orders:
        events = list(stack.services.application.events.get(order.id))
        assert sum(isinstance(e, PaymentOrder.FundsReleased) for e in events) == 1
    assert wallet(stack, who)["available"] == "9.45"  # 10.00 - 0.55


def test_with_available_after_days_funds_are_released_by_age_not_by_settlement(
    stack: Stack,
) -> None:
    by_age = dataclasses.replace(
        stack.services,
        settings=dataclasses.replace(stack.services.settings, available_after_days=2),
    )
    who = seller("age")
    credit(stack, who, ["40.00"])  # commission 1.30, net 38.70
    now = datetime.now(UTC)
    assert by_age.release_due_funds(now) == 0  # captured a moment ago: too young
    assert by_age.release_due_funds(now + timedelta(days=1, hours=23)) == 0
    assert wallet(stack, who)["pending"] == "38.70"
    assert by_age.release_due_funds(now + timedelta(days=2, minutes=1)) >= 1
    assert by_age.release_due_funds(now + timedelta(days=2, minutes=1)) == 0  # once
    after = wallet(stack, who)
    assert (after["pending"], after["available"]) == ("0.00", "38.70")
    assert by_age.settings.funds_available_on == "after 2 days"
