"""Orders in the browser: search, an order's timeline, a refund, a dead letter replayed,
and travelling back to before a payment."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from payments.domain.api_key import Role
from payments.domain.payment_order import Status
from tests.console.conftest import (
    Console,
    caught_up,
    csrf,
    dead_lettered,
    follow,
    screenshot,
    travel,
)
from tests.executor.helpers import place, terminal


def test_search_open_the_timeline_and_refund_an_order(console: Console) -> None:
    stack = console.stack
    [first, second] = place(stack, stack.sandbox.token("success"), ["20.00", "5.00"])
    stack.settle(lambda: terminal(stack, first, second))
    caught_up(stack)
    checkout = first.rsplit("_", 1)[0]

    page = console.signed_in(Role.ADMIN)
    page.get_by_role("link", name="Orders").click()
    page.get_by_label("Checkout id").fill(checkout)
    page.get_by_label("Amount from").fill("10")
    follow(page.get_by_role("button", name="Search"))
    rows = page.locator("#orders tbody tr")
    assert rows.count() == 1, "the amount range leaves the 20.00 order only"
    assert first in rows.first.inner_text()
    screenshot(page, "orders")

    follow(rows.first.get_by_role("link", name=first))
    assert page.get_by_role("heading", level=1).inner_text() == f"Order {first}"
    assert page.locator("#order-status").inner_text() == "SUCCESS"
    timeline = page.locator("#timeline").inner_text()
    assert "Created" in timeline
    assert "psp_reference" in timeline, "the PSP's reference is on the timeline"
    assert page.locator("#wallet-effects tbody tr").count() >= 1
    assert "seller:seller_0" in page.locator("#wallet-effects").inner_text()
    screenshot(page, "order")

    page.get_by_label("Amount to refund").fill("7.50")
    page.get_by_label("Reason").first.fill("damaged in transit")
    page.get_by_role("button", name="Refund").click()
    # The box is not ticked: the browser sends nothing (and the server would refuse it).
    assert page.locator("#refunds").count() == 0
    page.get_by_label("I confirm this refund to the buyer").check()
    follow(page.get_by_role("button", name="Refund"))
    assert page.get_by_role("status").inner_text().startswith("Refund requested")
    refunds = page.locator("#refunds tbody tr")
    assert refunds.count() == 1
    assert "7.50" in refunds.first.inner_text()
    assert len(stack.order(first).refund_ids) == 1

    page.reload()  # reloading the result page sends nothing again
    assert page.locator("#refunds tbody tr").count() == 1


def test_roles_see_only_their_parts_of_an_order(console: Console) -> None:
    stack = console.stack
    [order_id] = place(stack, stack.sandbox.token("success"), ["3.00"])
    stack.settle(lambda: terminal(stack, order_id))

    merchant = console.signed_in(Role.MERCHANT)
    merchant.goto(f"{console.url}/orders/{order_id}")
    assert merchant.get_by_role("button", name="Refund").count() == 1
    assert merchant.locator("#timeline").count() == 0, "the history is for operators and finance"

    operator = console.signed_in(Role.OPERATOR)
    operator.goto(f"{console.url}/orders/{order_id}")
    assert operator.locator("#timeline").count() == 1
    assert operator.get_by_role("button", name="Refund").count() == 0
    answer = operator.request.post(
        f"{console.url}/orders/{order_id}/refund",
        form={"form_id": "0" * 32, "confirm": "yes"},
        headers={"x-csrf-token": csrf(operator)},
    )
    assert answer.status == 403, "the route refuses what the page does not offer"
    assert not stack.order(order_id).refund_ids

    seller = console.signed_in(Role.SELLER, seller="seller_0")
    assert [a.inner_text() for a in seller.locator("nav a").all()] == [
        "Overview",
        "Disputes",
        "Refunds",
        "Wallets",
        "Ledger",
        "Payouts",
        "Sellers",
        "Webhooks",
        "Events",
    ]
    seller.goto(f"{console.url}/orders")
    assert seller.get_by_role("heading", level=1).inner_text() == "Not allowed"


def test_replay_a_dead_letter_from_its_order(console: Console) -> None:
    stack = console.stack
    order_id = dead_lettered(stack, "4.56")
    caught_up(stack)

    page = console.signed_in(Role.OPERATOR)
    page.goto(f"{console.url}/orders/{order_id}")
    assert "dead letter" in page.locator("#order-status").inner_text()
    page.get_by_label("I confirm: charge this order again").check()
    page.get_by_role("button", name="Replay dead letter").click()
    assert page.get_by_role("status").inner_text().startswith("Dead letter replayed")
    stack.settle(lambda: terminal(stack, order_id))
    assert stack.order(order_id).status is Status.SUCCESS
    assert stack.sandbox.charges(order_id) == 1


def test_travel_back_to_before_a_payment(console: Console) -> None:
    stack = console.stack
    [earlier] = place(stack, stack.sandbox.token("success"), ["1.00"])
    stack.settle(lambda: terminal(stack, earlier))
    time.sleep(1.1)  # the form's instants are whole seconds
    before = datetime.now(UTC).replace(microsecond=0)
    time.sleep(1.1)
    [later] = place(stack, stack.sandbox.token("success"), ["2.00"])
    stack.settle(lambda: terminal(stack, later))
    caught_up(stack)

    page = console.signed_in(Role.ADMIN)
    page.goto(f"{console.url}/orders")
    assert page.get_by_role("link", name=later).count() == 1
    page.get_by_label("Show as of (UTC)").fill(before.strftime("%Y-%m-%dT%H:%M:%S"))
    follow(page.get_by_role("button", name="Travel"))
    assert page.get_by_role("status").inner_text().startswith("Past view")
    assert page.get_by_role("link", name=later).count() == 0, "not placed yet then"
    assert page.get_by_role("link", name=earlier).count() == 1
    screenshot(page, "time-travel")

    follow(page.get_by_role("link", name=earlier))
    assert "as_of=" in page.url
    assert page.get_by_role("status").inner_text().startswith("Past view")
    assert page.get_by_role("button", name="Refund").count() == 0, "actions are disabled"

    page.goto(f"{console.url}/orders/{later}?as_of={before.strftime('%Y-%m-%dT%H:%M:%S')}")
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"


def test_a_past_minute_without_seconds_is_a_past_view(console: Console) -> None:
    """A browser's date-time field sends 12:40, not 12:40:00, when the seconds are zero."""
    page = console.signed_in(Role.FINANCE)
    minute = (datetime.now(UTC) - timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
    page.goto(f"{console.url}?as_of={minute}")
    banner = page.get_by_role("status")
    assert banner.count() == 1, page.locator("main").inner_text()
    assert banner.inner_text().startswith("Past view")


def test_the_overview_travels_back_too(console: Console) -> None:
    stack = console.stack
    page = console.signed_in(Role.FINANCE)
    [order_id] = place(stack, stack.sandbox.token("success"), ["9.00"])
    stack.settle(lambda: terminal(stack, order_id))
    caught_up(stack)
    page.reload()
    now_checkouts = int(page.locator("[data-figure=checkouts]").inner_text())
    created = stack.order(order_id).created_on
    just_before = created.replace(microsecond=0)  # whole seconds: at or before its creation
    travel(page, just_before)
    banner = page.get_by_role("status")
    assert banner.count() == 1, page.locator("main").inner_text()
    assert banner.inner_text().startswith("Past view")
    if just_before.date() == created.date():
        then = int(page.locator("[data-figure=checkouts]").inner_text())
        assert then <= now_checkouts - 1, "the order placed after that instant is not counted"
    assert page.locator("[data-figure=open-exceptions]").count() == 1, "replayed to then"
    assert page.get_by_role("heading", name="Projections").count() == 0, "lag: for now only"
