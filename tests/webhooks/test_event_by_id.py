"""GET /events/{event_id}: a public event read again by the id a delivery gave, the very body
the delivery sent, so that a receiver can check with us before acting on it. Found through
the public_event_ids view, and among the events it has not applied yet (at once after the
event is recorded); a seller key its own; anything else a 404, never another's event."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from payments.projections.followers.webhook_events import event_id_for
from payments.projections.public_events import IndexBehind, public_event
from payments.projections.rebuild import drop_scratch, empty_scratch_view
from payments.projections.runner import ProjectionRunner
from payments.projections.source import ApplicationEventSource
from payments.projections.views.public_event_ids import NAME, PublicEventIdsView
from payments.runtime.webhook_sender import WebhookSender
from tests.conftest import bearer
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.webhooks.conftest import successes_delivered


def head(stack: Stack) -> int:
    return ApplicationEventSource(stack.services.application).head()


def got(stack: Stack, event_id: str, **headers: str) -> Any:
    return stack.http.get(f"/events/{event_id}", headers=headers)


def listed(stack: Stack, after: int) -> list[dict[str, Any]]:
    answer = stack.http.get("/events", params={"after": after, "limit": 200})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_a_delivered_event_is_read_again_by_its_id_as_it_was_sent(
    stack: Stack, sender: WebhookSender
) -> None:
    start = head(stack)
    _, receiver = successes_delivered(stack, sender, ["21", "22"])
    for sent in receiver.events():
        answer = got(stack, sent["id"])
        assert answer.status_code == 200, answer.text
        assert answer.json() == sent
    events = listed(stack, start)
    assert "checkout.completed" in {e["type"] for e in events}, "one no endpoint heard"
    for event in events:
        assert got(stack, event["id"]).json() == event


@pytest.fixture
def behind(stack: Stack) -> Iterator[PublicEventIdsView]:
    """An index of event ids that has applied nothing yet (a scratch copy of the view)."""
    view = empty_scratch_view(stack.services.pool, NAME)
    assert isinstance(view, PublicEventIdsView)
    try:
        yield view
    finally:
        drop_scratch(stack.services.pool, NAME)


def test_an_event_the_index_has_not_applied_yet_is_found_in_the_log(
    stack: Stack, behind: PublicEventIdsView
) -> None:
    services = stack.services
    source = ApplicationEventSource(services.application)
    start = head(stack)
    [order] = place(stack, stack.sandbox.token("success"), ["23"])
    stack.settle(lambda: terminal(stack, order))
    [event] = [e for e in listed(stack, start) if e["data"].get("payment_order_id") == order]
    assert behind.position_of(event["id"]) is None
    found = public_event(services.application, services.pool, source, event["id"], index=behind)
    assert found == event
    with pytest.raises(IndexBehind):  # too far behind to look through the rest of the log
        public_event(
            services.application, services.pool, source, event["id"], index=behind, window=10
        )
    ProjectionRunner(behind, source).catch_up()
    assert behind.position_of(event["id"]) == event["position"]
    assert (
        public_event(
            services.application, services.pool, source, event["id"], index=behind, window=1
        )
        == event
    ), "from the view's row, with no look through the log"


def test_a_seller_key_reads_its_own_events_only(stack: Stack) -> None:
    start = head(stack)
    [first, second] = place(stack, stack.sandbox.token("success"), ["24", "25"])
    stack.settle(lambda: terminal(stack, first, second))
    by_order = {e["data"].get("payment_order_id"): e for e in listed(stack, start)}
    completed = [e for e in by_order.values() if e["type"] == "checkout.completed"]
    key = bearer(stack.services, "seller", seller="seller_1")  # place() names them seller_i
    own = got(stack, by_order[second]["id"], **key)
    assert (own.status_code, own.json()) == (200, by_order[second])
    assert got(stack, by_order[first]["id"], **key).status_code == 404, "another seller's"
    assert got(stack, completed[0]["id"], **key).status_code == 404, "a checkout's: no seller"


def test_an_id_that_is_no_public_event_is_not_found(stack: Stack) -> None:
    [order] = place(stack, stack.sandbox.token("success"), ["26"])
    stack.settle(lambda: terminal(stack, order))
    created = event_id_for(stack.order(order).id, 1)  # the order's Created: not a public event
    for event_id in [created, "evt_" + "0" * 32, "evt_xyz", "evt_" + "g" * 32, "whd_1"]:
        answer = got(stack, event_id)
        assert answer.status_code == 404, event_id
        assert answer.headers["content-type"].startswith("application/problem+json")
    refused = got(stack, "evt_" + "0" * 200)
    assert (refused.status_code, "event_id" in refused.text) == (422, True)


def test_roles(stack: Stack) -> None:
    path = "/events/evt_" + "0" * 32
    for role, status in [("merchant", 404), ("operator", 404), ("finance", 403), ("admin", 404)]:
        assert stack.http.get(path, headers=bearer(stack.services, role)).status_code == status
    assert stack.http.get(path, headers={"Authorization": "Bearer nope"}).status_code == 401
