"""Webhooks in the browser: a merchant sees the endpoints registered over the API (never a
secret), an endpoint's deliveries with the failed one standing out, filters them by status and
sends the failed one again, confirmed; a redelivery the API refuses (pending, or its endpoint
disabled) is refused here too; every failed delivery since an instant is sent again,
confirmed; finance keys are not offered the page, and a seller key sees its own seller's
endpoints alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from payments.domain.api_key import Role
from tests.console.conftest import Console, csrf, follow, kept_out, screenshot
from tests.console.webhook_stack import NOBODY, console_fixture, register
from tests.executor.helpers import place, terminal

EVENT_TYPE = "payment_order.succeeded"
console = console_fixture()


@pytest.fixture(scope="module")
def endpoints(console: Console) -> dict[str, str]:
    """Two endpoints a merchant registered over the API ("shop", "old"), each with one
    delivery of an order's success that failed for good; "old" disabled afterwards."""
    stack = console.stack
    merchant = {"authorization": f"Bearer {console.key(Role.MERCHANT)}"}
    made = {
        name: register(console, merchant, EVENT_TYPE, f"the {name} one") for name in ("shop", "old")
    }
    [order_id] = place(stack, stack.sandbox.token("success"), ["3.21"])
    stack.settle(lambda: terminal(stack, order_id))
    webhooks = stack.services.webhooks
    webhooks.feed.run_until_idle()
    sender = webhooks.sender()
    try:
        assert sender.send_once() == 2
    finally:
        sender.close()
    disabled = stack.http.post(
        f"/webhook-endpoints/{made['old']}/disable", json={"reason": "moved"}, headers=merchant
    )
    assert disabled.status_code == 200, disabled.text
    webhooks.feed.run_until_idle()  # the subscription knows it is disabled
    return made


def deliveries_of(console: Console, endpoint_id: str) -> list[dict[str, Any]]:
    """GET /webhook-endpoints/{id}/deliveries: what the JSON API says of them."""
    answer = console.stack.http.get(f"/webhook-endpoints/{endpoint_id}/deliveries")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def cells(row: Any) -> list[str]:
    return [cell.inner_text().strip() for cell in row.locator("th, td").all()]


def test_a_merchant_sees_a_failed_delivery_and_sends_it_again(
    console: Console, endpoints: dict[str, str]
) -> None:
    shop, old = endpoints["shop"], endpoints["old"]
    page = console.signed_in(Role.MERCHANT)
    assert page.locator('[data-figure="failed-webhooks"]').inner_text() == "2"  # the overview
    tile = page.locator("section.tile", has=page.locator("#t-webhooks"))
    follow(tile.get_by_role("link", name="See them"))
    assert page.get_by_role("heading", level=1).inner_text() == "Webhooks"
    listed = {cells(row)[0]: cells(row)[1:] for row in page.locator("#endpoints tbody tr").all()}
    assert list(listed) == [shop, old]
    url, types, hears, status, generation, created = listed[shop]
    assert (url.splitlines(), types, status) == ([NOBODY, "the shop one"], EVENT_TYPE, "enabled")
    assert (hears, generation) == ("every seller", "1")
    assert datetime.strptime(created, "%Y-%m-%d %H:%M:%S")
    assert listed[old][3] == "disabled: moved"
    assert "whsec_" not in page.content()

    follow(page.get_by_role("link", name=shop))
    assert page.get_by_role("heading", level=1).inner_text() == f"Webhook endpoint {shop}"
    assert page.locator("#endpoint-status").inner_text() == "enabled"
    rows = page.locator("#deliveries tbody tr")
    assert rows.count() == 1
    assert rows.first.get_attribute("class") == "error"  # a failed delivery stands out
    [json] = deliveries_of(console, shop)
    event_id = json["event_id"]
    shown = cells(rows.first)
    assert shown[:6] == [f"{EVENT_TYPE}\n{event_id}", "failed", "1", "connection refused", "", ""]
    assert "whsec_" not in page.content()
    screenshot(page, "webhooks")

    page.get_by_label("Status").select_option("delivered")
    follow(page.get_by_role("button", name="Filter"))
    assert cells(rows.first) == ["No deliveries match."]
    page.get_by_label("Status").select_option("failed")
    follow(page.get_by_role("button", name="Filter"))
    assert rows.count() == 1

    stale = page.context.new_page()  # the same page, open in another tab
    stale.goto(page.url)
    rows.first.get_by_label("I confirm: send it again").check()
    follow(rows.first.get_by_role("button", name="Redeliver"))
    assert page.get_by_role("status").inner_text().startswith(f"Sent {json['delivery_id']} back")
    assert cells(rows.first)[1] == "pending"
    assert rows.first.get_attribute("class") is None
    assert rows.first.get_by_role("button", name="Redeliver").count() == 0
    assert [(d["status"], d["attempts"]) for d in deliveries_of(console, shop)] == [("pending", 0)]

    stale.get_by_label("I confirm: send it again").check()  # pending now: refused
    follow(stale.get_by_role("button", name="Redeliver"))
    assert stale.get_by_role("heading", level=1).inner_text() == "Conflict"
    assert "pending" in stale.locator("main").inner_text()
    page.goto(console.url)
    assert page.locator('[data-figure="failed-webhooks"]').inner_text() == "1"


