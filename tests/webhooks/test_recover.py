"""After a receiver's outage: every failed delivery made since an instant sent again, in one
call (POST /webhook-endpoints/{id}/recover; docs/webhooks.md)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from payments.runtime.webhook_sender import WebhookSender
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.webhooks.conftest import deliver_until, deliveries, listening


def charged(stack: Stack) -> str:
    [order_id] = place(stack, stack.sandbox.token("success"), ["5"])
    stack.settle(lambda: terminal(stack, order_id))
    return order_id


def test_failed_deliveries_since_an_instant_are_sent_again_and_older_ones_stay_failed(
    stack: Stack, sender: WebhookSender
) -> None:
    with listening(stack, "payment_order.succeeded") as (receiver, endpoint):
        endpoint_id = endpoint["endpoint_id"]
        receiver.answers = [500] * 6  # the tests' three attempts, twice: both fail for good
        charged(stack)
        deliver_until(
            stack, sender, lambda: len(deliveries(stack, endpoint_id, status="failed")) == 1
        )
        time.sleep(0.01)
        cut = datetime.now(UTC)
        charged(stack)
        deliver_until(
            stack, sender, lambda: len(deliveries(stack, endpoint_id, status="failed")) == 2
        )
        [newer, older] = deliveries(stack, endpoint_id)  # newest event first
        assert len(receiver.received) == 6

        path = f"/webhook-endpoints/{endpoint_id}/recover"
        answer = stack.http.post(path, json={"since": cut.isoformat()})
        assert answer.status_code == 200, answer.text
        assert answer.json()["redelivered"] == 1
        pending = deliveries(stack, endpoint_id, status="pending")
        assert [(d["delivery_id"], d["attempts"]) for d in pending] == [(newer["delivery_id"], 0)]
        deliver_until(stack, sender, lambda: len(receiver.received) == 7)
        now = {d["delivery_id"]: d["status"] for d in deliveries(stack, endpoint_id)}
        assert now == {newer["delivery_id"]: "delivered", older["delivery_id"]: "failed"}
        assert receiver.received[-1].body == receiver.received[3].body  # the same bytes

        again = stack.http.post(path, json={"since": "2000-01-01T00:00:00Z"})
        assert again.json()["redelivered"] == 1  # the older one; a delivered one is not sent
        deliver_until(stack, sender, lambda: len(receiver.received) == 8)
        assert receiver.received[-1].body == receiver.received[0].body
        assert {d["status"] for d in deliveries(stack, endpoint_id)} == {"delivered"}
        assert (
            stack.http.post(path, json={"since": "2000-01-01T00:00:00Z"}).json()["redelivered"] == 0
        )
