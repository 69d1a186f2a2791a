"""Webhooks to merchants end to end: a real endpoint over HTTP, the sandbox PSP charging,
the executor, the notification feed and the sender (ADR 0027)."""

from __future__ import annotations

import time
import uuid

from payments.psp.signing import SignatureMismatchError, verify_signature
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.webhooks.conftest import deliver_until, register
from tests.webhooks.receiver import receiving

from payments.runtime.webhook_sender import WebhookSender

import pytest


def secret_of(stack: Stack, endpoint_id: str) -> str:
    response = stack.http.get(f"/webhook-endpoints/{endpoint_id}/secret")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    [current] = [s for s in response.json()["secrets"] if s["signs_until"] is None]
    return str(current["secret"])


def test_an_order_s_outcome_reaches_the_endpoint_signed(stack: Stack, sender: WebhookSender) -> None:
    with receiving() as receiver:
        endpoint = register(
            stack, receiver.url, "payment_order.succeeded", "payment_order.failed",
            "checkout.completed", description="shop",
        )  # fmt: skip
        secret = secret_of(stack, endpoint["endpoint_id"])
        [ok, declined] = place(stack, stack.sandbox.token("success"), ["12.50"]) + place(
            stack, stack.sandbox.token("declined"), ["3"]
        )
        stack.settle(lambda: terminal(stack, ok, declined))
        deliver_until(stack, sender, lambda: len(receiver.received) >= 4)
        succeeded = receiver.of_type("payment_order.succeeded")
        assert [r.event["data"]["payment_order_id"] for r in succeeded] == [ok]
        [delivery] = succeeded
        verify_signature(
            secret, delivery.headers["payments-signature"], delivery.body, int(time.time())
        )
        with pytest.raises(SignatureMismatchError):
            verify_signature("whsec_other", delivery.headers["payments-signature"],
                             delivery.body, int(time.time()))  # fmt: skip
        event = delivery.event
        assert event["id"] == delivery.headers["payments-event-id"]
        assert event["data"]["amount"] == "12.50"
        assert event["data"]["status"] == "SUCCESS"
        assert event["data"]["url"] == f"/payments/{ok}"
        [failed] = receiver.events("payment_order.failed")
        assert failed["data"]["payment_order_id"] == declined
        assert failed["data"]["failure_code"]
        assert len(receiver.events("checkout.completed")) == 2