def test_a_disabled_endpoint_s_delivery_is_not_sent_again(
    console: Console, endpoints: dict[str, str]
) -> None:
    old = endpoints["old"]
    page = console.signed_in(Role.OPERATOR)
    follow(page.get_by_role("link", name="Webhooks"))
    follow(page.get_by_role("link", name=old))
    assert page.locator("#endpoint-status").inner_text() == "disabled: moved"
    rows = page.locator("#deliveries tbody tr")
    assert cells(rows.first)[1] == "failed"
    assert page.get_by_role("button", name="Redeliver").count() == 0  # none is offered
    [delivery] = deliveries_of(console, old)
    action = f"{console.url}/webhooks/deliveries/{delivery['delivery_id']}/redeliver"
    token, html = {"x-csrf-token": csrf(page)}, {"accept": "text/html"}
    forged = page.request.post(action, form={"confirm": "yes"}, headers={**token, **html})
    assert (forged.status, "endpoint disabled" in forged.text()) == (409, True)
    unconfirmed = page.request.post(action, form={}, headers={**token, **html})
    assert (unconfirmed.status, "tick the box" in unconfirmed.text()) == (422, True)
    no_csrf = page.request.post(action, form={"confirm": "yes"}, headers=html)
    assert (no_csrf.status, "CSRF" in no_csrf.text()) == (403, True)
    unknown = page.request.post(
        f"{console.url}/webhooks/deliveries/whd_nothing/redeliver",
        form={"confirm": "yes"},
        headers={**token, **html},
    )
    assert unknown.status == 404
    assert [d["status"] for d in deliveries_of(console, old)] == ["failed"]
    page.goto(f"{console.url}/webhooks/we_nothing")
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    page.goto(f"{console.url}/webhooks/{old}?status=lost")
    assert page.get_by_role("heading", level=1).inner_text() == "That input is not valid"


def test_finance_keys_are_not_offered_webhooks(console: Console, endpoints: dict[str, str]) -> None:
    finance = console.signed_in(Role.FINANCE)
    assert finance.locator('[data-figure="failed-webhooks"]').count() == 0
    kept_out(finance, console.url, "Webhooks", "/webhooks")
    kept_out(finance, console.url, "Webhooks", f"/webhooks/{endpoints['shop']}")
    [delivery] = deliveries_of(console, endpoints["shop"])
    answer = finance.request.post(
        f"{console.url}/webhooks/deliveries/{delivery['delivery_id']}/redeliver",
        form={"confirm": "yes"},
        headers={"x-csrf-token": csrf(finance)},
    )
    assert answer.status == 403


def test_a_seller_sees_and_pings_its_own_endpoints_alone(
    console: Console, endpoints: dict[str, str]
) -> None:
    own = {"authorization": f"Bearer {console.key(Role.SELLER, 'seller_w')}"}
    endpoint_id = register(console, own, "payout.paid", "seller_w's")

    page = console.signed_in(Role.SELLER, "seller_w")
    follow(page.get_by_role("link", name="Webhooks"))
    rows = page.locator("#endpoints tbody tr")
    assert rows.count() == 1, "the merchant's endpoints are not a seller's"
    assert cells(rows.first)[0] == endpoint_id
    assert cells(rows.first)[3] == "seller_w"
    follow(rows.first.get_by_role("link", name=endpoint_id))
    assert page.locator("#endpoint-seller").inner_text() == "the events of seller_w"
    form = page.get_by_role("form", name="Send a test event")
    form.get_by_label("I confirm: send the endpoint a test event").check()
    follow(form.get_by_role("button", name="Send a test event"))
    assert page.get_by_role("status").inner_text().startswith("A test event is on its way")

    page.goto(f"{console.url}/webhooks/{endpoints['shop']}")
    assert page.get_by_role("heading", level=1).inner_text() == "Not found"
    [delivery] = deliveries_of(console, endpoints["shop"])
    forged = page.request.post(
        f"{console.url}/webhooks/deliveries/{delivery['delivery_id']}/redeliver",
        form={"confirm": "yes"},
        headers={"x-csrf-token": csrf(page)},
    )
    assert forged.status == 404, "another's delivery is not revealed"
    assert deliveries_of(console, endpoints["shop"])[0]["status"] == delivery["status"]
    merchant = console.signed_in(Role.MERCHANT)
    merchant.goto(f"{console.url}/webhooks")
    assert "seller_w" in merchant.locator("#endpoints").inner_text(), "the merchant sees all"


