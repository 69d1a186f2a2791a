"""Webhooks to merchants end to end: a real endpoint over HTTP, the sandbox PSP charging,
the executor, the notification feed and the sender (ADR 0027)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from payments.psp.signing import SignatureMismatchError, verify_signature
from payments.runtime.webhook_sender import WebhookSender
from tests.conftest import bearer
from tests.disputes.test_dispute_flows import admin_dispute
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.webhooks.conftest import deliver_until, deliveries, listening, registered
from tests.webhooks.receiver import receiving


def secrets_of(stack: Stack, endpoint_id: str) -> dict[int, str]:
    response = stack.http.get(f"/webhook-endpoints/{endpoint_id}/secret")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    return {s["generation"]: s["secret"] for s in response.json()["secrets"]}


def failed_on_metrics(stack: Stack) -> float:
    families = text_string_to_metric_families(stack.http.get("/metrics").text)
    [family] = [f for f in families if f.name == "payments_webhook_deliveries"]
    return sum(s.value for s in family.samples if s.labels["status"] == "failed")


def charged(stack: Stack, card: str, amount: str = "5") -> str:
    [order_id] = place(stack, stack.sandbox.token(card), [amount])
    stack.settle(lambda: terminal(stack, order_id))
    return order_id


def test_an_order_s_outcome_reaches_the_endpoint_signed(
    stack: Stack, sender: WebhookSender
) -> None:
    types = ("payment_order.succeeded", "payment_order.failed", "checkout.completed")
    with receiving() as receiver, registered(stack, receiver.url, *types) as endpoint:
        [secret] = secrets_of(stack, endpoint["endpoint_id"]).values()
        ok, declined = charged(stack, "success", "12.50"), charged(stack, "declined", "3")
        deliver_until(stack, sender, lambda: len(receiver.received) >= 4)
        [delivery] = receiver.of_type("payment_order.succeeded")
        signature = delivery.headers["payments-signature"]
        verify_signature(secret, signature, delivery.body, int(time.time()))
        with pytest.raises(SignatureMismatchError):
            verify_signature("whsec_other", signature, delivery.body, int(time.time()))
        event = delivery.event
        assert event["id"] == delivery.headers["payments-event-id"]
        assert delivery.headers["payments-event-type"] == "payment_order.succeeded"
        assert delivery.headers["content-type"] == "application/json"
        assert event["data"]["payment_order_id"] == ok
        assert event["data"]["amount"] == "12.50"
        assert (event["data"]["status"], event["data"]["url"]) == ("SUCCESS", f"/payments/{ok}")
        [failed] = receiver.events("payment_order.failed")
        assert failed["data"]["payment_order_id"] == declined
        assert failed["data"]["failure_code"] == "card_declined"
        assert len(receiver.events("checkout.completed")) == 2
        listed = deliveries(stack, endpoint["endpoint_id"])
        assert {d["status"] for d in listed} == {"delivered"}
        assert sorted(d["event_id"] for d in listed) == sorted(e["id"] for e in receiver.events())


def test_a_dispute_reaches_the_endpoint_with_its_deadline_then_its_outcome(
    stack: Stack, sender: WebhookSender
) -> None:
    types = ("dispute.opened", "dispute.won", "dispute.lost", "dispute.reopened")
    with listening(stack, *types) as (receiver, _):
        order_id = charged(stack, "success", "20.00")
        dispute_id = admin_dispute(stack, order_id)
        deliver_until(stack, sender, lambda: receiver.received)
        [opened] = receiver.events("dispute.opened")
        shown = stack.http.get(f"/payments/{order_id}/dispute").json()
        assert opened["data"] == {
            "object": "dispute",
            "payment_order_id": order_id,
            "psp_dispute_id": dispute_id,
            "seller_account": shown["seller_account"],
            "reason": shown["reason"],
            "evidence_due_by": shown["evidence_due_by"],
            "amount": "20.00",
            "currency": "USD",
            "fee": shown["fee"],
            "status": "needs_response",
            "url": f"/payments/{order_id}/dispute",
        }
        closed = httpx.post(
            f"{stack.sandbox.url}/admin/disputes/{dispute_id}/close", json={"outcome": "won"}
        )
        assert closed.status_code == 200, closed.text
        deliver_until(stack, sender, lambda: receiver.events("dispute.won"))
        [won] = receiver.events("dispute.won")
        assert won["data"]["status"] == "won"
        assert won["data"]["evidence_due_by"] == shown["evidence_due_by"]


def test_a_moved_endpoint_gets_its_waiting_delivery_at_the_new_url(
    stack: Stack, sender: WebhookSender
) -> None:
    """The receiver moved: the delivery that failed at the old URL is tried again at the new
    one (its next attempt, not a new delivery), and later events go there too."""
    with (
        receiving() as receiver,
        registered(stack, "http://127.0.0.1:9/gone", "payment_order.succeeded") as endpoint,
    ):
        path = f"/webhook-endpoints/{endpoint['endpoint_id']}"
        order_id = charged(stack, "success", "7.00")
        tried = lambda: any(d["last_error"] for d in deliveries(stack, endpoint["endpoint_id"]))  # noqa: E731
        deliver_until(stack, sender, tried)
        [waiting] = deliveries(stack, endpoint["endpoint_id"])
        assert "connection refused" in (waiting["last_error"] or ""), waiting
        moved = stack.http.patch(path, json={"url": receiver.url})
        assert moved.status_code == 200, moved.text
        deliver_until(stack, sender, lambda: receiver.received)
        [event] = receiver.events("payment_order.succeeded")
        assert event["data"]["payment_order_id"] == order_id
        [delivered] = deliveries(stack, endpoint["endpoint_id"])
        assert (delivered["delivery_id"], delivered["status"]) == (
            waiting["delivery_id"],
            "delivered",
        )
        assert delivered["attempts"] >= 2, "the failed attempt, then the new URL"


def test_a_sellers_endpoint_hears_its_own_sellers_events_alone(
    stack: Stack, sender: WebhookSender
) -> None:
    """seller_1's key registers an endpoint: of a checkout of two sellers it hears seller_1's
    order alone, while the merchant's endpoint hears both; a test event reaches it too."""
    types = ["payment_order.succeeded", "refund.succeeded"]
    seller_key = bearer(stack.services, "seller", seller="seller_1")
    with (
        receiving() as everyone,
        registered(stack, everyone.url, *types),
        receiving() as own,
    ):
        made = stack.http.post(
            "/webhook-endpoints",
            json={"url": own.url, "event_types": types},
            headers={**seller_key, "Idempotency-Key": uuid.uuid4().hex},
        )
        assert made.status_code == 201, made.text
        endpoint_id = made.json()["endpoint_id"]
        try:
            [first, second] = place(stack, stack.sandbox.token("success"), ["4.00", "6.00"])
            stack.settle(lambda: terminal(stack, first, second))
            deliver_until(stack, sender, lambda: len(everyone.received) >= 2 and own.received)
            pinged = stack.http.post(f"/webhook-endpoints/{endpoint_id}/ping", headers=seller_key)
            assert pinged.status_code == 202, pinged.text
            deliver_until(stack, sender, lambda: own.events("webhook_endpoint.ping"))
            stack.executor.run_until_idle()
            sender.send_once()
            heard = [e["data"]["payment_order_id"] for e in everyone.events()]
            assert sorted(heard) == sorted([first, second])
            [order] = own.events("payment_order.succeeded")
            assert (order["data"]["payment_order_id"], order["data"]["seller_account"]) == (
                second,
                "seller_1",
            )
            listed = stack.http.get(
                f"/webhook-endpoints/{endpoint_id}/deliveries", headers=seller_key
            )
            assert {d["event_type"] for d in listed.json()["items"]} == {
                "payment_order.succeeded",
                "webhook_endpoint.ping",
            }
        finally:
            stack.http.post(f"/webhook-endpoints/{endpoint_id}/disable")


