"""GET /events: the public events read back from the log, oldest first after a position, each
the very body a webhook delivery of it sends; for a receiver that missed some (its endpoint
disabled meanwhile) or polls. Paged without losing or repeating one, filtered by type and
seller, a seller key its own; every wrong request a problem."""

from __future__ import annotations

from typing import Any

import pytest

from payments.projections.public_events import public_events
from payments.projections.source import ApplicationEventSource
from payments.runtime.webhook_sender import WebhookSender
from tests.conftest import bearer
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.webhooks.conftest import deliver_until, listening, successes_delivered

SUCCEEDED = "payment_order.succeeded"


def head(stack: Stack) -> int:
    return ApplicationEventSource(stack.services.application).head()


def listed(stack: Stack, **query: Any) -> dict[str, Any]:
    answer = stack.http.get("/events", params=query)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def every(stack: Stack, after: int, limit: int, **query: Any) -> list[dict[str, Any]]:
    """Every event after `after`, page by page."""
    events: list[dict[str, Any]] = []
    while True:
        page = listed(stack, after=after, limit=limit, **query)
        events += page["items"]
        assert page["next_after"] >= after
        after = page["next_after"]
        if not page["has_more"]:
            return events


def test_the_events_are_the_bodies_webhooks_send_and_include_what_no_endpoint_heard(
    stack: Stack, sender: WebhookSender
) -> None:
    start = head(stack)
    _, receiver = successes_delivered(stack, sender, ["7", "8"])
    events = every(stack, start, 200)
    delivered = {e["id"]: e for e in receiver.events()}
    assert len(delivered) == 2
    assert {e["id"]: e for e in events if e["id"] in delivered} == delivered, "the same bodies"
    types = [e["type"] for e in events]
    assert (types.count(SUCCEEDED), types.count("checkout.completed")) == (2, 1)
    positions = [e["position"] for e in events]
    assert positions == sorted(positions), "oldest first"
    assert min(positions) > start
    assert every(stack, start, 1) == events, "pages of one: none lost, none repeated"
    assert listed(stack, after=head(stack))["items"] == []


def test_an_endpoint_disabled_for_a_while_finds_what_it_missed(
    stack: Stack, sender: WebhookSender
) -> None:
    with listening(stack, SUCCEEDED) as (receiver, endpoint):
        path = f"/webhook-endpoints/{endpoint['endpoint_id']}"
        assert stack.http.post(f"{path}/disable").status_code == 200
        disabled_at = head(stack)
        [missed] = place(stack, stack.sandbox.token("success"), ["9"])
        stack.settle(lambda: terminal(stack, missed))
        assert stack.http.post(f"{path}/enable").status_code == 200
        deliver_until(stack, sender, lambda: True)
        assert receiver.received == []
        found = every(stack, disabled_at, 50, type=SUCCEEDED)
        assert [e["data"]["payment_order_id"] for e in found] == [missed]
        assert found[0]["data"]["url"] == f"/payments/{missed}"


def test_filters_and_a_seller_key_see_their_own(stack: Stack) -> None:
    start = head(stack)
    [first, second] = place(stack, stack.sandbox.token("success"), ["10", "11"])
    [declined] = place(stack, stack.sandbox.token("declined"), ["12"])
    stack.settle(lambda: terminal(stack, first, second, declined))
    failed = every(stack, start, 50, type="payment_order.failed")
    assert [(e["type"], e["data"]["payment_order_id"]) for e in failed] == [
        ("payment_order.failed", declined)
    ]
    own = {"seller_1": [second]}  # place() names the sellers seller_0, seller_1, ...
    for seller, orders in own.items():
        key = bearer(stack.services, "seller", seller=seller)
        answer = stack.http.get("/events", params={"after": start, "limit": 200}, headers=key)
        assert answer.status_code == 200, answer.text
        seen = answer.json()["items"]
        assert [e["data"]["payment_order_id"] for e in seen] == orders, "never a checkout's"
        assert {e["data"]["seller_account"] for e in seen} == {seller}
        other = stack.http.get("/events", params={"seller_account": "seller_0"}, headers=key)
        assert other.status_code == 404
    by_merchant = every(stack, start, 50, seller_account="seller_0")
    assert {e["data"]["payment_order_id"] for e in by_merchant} == {first, declined}


def test_a_page_reads_a_window_of_the_log_at_most(stack: Stack) -> None:
    start = head(stack)
    [order] = place(stack, stack.sandbox.token("success"), ["13"])
    stack.settle(lambda: terminal(stack, order))
    services = stack.services
    source = ApplicationEventSource(services.application)
    page = public_events(
        services.application, services.pool, source, after=start, limit=50, window=1
    )
    assert (page.next_after, page.more) == (start + 1, True), "one position read, more to come"
    assert len(page.events) <= 1
    whole = public_events(services.application, services.pool, source, after=start, limit=50)
    assert {e["type"] for e in whole.events} >= {SUCCEEDED, "checkout.completed"}
    assert whole.next_after >= max(e["position"] for e in whole.events)


@pytest.mark.parametrize(
    "query",
    [
        {"after": "-1"},
        {"after": "x"},
        {"after": str(10**15 + 1)},
        {"limit": "0"},
        {"limit": "201"},
        {"type": "payment_order.exploded"},
        {"type": "webhook_endpoint.ping"},
        {"seller_account": "a b"},
    ],
)
def test_a_bad_query_is_a_422_naming_it(stack: Stack, query: dict[str, str]) -> None:
    answer = stack.http.get("/events", params=query)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    [name] = query
    assert name in answer.text


def test_roles(stack: Stack) -> None:
    for role, status in [("merchant", 200), ("operator", 200), ("finance", 403), ("admin", 200)]:
        answer = stack.http.get("/events", headers=bearer(stack.services, role))
        assert answer.status_code == status, role
    assert stack.http.get("/events", headers={"Authorization": "Bearer nope"}).status_code == 401