def test_every_failed_delivery_since_an_instant_is_sent_again_confirmed(
    console: Console, endpoints: dict[str, str]
) -> None:
    """Last in this module: it adds deliveries to the endpoints above."""
    stack = console.stack
    merchant = {"authorization": f"Bearer {console.key(Role.MERCHANT)}"}
    down = register(console, merchant, EVENT_TYPE, "down for a night")
    stack.services.webhooks.feed.run_until_idle()  # its subscription, before the orders
    orders = place(stack, stack.sandbox.token("success"), ["1.00", "2.00"])
    stack.settle(lambda: all(terminal(stack, order) for order in orders))
    stack.services.webhooks.feed.run_until_idle()
    sender = stack.services.webhooks.sender()
    try:
        sender.send_once()
    finally:
        sender.close()
    assert [d["status"] for d in deliveries_of(console, down)] == ["failed", "failed"]

    page = console.signed_in(Role.OPERATOR)
    page.goto(f"{console.url}/webhooks/{down}")
    form = page.get_by_role("form", name="Send failed deliveries again")
    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    form.get_by_label("Failed (or cancelled) deliveries made since (UTC)").fill(later)
    form.get_by_label("I confirm: send every one of them again").check()
    follow(form.get_by_role("button", name="Send failed deliveries again"))
    assert (
        page.get_by_role("status")
        .inner_text()
        .startswith("0 failed or cancelled deliveries sent back")
    )
    assert [d["status"] for d in deliveries_of(console, down)] == ["failed", "failed"]

    page.goto(f"{console.url}/webhooks/{down}")
    earlier = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    form.get_by_label("Failed (or cancelled) deliveries made since (UTC)").fill(earlier)
    form.get_by_label("I confirm: send every one of them again").check()
    follow(form.get_by_role("button", name="Send failed deliveries again"))
    assert (
        page.get_by_role("status")
        .inner_text()
        .startswith("2 failed or cancelled deliveries sent back")
    )
    shown = [cells(row)[1] for row in page.locator("#deliveries tbody tr").all()]
    assert shown == ["pending", "pending"]
    assert [(d["status"], d["attempts"]) for d in deliveries_of(console, down)] == [
        ("pending", 0),
        ("pending", 0),
    ]
    # another endpoint's failed deliveries stay failed
    assert "failed" in {d["status"] for d in deliveries_of(console, endpoints["shop"])}

    action = f"{console.url}/webhooks/{down}/recover"
    token, html = {"x-csrf-token": csrf(page)}, {"accept": "text/html"}
    unconfirmed = page.request.post(action, form={"since": earlier}, headers={**token, **html})
    assert (unconfirmed.status, "tick the box" in unconfirmed.text()) == (422, True)
    garbled = page.request.post(
        action, form={"since": "yesterday", "confirm": "yes"}, headers={**token, **html}
    )
    assert (garbled.status, "since" in garbled.text()) == (422, True)
    finance = console.signed_in(Role.FINANCE)
    refused = finance.request.post(
        action, form={"since": earlier, "confirm": "yes"}, headers={"x-csrf-token": csrf(finance)}
    )
    assert refused.status == 403
    gone = page.request.post(
        f"{console.url}/webhooks/{endpoints['old']}/recover",
        form={"since": earlier, "confirm": "yes"},
        headers={**token, **html},
    )
    assert (gone.status, "endpoint disabled" in gone.text()) == (409, True)
    page.goto(f"{console.url}/webhooks/{endpoints['old']}")
    assert page.get_by_role("form", name="Send failed deliveries again").count() == 0


def test_a_merchant_sends_an_endpoint_a_test_event(console: Console) -> None:
    stack = console.stack
    merchant = {"authorization": f"Bearer {console.key(Role.MERCHANT)}"}
    endpoint_id = register(console, merchant, "refund.failed", "new receiver")
    operator = console.signed_in(Role.OPERATOR)
    operator.goto(f"{console.url}/webhooks/{endpoint_id}")
    assert operator.get_by_role("form", name="Send a test event").count() == 0  # merchants'
    forged = operator.request.post(
        f"{console.url}/webhooks/{endpoint_id}/ping",
        form={"confirm": "yes"},
        headers={"x-csrf-token": csrf(operator)},
    )
    assert forged.status == 403

    page = console.signed_in(Role.MERCHANT)
    page.goto(f"{console.url}/webhooks/{endpoint_id}")
    form = page.get_by_role("form", name="Send a test event")
    form.get_by_label("I confirm: send the endpoint a test event").check()
    follow(form.get_by_role("button", name="Send a test event"))
    banner = page.get_by_role("status").inner_text()
    assert banner.startswith("A test event is on its way: delivery whd_")
    stack.services.webhooks.feed.run_until_idle()  # the worker's feed makes the delivery
    [delivery] = deliveries_of(console, endpoint_id)
    assert delivery["delivery_id"] in banner
    assert (delivery["event_type"], delivery["status"]) == ("webhook_endpoint.ping", "pending")


