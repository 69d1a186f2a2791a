"""A slow endpoint holds only its share of the sender's slots: the other endpoints' deliveries
are sent and recorded while its POSTs hang (ADR 0027, docs/webhooks.md)."""

from __future__ import annotations

import threading
from datetime import timedelta

from payments.domain.webhook_endpoint import DeliveryPolicy
from payments.runtime.webhook_sender import SenderConfig, WebhookSender
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.waiting import wait_until
from tests.webhooks.conftest import deliveries, registered
from tests.webhooks.receiver import receiving

ORDERS = 5


def statuses(stack: Stack, endpoint_id: str) -> list[str]:
    return sorted(d["status"] for d in deliveries(stack, endpoint_id))


def test_a_slow_endpoint_holds_only_its_share_and_never_the_others(stack: Stack) -> None:
    gate = threading.Event()
    with (
        receiving() as slow,
        registered(stack, slow.url, "payment_order.succeeded") as hanging,
        receiving() as fast,
        registered(stack, fast.url, "payment_order.succeeded") as quick,
    ):
        slow.gate = gate
        orders = place(stack, stack.sandbox.token("success"), ["5"] * ORDERS)
        stack.settle(lambda: all(terminal(stack, order) for order in orders))
        stack.executor.run_until_idle()
        assert statuses(stack, quick["endpoint_id"]) == ["pending"] * ORDERS
        webhooks = stack.services.webhooks
        config = SenderConfig(
            DeliveryPolicy(max_attempts=3),
            timeout_s=30,
            concurrency=4,
            per_endpoint=2,
            lease=timedelta(seconds=90),
            poll_interval_s=0.05,
        )
        sender = WebhookSender(webhooks.deliveries, webhooks.secret_of, config)
        thread = threading.Thread(target=sender.run_forever)
        thread.start()
        try:
            # every fast delivery is sent and recorded while the slow endpoint's POSTs hang
            wait_until(lambda: statuses(stack, quick["endpoint_id"]) == ["delivered"] * ORDERS)
            assert len(fast.received) == ORDERS
            assert (slow.in_flight, slow.most_in_flight) == (2, 2)
            assert statuses(stack, hanging["endpoint_id"]) == ["pending"] * ORDERS
            gate.set()
            wait_until(lambda: statuses(stack, hanging["endpoint_id"]) == ["delivered"] * ORDERS)
        finally:
            gate.set()
            sender.stop()
            thread.join(timeout=60)
            sender.close()
        assert not thread.is_alive()
        assert slow.most_in_flight == 2
        assert len(slow.received) == ORDERS  # each once: nothing claimed twice meanwhile
        assert fast.most_in_flight <= 4
