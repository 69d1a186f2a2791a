"""A worker killed (SIGKILL) while its deliveries are at the merchant's endpoint, and a feed
whose batch is applied again: no delivery is lost, none is made twice as a row, and what
was in flight is sent again with the same body and event id (at least once, ADR 0027)."""

from __future__ import annotations

from pathlib import Path

from payments.projections.pg import fetch_all
from payments.runtime.webhook_sender import WebhookSender
from tests.e2e.processes import Process
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.waiting import wait_until
from tests.webhooks.conftest import deliver_until, deliveries, listening, register
from tests.webhooks.receiver import receiving


def test_a_worker_killed_mid_delivery_sends_again_after_a_restart_and_loses_none(
    stack: Stack, tmp_path: Path
) -> None:
    with listening(stack, "payment_order.succeeded") as (receiver, endpoint):
        order_ids = place(stack, stack.sandbox.token("success"), ["1", "2", "3"])
        stack.settle(lambda: terminal(stack, *order_ids))
        receiver.delay_s = 30  # the endpoint holds every request: the worker dies waiting
        worker = Process(["worker"], stack.env, tmp_path / "worker1.log")
        try:
            wait_until(lambda: len(receiver.received) >= 3)
        finally:
            worker.kill()
        in_flight = {r.event["id"]: r.body for r in receiver.received}
        endpoint_id = endpoint["endpoint_id"]
        assert {d["status"] for d in deliveries(stack, endpoint_id)} == {"pending"}

        receiver.delay_s = 0
        restarted = Process(["worker"], stack.env, tmp_path / "worker2.log")
        try:  # the killed worker's leases (3 s in these tests) run out; then they go again
            wait_until(
                lambda: {d["status"] for d in deliveries(stack, endpoint_id)} == {"delivered"},
                timeout=30,
            )
        finally:
            restarted.interrupt()
        rows = deliveries(stack, endpoint_id)
        assert len(rows) == 3  # one delivery per event, whatever was sent twice
        assert {r["event_id"] for r in rows} == set(in_flight)
        for event_id, body in in_flight.items():
            sent = [r.body for r in receiver.received if r.event["id"] == event_id]
            assert sent == [body, body]  # at least once: the same body, the same event id


def test_a_batch_applied_again_makes_no_second_delivery(
    stack: Stack, sender: WebhookSender
) -> None:
    with listening(stack, "payment_order.succeeded") as (receiver, endpoint):
        [order_id] = place(stack, stack.sandbox.token("success"), ["4"])
        stack.settle(lambda: terminal(stack, order_id))
        deliver_until(stack, sender, lambda: len(receiver.received) == 1)
        feed = stack.services.webhooks.feed
        position = feed.view.position()
        with stack.services.pool.connection() as conn:  # the feed set back 50 positions
            conn.execute(
                "UPDATE notification_feed_tracking SET notification_id = %s",
                (max(0, position - 50),),
            )
        feed.run_until_idle()
        assert feed.view.position() == position
        rows = fetch_all(
            stack.services.pool,
            "SELECT count(*), count(DISTINCT event_id) FROM webhook_deliveries "
            "WHERE endpoint_id = %s",
            (endpoint["endpoint_id"],),
        )
        assert rows == [(1, 1)]
        sender.send_once()
        assert len(receiver.received) == 1  # delivered already: not sent again