def test_a_merchant_moves_an_endpoint_to_another_url_confirmed(console: Console) -> None:
    merchant = {"authorization": f"Bearer {console.key(Role.MERCHANT)}"}
    endpoint_id = register(console, merchant, "refund.failed", "to move")
    operator = console.signed_in(Role.OPERATOR)
    operator.goto(f"{console.url}/webhooks/{endpoint_id}")
    assert operator.get_by_role("form", name="Move the endpoint").count() == 0
    forged = operator.request.post(
        f"{console.url}/webhooks/{endpoint_id}/move",
        form={"url": "https://evil.example/", "confirm": "yes"},
        headers={"x-csrf-token": csrf(operator)},
    )
    assert forged.status == 403

    page = console.signed_in(Role.MERCHANT)
    page.goto(f"{console.url}/webhooks/{endpoint_id}")
    form = page.get_by_role("form", name="Move the endpoint")
    form.get_by_label("New URL").fill("http://127.0.0.1:9/moved")
    form.get_by_label("I confirm: deliver to this URL from now on").check()
    follow(form.get_by_role("button", name="Move the endpoint"))
    assert page.get_by_role("status").inner_text().startswith("Moved")
    assert "http://127.0.0.1:9/moved" in page.locator("dl.facts").inner_text()
    shown = console.stack.http.get(f"/webhook-endpoints/{endpoint_id}").json()
    assert (shown["url"], shown["description"]) == ("http://127.0.0.1:9/moved", "to move")
    refused = page.request.post(
        f"{console.url}/webhooks/{endpoint_id}/move",
        form={"url": "ftp://nowhere/", "confirm": "yes"},
        headers={"x-csrf-token": csrf(page), "accept": "text/html"},
    )
    assert (refused.status, "url" in refused.text()) == (422, True)
    assert console.stack.http.get(f"/webhook-endpoints/{endpoint_id}").json()["url"] == (
        "http://127.0.0.1:9/moved"
    )


def test_a_merchant_changes_the_types_an_endpoint_hears_confirmed(console: Console) -> None:
    merchant = {"authorization": f"Bearer {console.key(Role.MERCHANT)}"}
    endpoint_id = register(console, merchant, "refund.failed", "to retype")
    operator = console.signed_in(Role.OPERATOR)
    operator.goto(f"{console.url}/webhooks/{endpoint_id}")
    assert operator.get_by_role("form", name="Change the event types").count() == 0
    forged = operator.request.post(
        f"{console.url}/webhooks/{endpoint_id}/types",
        form={"event_types": "payout.paid", "confirm": "yes"},
        headers={"x-csrf-token": csrf(operator)},
    )
    assert forged.status == 403

    page = console.signed_in(Role.MERCHANT)
    page.goto(f"{console.url}/webhooks/{endpoint_id}")
    form = page.get_by_role("form", name="Change the event types")
    assert form.get_by_label("refund.failed").is_checked()
    form.get_by_label("refund.failed").uncheck()
    form.get_by_label("payout.paid").check()
    form.get_by_label("dispute.opened").check()
    form.get_by_label("I confirm: deliver these types from now on").check()
    follow(form.get_by_role("button", name="Change the event types"))
    assert page.get_by_role("status").inner_text().startswith("Changed")
    assert page.locator("#endpoint-types").inner_text() == "dispute.opened, payout.paid"
    shown = console.stack.http.get(f"/webhook-endpoints/{endpoint_id}").json()
    assert shown["event_types"] == ["dispute.opened", "payout.paid"]
    for form_fields, field in (
        ({"confirm": "yes"}, "event_types"),  # no box ticked
        ({"event_types": "payment.nope", "confirm": "yes"}, "event_types"),
        ({"event_types": "payout.paid"}, "confirm"),
    ):
        refused = page.request.post(
            f"{console.url}/webhooks/{endpoint_id}/types",
            form=form_fields,
            headers={"x-csrf-token": csrf(page), "accept": "text/html"},
        )
        assert (refused.status, field in refused.text()) == (422, True), form_fields
    shown = console.stack.http.get(f"/webhook-endpoints/{endpoint_id}").json()
    assert shown["event_types"] == ["dispute.opened", "payout.paid"], "nothing refused applied"
