"""A refund after a payout leaves a seller in debt (ADR 0014): the wallet shows it, finance
lists it, payouts skip the seller, and later sales net the debt off before anything is paid.

Real stack: API, executor, sandbox PSP over HTTP, PostgreSQL; funds available at once here
(PAYMENTS_AVAILABLE_AFTER_DAYS=0, tests/payouts/conftest.py).
"""

from __future__ import annotations

from typing import Any

from payments.domain.payout import PayoutStatus
from tests.executor.conftest import Stack
from tests.payouts.helpers import credit, post_payout, seller, settle_payout
from tests.refunds.helpers import post_refund, settled


def fresh(stack: Stack, path: str, **params: Any) -> Any:
    stack.services.catch_up_wallets()
    head = stack.services.application.recorder.max_notification_id()
    answer = stack.http.get(path, params={"min_position": head, **params})
    assert answer.status_code == 200, answer.text
    return answer.json()


def orders_of(stack: Stack, who: str) -> list[str]:
    page = fresh(stack, "/payments", seller_account=who)
    return [o["payment_order_id"] for o in page["items"]]


def test_a_refund_after_a_payout_leaves_the_seller_in_debt_until_sales_net_it_off(
    stack: Stack,
) -> None:
    who = seller("debt")
    credit(stack, who, ["30.00"])
    [order_id] = orders_of(stack, who)
    paid = post_payout(stack, who)
    assert paid.status_code == 201, paid.text
    settle_payout(stack, paid.json()["payout_id"], PayoutStatus.PAID)

    refund = post_refund(stack, order_id, {"amount": "12.00", "reason": "damaged"})
    assert refund.status_code == 201, refund.text
    stack.settle(lambda: settled(stack, refund.json()["refund_id"]))

    wallet = fresh(stack, f"/wallets/{who}")
    assert (wallet["available"], wallet["balance"], wallet["paid_out"]) == (
        "-12.00",
        "-12.00",
        "30.00",
    )
    assert wallet["negative_since"] is not None
    listed = fresh(stack, "/wallets", balance="negative", limit=200)
    mine = [w for w in listed["wallets"] if w["seller_account"] == who]
    assert [w["balance"] for w in mine] == ["-12.00"]

    # A seller in debt is not paid out, by request or by the daily run.
    refused = post_payout(stack, who)
    assert refused.status_code == 422, refused.text
    run = stack.services.payouts.run_payouts("2031-01-01", [who], 1)
    assert (run.created, run.below_minimum) == (0, 1)

    # A later sale nets the debt off first: 20.00 - 12.00 = 8.00 left to pay.
    credit(stack, who, ["20.00"])
    after = fresh(stack, f"/wallets/{who}")
    assert (after["available"], after["balance"], after["negative_since"]) == ("8.00", "8.00", None)
    assert who not in {
        w["seller_account"] for w in fresh(stack, "/wallets", balance="negative")["wallets"]
    }
    again = post_payout(stack, who)
    assert again.status_code == 201, again.text
    assert again.json()["amount"] == "8.00"


def test_the_negative_listing_is_for_finance_and_refuses_other_filters(stack: Stack) -> None:
    assert stack.http.get("/wallets", params={"balance": "positive"}).status_code == 422
    assert stack.http.get("/wallets").status_code == 422
    assert stack.http.get("/wallets", params={"balance": "negative", "limit": 0}).status_code == 422
