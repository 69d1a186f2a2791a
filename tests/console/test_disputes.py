"""Disputes in the browser: the work list of disputes awaiting evidence, soonest deadline
first with the time left; a merchant answers one from its order's page (confirmed, checked
like the JSON route), and it leaves the list; other statuses on a filter; roles that may not
answer are not offered the form, and the route refuses them."""

from __future__ import annotations

from typing import Any

import pytest

from payments.api.console import disputes as disputes_page
from payments.domain.api_key import Role
from tests.console.conftest import Console, csrf, follow, screenshot
from tests.disputes.test_dispute_flows import admin_dispute, captured_order, dispute_shown


@pytest.fixture(scope="module")
def opened(console: Console) -> list[dict[str, Any]]:
    """Three disputes awaiting evidence, oldest (soonest due) first, as the JSON API shows
    them; the disputes view caught up with them."""
    stack = console.stack
    shown = []
    for amount in ("11.00", "12.00", "13.00"):
        order_id = captured_order(stack, amount=amount)
        admin_dispute(stack, order_id)
        shown.append(dispute_shown(stack, order_id, "needs_response"))
    head = stack.services.application.recorder.max_notification_id()
    answer = stack.http.get("/disputes", params={"min_position": str(head)})
    assert len(answer.json()["items"]) == 3, answer.text
    return shown


def listed(page: Any) -> list[str]:
    return [th.inner_text() for th in page.locator("#disputes tbody th").all()]


def test_the_work_list_and_an_answer_from_the_orders_page(
    console: Console, opened: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = console.stack
    made = [d["dispute_id"] for d in opened]
    page = console.signed_in(Role.MERCHANT)
    assert page.locator('[data-figure="disputes-awaiting"]').inner_text() == "3"
    tile = page.get_by_role("region", name="Disputes awaiting evidence").inner_text()
    assert "soonest deadline: 6 d 23 h left" in tile
    follow(page.get_by_role("link", name="Disputes", exact=True))
    table = page.locator("#disputes")
    assert table.locator("caption").inner_text() == "Awaiting evidence, soonest deadline first"
    assert listed(page) == made
    first_row = table.locator("tbody tr").first.inner_text()
    assert "\t6 d 23 h\t" in first_row, "the sandbox gives seven days"
    screenshot(page, "disputes")

    monkeypatch.setattr(disputes_page, "PAGE_SIZE", 2)
    page.reload()
    assert listed(page) == made[:2]
    follow(page.get_by_role("link", name="Next page"))
    assert listed(page) == made[2:], "the next page goes on where the first ended"
    monkeypatch.undo()

    order_id = opened[1]["payment_order_id"]
    page.goto(f"{console.url}/disputes")
    follow(page.get_by_role("link", name=order_id))
    assert page.locator("#dispute-status").inner_text() == "needs_response"
    page.get_by_label("Evidence for the PSP").fill("a receipt 4242 4242 4242 4242")
    page.get_by_label("I confirm: send this evidence").check()
    follow(page.get_by_role("button", name="Send evidence"))
    assert page.get_by_role("heading", level=1).inner_text() == "That input is not valid"
    assert page.get_by_role("alert").inner_text().startswith("Never send card numbers")
    assert stack.http.get(f"/payments/{order_id}/dispute").json()["status"] == "needs_response"

    page.goto(f"{console.url}/orders/{order_id}")
    page.get_by_label("Evidence for the PSP").fill("Delivered and signed for; receipt attached.")
    page.get_by_role("button", name="Send evidence").click()
    # The box is not ticked: the browser sends nothing.
    assert page.locator("#dispute-status").inner_text() == "needs_response"
    page.get_by_label("I confirm: send this evidence").check()
    follow(page.get_by_role("button", name="Send evidence"))
    assert page.get_by_role("status").inner_text().startswith("Evidence sent")
    assert page.locator("#dispute-status").inner_text() == "under_review"
    assert page.get_by_role("button", name="Send evidence").count() == 0
    assert stack.http.get(f"/payments/{order_id}/dispute").json()["status"] == "under_review"

    position = stack.services.application.recorder.max_notification_id()
    stack.http.get("/disputes", params={"min_position": str(position)})
    page.goto(f"{console.url}/disputes")
    assert listed(page) == [made[0], made[2]], "an answered dispute leaves the work list"
    page.goto(console.url)
    assert page.locator('[data-figure="disputes-awaiting"]').inner_text() == "2"
    page.goto(f"{console.url}/disputes")
    page.get_by_label("Status").select_option("under_review")
    follow(page.get_by_role("button", name="Filter"))
    assert listed(page) == [made[1]]
    page.get_by_label("Status").select_option("")
    page.get_by_label("Order by").select_option("newest")
    follow(page.get_by_role("button", name="Filter"))
    assert listed(page) == made[::-1]
    for bad in ("status=open", "order=oldest", "seller=a%20b", "cursor=nope"):
        answer = page.goto(f"{console.url}/disputes?{bad}")
        assert answer is not None
        assert answer.status == 422, bad


def test_only_a_merchant_may_answer(console: Console, opened: list[dict[str, Any]]) -> None:
    order_id = opened[2]["payment_order_id"]
    operator = console.signed_in(Role.OPERATOR)
    operator.goto(f"{console.url}/orders/{order_id}")
    assert operator.locator("#dispute-status").inner_text() == "needs_response"
    assert operator.get_by_role("button", name="Send evidence").count() == 0
    answer = operator.request.post(
        f"{console.url}/orders/{order_id}/dispute/evidence",
        form={"text": "forged", "confirm": "yes"},
        headers={"x-csrf-token": csrf(operator)},
    )
    assert answer.status == 403, "the route refuses what the page does not offer"
    merchant = console.signed_in(Role.MERCHANT)
    merchant.goto(f"{console.url}/orders/{order_id}")
    unconfirmed = merchant.request.post(
        f"{console.url}/orders/{order_id}/dispute/evidence",
        form={"text": "unconfirmed"},
        headers={"x-csrf-token": csrf(merchant), "accept": "text/html"},
    )
    assert (unconfirmed.status, "tick the box" in unconfirmed.text()) == (422, True)
    empty = merchant.request.post(
        f"{console.url}/orders/{order_id}/dispute/evidence",
        form={"text": "  ", "confirm": "yes"},
        headers={"x-csrf-token": csrf(merchant), "accept": "text/html"},
    )
    assert empty.status == 422
    status = console.stack.http.get(f"/payments/{order_id}/dispute").json()["status"]
    assert status == "needs_response", "nothing was sent"

    seller = console.signed_in(Role.SELLER, seller=opened[2]["seller_account"])
    follow(seller.get_by_role("link", name="Disputes", exact=True))
    assert listed(seller) == [opened[2]["dispute_id"]], "its own seller's alone"
    assert seller.get_by_label("Seller account").count() == 0
    assert seller.locator("#disputes tbody a").count() == 0, "no order page for a seller"
    answer = seller.goto(f"{console.url}/disputes?seller={opened[0]['seller_account']}")
    assert answer is not None
    assert answer.status == 404
