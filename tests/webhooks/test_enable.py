"""A disabled endpoint enabled again (POST /webhook-endpoints/{id}/enable; ADR 0027): it hears
the events recorded after the enabling, never those recorded while it was disabled; what its
disabling cancelled can be sent again; and the feed applying the stretch again makes the
same deliveries."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from payments.domain.payment_order import PaymentOrder
from payments.projections.core import ProjectionPoisoned
from payments.projections.event_store import EVENTS_TABLE
from payments.runtime.webhook_sender import WebhookSender
from tests.conftest import bearer, services_on_new_database
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.webhooks.conftest import AUDIT_KEY, deliver_until, deliveries, listening

SUCCEEDED = "payment_order.succeeded"


def charged(stack: Stack, amount: str) -> str:
    [order_id] = place(stack, stack.sandbox.token("success"), [amount])
    stack.settle(lambda: terminal(stack, order_id))
    return order_id


def statuses(delivered: list[dict[str, Any]]) -> dict[int, str]:
    """Each delivery's status by the position of its event."""
    return {d["position"]: d["status"] for d in delivered}


def test_an_enabled_endpoint_hears_what_comes_after_and_gets_back_what_was_cancelled(
    stack: Stack, sender: WebhookSender
) -> None:
    with listening(stack, SUCCEEDED) as (receiver, endpoint):
        endpoint_id = endpoint["endpoint_id"]
        path = f"/webhook-endpoints/{endpoint_id}"
        assert stack.http.post(f"{path}/enable").status_code == 409, "not disabled"
        receiver.answers = [500]
        before = charged(stack, "11")
        deliver_until(stack, sender, lambda: len(receiver.received) == 1)  # tried, pending
        disabled = stack.http.post(f"{path}/disable", json={"reason": "maintenance"})
        assert disabled.status_code == 200, disabled.text
        while_disabled = charged(stack, "12")
        stack.executor.run_until_idle()
        [cancelled] = deliveries(stack, endpoint_id)
        assert cancelled["status"] == "cancelled"

        enabled = stack.http.post(f"{path}/enable")
        assert enabled.status_code == 200, enabled.text
        assert (enabled.json()["status"], enabled.json()["disabled_reason"]) == ("enabled", None)
        assert stack.http.get(path).json()["status"] == "enabled"
        listed = {e["endpoint_id"]: e for e in stack.http.get("/webhook-endpoints").json()["items"]}
        assert listed[endpoint_id]["status"] == "enabled", "the endpoints' view follows"
        assert stack.http.post(f"{path}/enable").status_code == 409, "enabled already"

        after = charged(stack, "13")
        deliver_until(stack, sender, lambda: len(receiver.received) == 2)
        orders = [e["data"]["payment_order_id"] for e in receiver.events()]
        assert orders == [before, after]
        # At once after the enabling (the API caught the feed up): the cancelled one back.
        recovered = stack.http.post(f"{path}/recover", json={"since": "2000-01-01T00:00:00Z"})
        assert recovered.json()["redelivered"] == 1, recovered.text
        deliver_until(stack, sender, lambda: len(receiver.received) == 3)
        assert receiver.received[-1].body == receiver.received[0].body, "the same bytes"
        assert while_disabled not in [e["data"]["payment_order_id"] for e in receiver.events()]
        assert {d["status"] for d in deliveries(stack, endpoint_id)} == {"delivered"}
        assert len(deliveries(stack, endpoint_id)) == 2


def test_a_cancelled_delivery_is_redelivered_once_its_endpoint_is_enabled(
    stack: Stack, sender: WebhookSender
) -> None:
    with listening(stack, SUCCEEDED) as (receiver, endpoint):
        endpoint_id = endpoint["endpoint_id"]
        receiver.answers = [500]
        charged(stack, "14")
        deliver_until(stack, sender, lambda: len(receiver.received) == 1)
        stack.http.post(f"/webhook-endpoints/{endpoint_id}/disable")
        stack.executor.run_until_idle()
        [cancelled] = deliveries(stack, endpoint_id)
        again = f"/webhook-deliveries/{cancelled['delivery_id']}/redeliver"
        assert stack.http.post(again).status_code == 409, "its endpoint is disabled"
        assert stack.http.post(f"/webhook-endpoints/{endpoint_id}/enable").status_code == 200
        redelivered = stack.http.post(again)
        assert redelivered.status_code == 200, redelivered.text
        assert (redelivered.json()["status"], redelivered.json()["attempts"]) == ("pending", 0)
        deliver_until(stack, sender, lambda: len(receiver.received) == 2)


