"""Refunds in the browser: a merchant lists real refunds newest first, filters them by state
and seller, pages on, and opens a refund's order; a seller key sees its own refunds, with no
order page; GET /refunds, the JSON list both share, answers the same."""

from __future__ import annotations

from typing import Any

import pytest

from payments.api.console import refunds as refunds_page
from payments.domain.api_key import Role
from payments.domain.payment_order import Status
from tests.console.conftest import Console, follow, screenshot
from tests.executor.helpers import place
from tests.refunds.helpers import FAILING_REFUNDS_CARD, captured_order, post_refund, refund


@pytest.fixture(scope="module")
def made(console: Console) -> list[dict[str, Any]]:
    """Three refunds, oldest first, settled at the sandbox: SUCCEEDED (seller_0), SUCCEEDED
    (seller_1), FAILED at the PSP (seller_0); the refunds view caught up with them."""
    stack = console.stack
    first, second = place(stack, stack.sandbox.token("success"), ["20.00", "8.00"])
    stack.settle(lambda: stack.order(first).status is Status.SUCCESS)
    stack.settle(lambda: stack.order(second).status is Status.SUCCESS)
    refused = captured_order(stack, "6.00", card=FAILING_REFUNDS_CARD)
    answers = [
        post_refund(stack, first, {"amount": "4.00", "reason": "one item returned"}),
        post_refund(stack, second),
        post_refund(stack, refused, {"reason": "never arrived"}),
    ]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    stack.settle(lambda: all(refund(stack, a.json()["refund_id"]).is_terminal for a in answers))
    head = stack.services.application.recorder.max_notification_id()
    listed_now = stack.http.get("/refunds", params={"min_position": str(head)})
    assert len(listed_now.json()["items"]) == 3, listed_now.text
    return [a.json() for a in answers]


def listed(page: Any) -> list[str]:
    return [th.inner_text() for th in page.locator("#refunds tbody th").all()]


def test_a_merchant_lists_filters_pages_and_opens_the_order(
    console: Console, made: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [r["refund_id"] for r in made]
    page = console.signed_in(Role.MERCHANT)
    follow(page.get_by_role("link", name="Refunds", exact=True))
    table = page.locator("#refunds")
    assert table.locator("caption").inner_text() == "Refunds, newest first"
    assert listed(page) == ids[::-1]
    rows = [row.inner_text() for row in table.locator("tbody tr").all()]
    assert "\tFAILED: " in rows[0], rows[0]
    assert "\t8.00 USD\tSUCCEEDED\t" in rows[1], rows[1]
    assert "\tone item returned\t" in rows[2], rows[2]
    screenshot(page, "refunds")

    page.get_by_label("Status").select_option("FAILED")
    follow(page.get_by_role("button", name="Filter"))
    assert listed(page) == [ids[2]]
    page.get_by_label("Status").select_option("SUCCEEDED")
    page.get_by_label("Seller account").fill("seller_0")
    follow(page.get_by_role("button", name="Filter"))
    assert table.locator("caption").inner_text() == (
        "Refunds of seller_0 that are SUCCEEDED, newest first"
    )
    assert listed(page) == [ids[0]]

    monkeypatch.setattr(refunds_page, "PAGE_SIZE", 2)
    page.goto(f"{console.url}/refunds")
    assert listed(page) == ids[:0:-1]
    follow(page.get_by_role("link", name="Next page"))
    assert listed(page) == ids[:1], "the next page goes on where the first ended"
    monkeypatch.undo()

    order_id = made[0]["payment_order_id"]
    follow(page.get_by_role("link", name=order_id))
    assert page.url.endswith(f"/console/orders/{order_id}#h-refunds")
    assert page.locator("#refunds tbody th").all_inner_texts() == [ids[0]]
    for bad in ("status=pending", "status=EXECUTING", "seller=a%20b", "cursor=nope"):
        answer = page.goto(f"{console.url}/refunds?{bad}")
        assert answer is not None
        assert answer.status == 422, bad
    json_items = console.stack.http.get("/refunds").json()["items"]
    assert [item["refund_id"] for item in json_items] == ids[::-1]


def test_a_seller_sees_its_own_refunds_and_no_order_page(
    console: Console, made: list[dict[str, Any]]
) -> None:
    seller = console.signed_in(Role.SELLER, seller="seller_0")
    follow(seller.get_by_role("link", name="Refunds", exact=True))
    assert listed(seller) == [made[2]["refund_id"], made[0]["refund_id"]]
    assert seller.get_by_label("Seller account").count() == 0
    assert seller.locator("#refunds tbody a").count() == 0, "no order page for a seller"
    answer = seller.goto(f"{console.url}/refunds?seller=seller_1")
    assert answer is not None
    assert answer.status == 404
    for role in (Role.OPERATOR, Role.FINANCE):
        page = console.signed_in(role)
        page.goto(f"{console.url}/refunds")
        assert len(listed(page)) == 3, role
