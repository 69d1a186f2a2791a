"""A whole stack (sandbox PSP, API on a port, executor) with webhooks to merchants on, and a
sender the tests step by hand."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from payments.runtime.webhook_sender import WebhookSender
from tests.executor.conftest import Stack, stack_fixture
from tests.executor.helpers import place, terminal
from tests.webhooks.receiver import Receiver, receiving

AUDIT_KEY = "audit-key-of-the-webhook-tests"
stack = stack_fixture(
    PAYMENTS_AUDIT_KEY=AUDIT_KEY,
    PAYMENTS_DELIVERY_BACKOFF_BASE_S="0.05",
    PAYMENTS_DELIVERY_BACKOFF_CAP_S="0.1",
    PAYMENTS_DELIVERY_MAX_ATTEMPTS="3",
    PAYMENTS_DELIVERY_TIMEOUT_S="1",
    PAYMENTS_DELIVERY_LEASE_S="3",
)


@pytest.fixture
def sender(stack: Stack) -> Iterator[WebhookSender]:
    sending = stack.services.webhooks.sender()
    try:
        yield sending
    finally:
        sending.close()


def register(stack: Stack, url: str, *event_types: str, **more: Any) -> dict[str, Any]:
    """POST /webhook-endpoints; the endpoint as answered."""
    response = stack.http.post(
        "/webhook-endpoints",
        json={"url": url, "event_types": list(event_types), **more},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@contextmanager
def registered(stack: Stack, url: str, *event_types: str) -> Iterator[dict[str, Any]]:
    """An endpoint for the block, disabled after it (so that later tests' events do not
    queue up for a receiver that is gone)."""
    endpoint = register(stack, url, *event_types)
    try:
        yield endpoint
    finally:
        stack.http.post(f"/webhook-endpoints/{endpoint['endpoint_id']}/disable")


@contextmanager
def listening(stack: Stack, *event_types: str) -> Iterator[tuple[Receiver, dict[str, Any]]]:
    """A receiver and an endpoint of these types that posts to it, for the block."""
    with receiving() as receiver, registered(stack, receiver.url, *event_types) as endpoint:
        yield receiver, endpoint


def deliveries(stack: Stack, endpoint_id: str, **query: str) -> list[dict[str, Any]]:
    response = stack.http.get(f"/webhook-endpoints/{endpoint_id}/deliveries", params=query)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def deliver_until(
    stack: Stack, sender: WebhookSender, done: Callable[[], bool], timeout: float = 20.0
) -> None:
    """Run the executor (and the feeds with it) and the sender until done() holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stack.executor.run_until_idle()
        sender.send_once()
        if done():
            return
        time.sleep(0.05)
    raise AssertionError("the deliveries did not arrive in time")


def successes_delivered(
    stack: Stack, sender: WebhookSender, amounts: list[str]
) -> tuple[list[str], Receiver]:
    """Orders of these amounts charged, and their successes delivered to a receiver of an
    endpoint that hears those alone (disabled after)."""
    with listening(stack, "payment_order.succeeded") as (receiver, _):
        orders = place(stack, stack.sandbox.token("success"), amounts)
        stack.settle(lambda: terminal(stack, *orders))
        deliver_until(stack, sender, lambda: len(receiver.received) == len(amounts))
    return orders, receiver