def test_the_feed_applying_a_disabling_and_an_enabling_again_makes_the_same_deliveries(
    stack: Stack, sender: WebhookSender
) -> None:
    """Set back to before the disabling, the feed must not cancel what the endpoint has been
    owed since the enabling; set back to before the endpoint was made, with its deliveries
    deleted, it makes the same ones again: none for the event recorded while disabled."""
    feed = stack.services.webhooks.feed
    feed.run_until_idle()
    not_made_yet = feed.view.position()
    with listening(stack, SUCCEEDED) as (_, endpoint):
        endpoint_id = endpoint["endpoint_id"]
        path = f"/webhook-endpoints/{endpoint_id}"
        charged(stack, "15")
        feed.run_until_idle()
        before_disabling = feed.view.position()
        assert stack.http.post(f"{path}/disable").status_code == 200
        charged(stack, "16")
        assert stack.http.post(f"{path}/enable").status_code == 200
        charged(stack, "17")
        feed.run_until_idle()  # the sender has not run: the last one waits
        made = statuses(deliveries(stack, endpoint_id))
        assert sorted(made.values()) == ["cancelled", "pending"]

        for set_back, delete in ((before_disabling, False), (not_made_yet, True)):
            position = feed.view.position()
            with stack.services.pool.connection() as conn:
                if delete:
                    conn.execute(
                        "DELETE FROM webhook_deliveries WHERE endpoint_id = %s", (endpoint_id,)
                    )
                conn.execute(
                    "UPDATE notification_feed_tracking SET notification_id = %s", (set_back,)
                )
            feed.run_until_idle()
            assert feed.view.position() == position
            assert statuses(deliveries(stack, endpoint_id)) == made, (set_back, delete)
        sender.send_once()
        assert sorted(statuses(deliveries(stack, endpoint_id)).values()) == [
            "cancelled",
            "delivered",
        ]


def test_only_a_key_that_may_disable_enables_and_a_seller_only_its_own(stack: Stack) -> None:
    assert stack.http.post("/webhook-endpoints/we_nothing/enable").status_code == 404
    with listening(stack, SUCCEEDED) as (_, endpoint):
        path = f"/webhook-endpoints/{endpoint['endpoint_id']}"
        assert stack.http.post(f"{path}/disable").status_code == 200
        for role, answer in [("operator", 403), ("finance", 403)]:
            refused = stack.http.post(f"{path}/enable", headers=bearer(stack.services, role))
            assert refused.status_code == answer, role
        seller = bearer(stack.services, "seller", seller="seller_a")
        assert stack.http.post(f"{path}/enable", headers=seller).status_code == 404
        assert stack.http.get(path).json()["status"] == "disabled", "nothing refused changed it"
        merchant = bearer(stack.services, "merchant")
        assert stack.http.post(f"{path}/enable", headers=merchant).status_code == 200


def test_an_endpoint_is_enabled_even_when_the_feed_is_stuck(admin_database_url: str) -> None:
    """The enabling is recorded before the API catches the feed up; a feed stuck at an event
    it cannot apply (the worker reports it) does not turn the answer into an error."""
    with services_on_new_database(admin_database_url, PAYMENTS_AUDIT_KEY=AUDIT_KEY) as services:
        webhooks = services.webhooks
        endpoint, _, _ = webhooks.register(
            uuid.uuid4().hex, "https://shop.example/hooks", [SUCCEEDED], "", "test-key"
        )
        webhooks.commands.disable(endpoint.endpoint_id, "maintenance", "test-key")
        with services.pool.connection() as conn:  # an event nobody can read
            conn.execute(
                f"INSERT INTO {EVENTS_TABLE} (originator_id, originator_version, topic, state) "
                "VALUES (%s, 1, %s, %s)",
                (uuid.uuid4(), str(PaymentOrder.Succeeded.TOPIC), b"not an event"),
            )
        assert not webhooks.enable(endpoint.endpoint_id, by="test-key").disabled
        assert not webhooks.commands.get(endpoint.endpoint_id).disabled
        with pytest.raises(ProjectionPoisoned):
            webhooks.feed.run_until_idle()
