"""Events in the browser: a merchant reads the public events newest first, each body the one
GET /events/{event_id} answers, filters them by type and seller, pages back through the whole
log without losing or repeating one, and finds an event by its id; a seller key sees its own
seller's events alone; finance has no such page; a bad filter is a page naming it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from payments.api.console import events as events_page
from payments.domain.api_key import Role
from tests.console.conftest import Console, follow, kept_out, screenshot
from tests.executor.helpers import place, terminal


@pytest.fixture(scope="module")
def made(console: Console) -> dict[str, dict[str, Any]]:
    """A checkout of two orders, seller_0's charged and seller_1's declined: its public events
    (by type), as GET /events lists them."""
    stack = console.stack
    start = stack.services.application.recorder.max_notification_id() or 0
    [charged] = place(stack, stack.sandbox.token("success"), ["12.00"])
    [_, declined] = place(stack, stack.sandbox.token("declined"), ["1.00", "3.00"])
    stack.settle(lambda: terminal(stack, charged, declined))
    answer = stack.http.get("/events", params={"after": start, "limit": 200})
    assert answer.status_code == 200, answer.text
    ours = {charged, declined}
    return {
        e["type"]: e for e in answer.json()["items"] if e["data"].get("payment_order_id") in ours
    }


def rows(page: Any) -> list[str]:
    return [th.locator("summary").inner_text() for th in page.locator("#events tbody th").all()]


def every_event(console: Console) -> list[dict[str, Any]]:
    answer = console.stack.http.get("/events", params={"limit": 200})
    assert answer.status_code == 200, answer.text
    assert not answer.json()["has_more"]
    return list(answer.json()["items"])


def test_a_merchant_reads_filters_and_finds_events(
    console: Console, made: dict[str, dict[str, Any]]
) -> None:
    page = console.signed_in(Role.MERCHANT)
    follow(page.get_by_role("link", name="Events", exact=True))
    table = page.locator("#events")
    assert "newest first" in table.locator("caption").inner_text()
    assert rows(page) == [e["id"] for e in reversed(every_event(console))]
    succeeded = made["payment_order.succeeded"]
    row = table.locator("tbody tr", has=page.get_by_text(succeeded["id"]))
    row.locator("summary").click()
    assert json.loads(row.locator("pre").inner_text()) == succeeded, "the body a delivery sends"
    order = succeeded["data"]["payment_order_id"]
    assert row.get_by_role("link").get_attribute("href") == f"/console/orders/{order}"
    screenshot(page, "events")

    page.get_by_label("Type").select_option("payment_order.failed")
    follow(page.get_by_role("button", name="Filter"))
    assert made["payment_order.failed"]["id"] in rows(page)
    assert {r.inner_text() for r in table.locator("tbody td:nth-child(2)").all()} == {
        "payment_order.failed"
    }
    page.get_by_label("Seller account").fill("seller_0")
    follow(page.get_by_role("button", name="Filter"))
    assert made["payment_order.failed"]["id"] not in rows(page), "seller_1's"

    page.get_by_label("Event id").fill(succeeded["id"])
    follow(page.get_by_role("button", name="Find"))
    assert rows(page) == [succeeded["id"]]
    page.get_by_label("Event id").fill("evt_" + "0" * 32)
    follow(page.get_by_role("button", name="Find"))
    assert page.get_by_role("status").inner_text() == f"No event evt_{'0' * 32} to show."


def test_pages_go_back_through_the_whole_log_none_lost_none_repeated(
    console: Console, made: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events_page, "PAGE_SIZE", 2)
    monkeypatch.setattr(events_page, "WINDOW", 7)  # windows of the log with no event at all
    page = console.signed_in(Role.OPERATOR)
    page.goto(f"{console.url}/events")
    seen: list[str] = []
    for _ in range(200):
        seen += rows(page)
        older = page.get_by_role("link", name="Older events")
        if older.count() == 0:
            break
        follow(older)
    assert seen == [e["id"] for e in reversed(every_event(console))]


def test_a_seller_sees_its_own_events_and_finance_none(
    console: Console, made: dict[str, dict[str, Any]]
) -> None:
    page = console.signed_in(Role.SELLER, seller="seller_1")
    page.goto(f"{console.url}/events")
    assert page.get_by_label("Seller account").count() == 0
    shown = rows(page)
    assert made["payment_order.failed"]["id"] in shown
    assert made["payment_order.succeeded"]["id"] not in shown, "seller_0's"
    types = {td.inner_text() for td in page.locator("#events tbody td:nth-child(2)").all()}
    assert "checkout.completed" not in types, "a checkout's events span sellers"
    assert page.locator("#events tbody a").count() == 0, "no order page for a seller key"
    page.get_by_label("Event id").fill(made["payment_order.succeeded"]["id"])
    follow(page.get_by_role("button", name="Find"))
    assert page.get_by_role("status").inner_text().startswith("No event evt_")
    kept_out(console.signed_in(Role.FINANCE), console.url, "Events", "/events")


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("type=payment_order.exploded", 422),
        ("seller=a%20b", 422),
        ("before=0", 400),  # the query's own validation, as on the other pages
        ("before=x", 400),
    ],
)
def test_a_bad_filter_is_a_page_naming_it(console: Console, query: str, status: int) -> None:
    page = console.signed_in(Role.MERCHANT)
    answer = page.goto(f"{console.url}/events?{query}")
    assert answer is not None
    assert answer.status == status
    assert query.split("=")[0] in page.locator("main").inner_text()
