"""A test event on demand: POST /webhook-endpoints/{id}/ping reaches that endpoint alone,
signed like any delivery (docs/webhooks.md)."""

from __future__ import annotations

import time

from payments.psp.signing import verify_signature
from payments.runtime.webhook_sender import WebhookSender
from tests.conftest import bearer
from tests.executor.conftest import Stack
from tests.webhooks.conftest import deliver_until, listening, register


def test_a_ping_reaches_its_endpoint_alone_signed_and_twice_is_two_events(
    stack: Stack, sender: WebhookSender
) -> None:
    with (
        listening(stack, "refund.failed") as (receiver, endpoint),
        listening(stack, "payment_order.succeeded") as (other, _),
    ):
        endpoint_id = endpoint["endpoint_id"]
        answer = stack.http.post(f"/webhook-endpoints/{endpoint_id}/ping")
        assert answer.status_code == 202, answer.text
        pinged = answer.json()
        assert pinged["endpoint_id"] == endpoint_id
        assert pinged["delivery_url"] == f"/webhook-deliveries/{pinged['delivery_id']}"
        deliver_until(stack, sender, lambda: len(receiver.received) == 1)
        [got] = receiver.received
        assert got.headers["payments-event-type"] == "webhook_endpoint.ping"
        assert got.headers["payments-delivery-id"] == pinged["delivery_id"]
        event = got.event
        assert (event["id"], event["type"]) == (pinged["event_id"], "webhook_endpoint.ping")
        assert event["data"] == {
            "object": "webhook_endpoint",
            "endpoint_id": endpoint_id,
            "url": f"/webhook-endpoints/{endpoint_id}",
        }
        secret = stack.http.get(f"/webhook-endpoints/{endpoint_id}/secret").json()["secrets"][0]
        verify_signature(
            secret["secret"], got.headers["payments-signature"], got.body, int(time.time())
        )
        shown = stack.http.get(pinged["delivery_url"]).json()
        assert (shown["status"], shown["event"]["id"]) == ("delivered", pinged["event_id"])

        again = stack.http.post(f"/webhook-endpoints/{endpoint_id}/ping").json()
        assert again["event_id"] != pinged["event_id"]
        deliver_until(stack, sender, lambda: len(receiver.received) == 2)
        stack.executor.run_until_idle()
        sender.send_once()
        assert other.received == []  # the other endpoint hears of no ping


def test_a_ping_needs_an_enabled_endpoint_and_a_merchant(stack: Stack) -> None:
    assert stack.http.post("/webhook-endpoints/we_nothing/ping").status_code == 404
    endpoint_id = register(stack, "http://127.0.0.1:9/x", "refund.failed")["endpoint_id"]
    path = f"/webhook-endpoints/{endpoint_id}/ping"
    services = stack.services
    for role in ("operator", "finance"):
        assert stack.http.post(path, headers=bearer(services, role)).status_code == 403, role
    assert stack.http.post(path, headers=bearer(services, "admin")).status_code == 202
    assert stack.http.post(f"/webhook-endpoints/{endpoint_id}/disable").status_code == 200
    refused = stack.http.post(path)
    assert refused.status_code == 409, refused.text
    assert "disabled" in refused.json()["detail"]
