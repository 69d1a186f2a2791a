"""Risk reviews in the browser, on a stack with risk rules that review large orders: an order
held lands in the queue with its rule, amount and age; an operator approves it and it is
charged (SUCCESS), or declines it and it FAILS uncharged; the page and its actions are an
operator's only, and a form without its CSRF token is refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from payments.domain.api_key import Role
from payments.domain.payment_order import PaymentOrder, Status
from tests.console.conftest import (
    Console,
    caught_up,
    csrf,
    kept_out,
    refuses_forged_reason_forms,
    screenshot,
)
from tests.executor.conftest import Stack, running_stack
from tests.executor.helpers import terminal
from tests.risk.conftest import RULES, card, checkout_body, post_checkout


@pytest.fixture(scope="module")
def console(
    admin_database_url: str, tmp_path_factory: pytest.TempPathFactory, browser: Any
) -> Iterator[Console]:
    rules = tmp_path_factory.mktemp("risk") / "rules.toml"
    rules.write_text(RULES)  # large_order: an order above 500.00 waits for review
    with running_stack(
        admin_database_url, tmp_path_factory, PAYMENTS_RISK_RULES=str(rules)
    ) as stack:
        yield Console(stack, browser)


def held(stack: Stack, amount: str) -> str:
    """A checkout of one order the rules hold for review; its id."""
    answer = post_checkout(stack.http, checkout_body(card(stack), ("s_review", amount)))
    assert answer.status_code == 201, answer.text
    (summary,) = answer.json()["payment_orders"]
    assert (summary["status"], summary["risk"]) == ("NOT_STARTED", "review")
    return str(summary["payment_order_id"])


def decide(page: Any, order_id: str, reason: str, button: str) -> None:
    page.get_by_label(f"Reason for {order_id}").fill(reason)
    page.get_by_label(f"I confirm my decision on {order_id}").check()
    page.locator(f"#review-{order_id}").get_by_role("button", name=button).click()


def test_an_operator_approves_an_order_held_for_review_and_it_is_charged(
    console: Console,
) -> None:
    stack = console.stack
    order_id = held(stack, "600.00")
    stack.executor.run_until_idle()
    assert stack.sandbox.charges(order_id) == 0

    # GET /payments/{id} says it is held (the status stays one of the four), as does its page.
    caught_up(stack)
    answer = stack.http.get(f"/payments/{order_id}").json()
    assert (answer["status"], answer["held_for_review"], answer["review_rule"]) == (
        "NOT_STARTED",
        True,
        "large_order",
    )
    page = console.signed_in(Role.OPERATOR)
    page.goto(f"{console.url}/orders/{order_id}")
    assert (
        page.locator("#order-status").inner_text() == "NOT_STARTED (held for review: large_order)"
    )
    page.get_by_role("link", name="decide it in Risk reviews").click()
    row = page.locator(f"#review-{order_id}")
    assert row.locator("[data-rule]").inner_text() == "large_order"
    assert "600.00 USD" in row.inner_text()
    assert "min" in row.inner_text(), "how long it has waited"
    screenshot(page, "reviews")

    # Refused without the confirmation or a reason, and without the CSRF token: still held.
    refuses_forged_reason_forms(page, f"{console.url}/risk-reviews/{order_id}/approve")
    assert stack.order(order_id).risk_review == "large_order"

    decide(page, order_id, "known buyer, called back", "Approve")
    assert page.get_by_role("status").inner_text().startswith(f"Approved {order_id}")
    assert page.locator(f"#review-{order_id}").count() == 0, "gone from the queue"
    stack.settle(lambda: terminal(stack, order_id))
    assert stack.order(order_id).status is Status.SUCCESS
    assert stack.sandbox.charges(order_id) == 1
    (reviewed,) = [
        e
        for e in stack.services.application.events.get(stack.order(order_id).id)
        if isinstance(e, PaymentOrder.RiskReviewed)
    ]
    assert (reviewed.approved, reviewed.reason) == (True, "known buyer, called back")
    assert reviewed.actor == page.locator(".who code").inner_text()

    caught_up(stack)
    page.get_by_role("status").get_by_role("link", name=order_id).click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Order {order_id}"
    assert page.locator("#order-status").inner_text() == "SUCCESS"
    answer = stack.http.get(f"/payments/{order_id}").json()
    assert (answer["held_for_review"], answer["review_rule"]) == (False, None)

    again = page.request.post(
        f"{console.url}/risk-reviews/{order_id}/decline",
        form={"reason": "late", "confirm": "yes"},
        headers={"x-csrf-token": csrf(page), "accept": "text/html"},
    )
    assert again.status == 409, "decided already"


def test_a_declined_review_fails_the_order_uncharged(console: Console) -> None:
    stack = console.stack
    order_id = held(stack, "750.00")
    page = console.signed_in(Role.OPERATOR)
    page.goto(f"{console.url}/risk-reviews")
    decide(page, order_id, "stolen card", "Decline")
    assert page.get_by_role("status").inner_text().startswith(f"Declined {order_id}")
    stack.settle(lambda: stack.order(order_id).status is Status.FAILED)
    order = stack.order(order_id)
    assert (order.failure_code.value, order.attempts) == ("blocked_by_risk", 0)
    assert "stolen card" in (order.failure_reason or "")
    stack.executor.run_until_idle()
    assert stack.sandbox.charges(order_id) == 0


def test_the_review_queue_is_an_operators_page(console: Console) -> None:
    stack = console.stack
    order_id = held(stack, "520.00")
    merchant = console.signed_in(Role.MERCHANT)
    caught_up(stack)
    merchant.goto(f"{console.url}/orders?status=NOT_STARTED")
    assert "(held for review)" in merchant.locator("#orders").inner_text()
    merchant.goto(f"{console.url}/orders/{order_id}")
    assert "held for review" in merchant.locator("#order-status").inner_text()
    assert merchant.get_by_role("link", name="decide it in Risk reviews").count() == 0
    kept_out(merchant, console.url, "Risk reviews", "/risk-reviews")
    assert order_id not in merchant.content()
    refused = merchant.request.post(
        f"{console.url}/risk-reviews/{order_id}/approve",
        form={"reason": "mine", "confirm": "yes"},
        headers={"x-csrf-token": csrf(merchant)},
    )
    assert refused.status == 403
    assert stack.order(order_id).risk_review == "large_order"

    finance = console.signed_in(Role.FINANCE)
    finance.goto(f"{console.url}/risk-reviews")
    assert finance.get_by_role("heading", level=1).inner_text() == "Not allowed"

    operator = console.signed_in(Role.OPERATOR)
    operator.goto(f"{console.url}/risk-reviews?cursor=not-a-cursor")
    assert operator.get_by_role("heading", level=1).inner_text() == "That input is not valid"