def test_a_batch_applied_again_gives_a_sellers_endpoint_its_own_events_once(
    stack: Stack, sender: WebhookSender
) -> None:
    """Which seller an event is about is read again when a batch is applied again: the same
    deliveries, no more, for an endpoint of every seller and one of seller_0."""
    with (
        listening(stack, "payment_order.succeeded") as (everyone, every_endpoint),
        receiving() as own,
    ):
        seller = register(stack, own.url, "payment_order.succeeded", seller_account="seller_0")
        try:
            first, second = place(stack, stack.sandbox.token("success"), ["6", "7"])
            stack.settle(lambda: terminal(stack, first, second))
            deliver_until(stack, sender, lambda: len(everyone.received) == 2 and own.received)
            feed = stack.services.webhooks.feed
            position = feed.view.position()
            with stack.services.pool.connection() as conn:
                conn.execute(
                    "UPDATE notification_feed_tracking SET notification_id = %s",
                    (max(0, position - 50),),
                )
            feed.run_until_idle()
            assert feed.view.position() == position
            heard = {
                endpoint: [d["event_type"] for d in deliveries(stack, endpoint)]
                for endpoint in (every_endpoint["endpoint_id"], seller["endpoint_id"])
            }
            assert heard == {
                every_endpoint["endpoint_id"]: ["payment_order.succeeded"] * 2,
                seller["endpoint_id"]: ["payment_order.succeeded"],
            }
            sender.send_once()
            assert [e["data"]["payment_order_id"] for e in own.events()] == [first]
        finally:
            stack.http.post(f"/webhook-endpoints/{seller['endpoint_id']}/disable")


def test_an_event_and_its_endpoint_s_disabling_in_one_batch_leave_nothing_pending(
    stack: Stack, sender: WebhookSender
) -> None:
    with receiving() as receiver:
        endpoint = register(stack, receiver.url, "payment_order.succeeded")
        endpoint_id = endpoint["endpoint_id"]
        feed = stack.services.webhooks.feed
        before = feed.view.position()
        [order_id] = place(stack, stack.sandbox.token("success"), ["6"])
        stack.settle(lambda: terminal(stack, order_id))
        assert stack.http.post(f"/webhook-endpoints/{endpoint_id}/disable").status_code == 200
        with stack.services.pool.connection() as conn:  # the order's outcome and the
            conn.execute(  # disabling applied again, in one batch
                "DELETE FROM webhook_deliveries WHERE endpoint_id = %s", (endpoint_id,)
            )
            conn.execute("UPDATE notification_feed_tracking SET notification_id = %s", (before,))
        feed.run_until_idle()
        [delivery] = deliveries(stack, endpoint_id)
        assert delivery["status"] == "cancelled"
        sender.send_once()
        assert receiver.received == []


def test_a_change_of_types_counts_from_its_position_when_a_batch_is_applied_again(
    stack: Stack, sender: WebhookSender
) -> None:
    """An endpoint that heard successes, then (PATCH) failures only: an order that succeeded
    before the change is delivered, one after it is not, one that failed after it is; the
    same when the feed applies the whole stretch again from before the endpoint was made."""
    feed = stack.services.webhooks.feed
    feed.run_until_idle()
    not_made_yet = feed.view.position()
    with listening(stack, "payment_order.succeeded") as (receiver, endpoint):
        endpoint_id = endpoint["endpoint_id"]
        [before] = place(stack, stack.sandbox.token("success"), ["8"])
        stack.settle(lambda: terminal(stack, before))
        path = f"/webhook-endpoints/{endpoint_id}"
        changed = stack.http.patch(path, json={"event_types": ["payment_order.failed"]})
        assert changed.status_code == 200, changed.text
        assert changed.json()["event_types"] == ["payment_order.failed"]
        [succeeded_after] = place(stack, stack.sandbox.token("success"), ["9"])
        [failed_after] = place(stack, stack.sandbox.token("declined"), ["10"])
        stack.settle(lambda: terminal(stack, succeeded_after, failed_after))
        deliver_until(stack, sender, lambda: len(receiver.received) == 2)
        heard = [(e["type"], e["data"]["payment_order_id"]) for e in receiver.events()]
        expected = [("payment_order.succeeded", before), ("payment_order.failed", failed_after)]
        assert sorted(heard) == sorted(expected)

        position = feed.view.position()
        with stack.services.pool.connection() as conn:  # every delivery made again
            conn.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = %s", (endpoint_id,))
            conn.execute(
                "UPDATE notification_feed_tracking SET notification_id = %s", (not_made_yet,)
            )
        feed.run_until_idle()
        assert feed.view.position() == position
        again = sorted(d["event_type"] for d in deliveries(stack, endpoint_id))
        assert again == ["payment_order.failed", "payment_order.succeeded"]