def test_an_endpoint_hears_only_its_types_and_only_after_it_was_made(
    stack: Stack, sender: WebhookSender
) -> None:
    before = charged(stack, "success")
    with (
        receiving() as failures,
        registered(stack, failures.url, "payment_order.failed") as only_failures,
        receiving() as successes,
        registered(stack, successes.url, "payment_order.succeeded"),
    ):
        ok, declined = charged(stack, "success"), charged(stack, "declined")
        deliver_until(stack, sender, lambda: failures.received and successes.received)
        stack.executor.run_until_idle()
        sender.send_once()
        assert [e["data"]["payment_order_id"] for e in failures.events()] == [declined]
        assert [e["data"]["payment_order_id"] for e in successes.events()] == [ok]
        assert before not in str(successes.events())
        assert len(deliveries(stack, only_failures["endpoint_id"])) == 1


def test_a_failing_endpoint_is_tried_again_then_failed_then_redelivered(
    stack: Stack, sender: WebhookSender
) -> None:
    with listening(stack, "payment_order.succeeded") as (receiver, endpoint):
        receiver.answers = [500, 503]
        charged(stack, "success")
        deliver_until(stack, sender, lambda: len(receiver.received) == 3)
        [delivery] = deliveries(stack, endpoint["endpoint_id"])
        assert (delivery["status"], delivery["attempts"]) == ("delivered", 3)
        assert delivery["last_status_code"] == 200
        assert len({r.body for r in receiver.received}) == 1  # the same body every time

        receiver.answers = [500, 500, 500]  # all three attempts (the tests' maximum) fail
        charged(stack, "success")
        endpoint_id = endpoint["endpoint_id"]
        deliver_until(stack, sender, lambda: deliveries(stack, endpoint_id, status="failed") != [])
        [failed] = deliveries(stack, endpoint_id, status="failed")
        assert failed["attempts"] == 3
        assert (failed["last_status_code"], failed["last_error"]) == (
            500,
            "the endpoint answered 500",
        )
        assert failed["next_attempt_at"] is None
        assert failed_on_metrics(stack) >= 1
        shown = stack.http.get(f"/webhook-deliveries/{failed['delivery_id']}").json()
        assert shown["event"]["id"] == failed["event_id"]

        again = stack.http.post(f"/webhook-deliveries/{failed['delivery_id']}/redeliver")
        assert again.status_code == 200, again.text
        assert (again.json()["status"], again.json()["attempts"]) == ("pending", 0)
        pending_again = stack.http.post(f"/webhook-deliveries/{failed['delivery_id']}/redeliver")
        assert pending_again.status_code == 409
        deliver_until(
            stack,
            sender,
            lambda: (
                stack.http.get(f"/webhook-deliveries/{failed['delivery_id']}").json()["status"]
                == "delivered"
            ),
        )


