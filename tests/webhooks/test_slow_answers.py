"""A receiver that answers a byte at a time cannot hold a sender's thread past the timeout:
urllib3's read timeout bounds each read, runtime/http_deadline.py the whole exchange."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from payments.domain.webhook_endpoint import DeliveryPolicy
from payments.runtime.webhook_sender import SenderConfig, WebhookSender
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.webhooks.conftest import deliveries, registered

ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"


@contextmanager
def trickling(byte_every_s: float) -> Iterator[tuple[str, list[float]]]:
    """A receiver whose first connection gets its answer a byte every `byte_every_s` (about
    20 s in all at 0.3); later connections get it at once. Its URL, and when each connection
    came."""
    server = socket.create_server(("127.0.0.1", 0))
    came: list[float] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            came.append(time.monotonic())
            with conn:
                conn.recv(65536)
                try:
                    if len(came) == 1:
                        for byte in ANSWER:
                            conn.sendall(bytes([byte]))
                            time.sleep(byte_every_s)
                    else:
                        conn.sendall(ANSWER)
                except OSError:
                    pass  # the sender cut it

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}/hooks", came
    finally:
        server.close()


def test_an_answer_a_byte_at_a_time_is_cut_at_the_timeout_and_tried_again(stack: Stack) -> None:
    with (
        trickling(0.3) as (url, came),
        registered(stack, url, "payment_order.succeeded") as endpoint,
    ):
        [order] = place(stack, stack.sandbox.token("success"), ["5"])
        stack.settle(lambda: terminal(stack, order))
        stack.executor.run_until_idle()
        webhooks = stack.services.webhooks
        config = SenderConfig(
            DeliveryPolicy(max_attempts=3, backoff_base_s=0.05, backoff_cap_s=0.1),
            timeout_s=1.0,
            concurrency=2,
            lease=timedelta(seconds=30),
        )
        sender = WebhookSender(webhooks.deliveries, webhooks.secret_of, config)
        try:
            started = time.monotonic()
            assert sender.send_once() == 1
            took = time.monotonic() - started
            [cut] = deliveries(stack, endpoint["endpoint_id"])
            assert (cut["status"], cut["attempts"]) == ("pending", 1)
            assert cut["last_error"] == "no complete answer within the timeout"
            assert took < 8, took  # cut near 1 s; the answer alone takes about 20 s
            time.sleep(0.2)  # the backoff (at most 0.1 s)
            assert sender.send_once() == 1
        finally:
            sender.close()
        [done] = deliveries(stack, endpoint["endpoint_id"])
        assert (done["status"], done["attempts"]) == ("delivered", 2)
        assert len(came) == 2  # a new connection: the cut one was not reused