def test_an_endpoint_that_does_not_answer_is_tried_again(
    stack: Stack, sender: WebhookSender
) -> None:
    with listening(stack, "payment_order.succeeded") as (receiver, endpoint):
        receiver.delay_s = 1.5  # over the tests' 1 s timeout
        charged(stack, "success")
        endpoint_id = endpoint["endpoint_id"]
        deliver_until(stack, sender, lambda: deliveries(stack, endpoint_id)[0]["attempts"] >= 1)
        [late] = deliveries(stack, endpoint_id)
        assert late["last_error"] == "no answer within the timeout"
        assert late["last_status_code"] is None
        receiver.delay_s = 0
        deliver_until(
            stack, sender, lambda: deliveries(stack, endpoint_id)[0]["status"] == "delivered"
        )


def test_a_disabled_endpoint_hears_nothing_more_and_its_waiting_deliveries_are_cancelled(
    stack: Stack, sender: WebhookSender
) -> None:
    with receiving() as receiver:
        with registered(stack, receiver.url, "payment_order.succeeded") as endpoint:
            receiver.answers = [500] * 10
            charged(stack, "success")
            endpoint_id = endpoint["endpoint_id"]
            deliver_until(stack, sender, lambda: len(receiver.received) >= 1)
        # registered() disabled it on the way out; the feed cancels what waited
        stack.executor.run_until_idle()
        [cancelled] = deliveries(stack, endpoint_id)
        assert cancelled["status"] == "cancelled"
        charged(stack, "success")
        stack.executor.run_until_idle()
        sender.send_once()
        assert len(deliveries(stack, endpoint_id)) == 1
        shown = stack.http.get(f"/webhook-endpoints/{endpoint_id}").json()
        assert shown["status"] == "disabled"
        assert (
            stack.http.post(f"/webhook-deliveries/{cancelled['delivery_id']}/redeliver").status_code
            == 409
        )
        assert stack.http.post(f"/webhook-endpoints/{endpoint_id}/disable").status_code == 409


def test_a_rotated_secret_signs_beside_the_old_one_for_the_overlap(
    stack: Stack, sender: WebhookSender
) -> None:
    with listening(stack, "payment_order.succeeded") as (receiver, endpoint):
        endpoint_id = endpoint["endpoint_id"]
        [old] = secrets_of(stack, endpoint_id).values()
        rotated = stack.http.post(
            f"/webhook-endpoints/{endpoint_id}/rotate-secret", json={"overlap": "1h"}
        )
        assert rotated.status_code == 200, rotated.text
        assert rotated.json()["secret_generation"] == 2
        both = secrets_of(stack, endpoint_id)
        assert set(both) == {1, 2}
        assert (both[1], both[2] != old) == (old, True)
        charged(stack, "success")
        deliver_until(stack, sender, lambda: len(receiver.received) == 1)
        [delivery] = receiver.received
        signature = delivery.headers["payments-signature"]
        for secret in both.values():  # a receiver with either secret accepts it
            verify_signature(secret, signature, delivery.body, int(time.time()))

        now = stack.http.post(
            f"/webhook-endpoints/{endpoint_id}/rotate-secret", json={"overlap": "0s"}
        )
        assert now.status_code == 200
        [(generation, newest)] = secrets_of(stack, endpoint_id).items()
        assert generation == 3
        charged(stack, "success")
        deliver_until(stack, sender, lambda: len(receiver.received) == 2)
        signature = receiver.received[1].headers["payments-signature"]
        verify_signature(newest, signature, receiver.received[1].body, int(time.time()))
        with pytest.raises(SignatureMismatchError):
            verify_signature(both[2], signature, receiver.received[1].body, int(time.time()))
