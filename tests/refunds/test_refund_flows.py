"""Refunds end to end: HTTP, the executor, the sandbox PSP over real HTTP, its webhooks."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from payments.domain.refund import Refund, RefundStatus
from payments.domain.refund_commands import RequestRefund
from payments.projections.views.postings import PSP_RECEIVABLE, seller_account
from tests.conftest import bearer
from tests.executor.conftest import Stack
from tests.executor.helpers import place, post_event, psp_event, terminal
from tests.racing import all_at_once
from tests.refunds.helpers import (
    FAILING_REFUNDS_CARD,
    captured_order,
    post_refund,
    refund,
    refund_event_names,
    refunds_at_psp,
    settled,
)
from tests.waiting import wait_until


def test_a_partial_refund_is_readable_at_once_and_refunded_once_at_the_psp(stack: Stack) -> None:
    order_id = captured_order(stack, "10.00")
    created = post_refund(stack, order_id, {"amount": "3.00", "reason": "damaged"})
    assert created.status_code == 201, created.text
    body = created.json()
    refund_id = body["refund_id"]
    assert body["status"] == "PENDING"
    assert (body["amount"], body["currency"], body["reason"]) == ("3.00", "USD", "damaged")
    assert created.headers["location"] == f"/refunds/{refund_id}"
    assert int(created.headers["event-position"]) > 0
    # Read-your-writes: the refund and the order's refund fields right after the POST.
    assert stack.http.get(f"/refunds/{refund_id}").json()["status"] == "PENDING"
    order = stack.http.get(f"/payments/{order_id}").json()
    assert (order["refunded"], order["refundable"]) == ("0.00", "7.00")
    assert [r["refund_id"] for r in order["refunds"]] == [refund_id]

    stack.settle(lambda: settled(stack, refund_id))
    read = stack.http.get(f"/refunds/{refund_id}").json()
    assert read["status"] == "SUCCEEDED"
    assert read["failure_reason"] is None
    order = stack.http.get(f"/payments/{order_id}").json()
    assert (order["refunded"], order["refundable"]) == ("3.00", "7.00")
    assert order["refunds"][0]["status"] == "SUCCEEDED"
    assert refunds_at_psp(stack, refund_id) == 1
    names = refund_event_names(stack, refund_id)
    assert names[:2] == ["Requested", "ExecutionStarted"]
    assert names.count("Succeeded") == 1


def test_a_full_refund_then_nothing_is_left(stack: Stack) -> None:
    order_id = captured_order(stack, "4.00")
    created = post_refund(stack, order_id, {"amount": "4.00"})
    assert created.status_code == 201, created.text
    stack.settle(lambda: settled(stack, created.json()["refund_id"]))
    order = stack.http.get(f"/payments/{order_id}").json()
    assert (order["refunded"], order["refundable"]) == ("4.00", "0.00")
    again = post_refund(stack, order_id)
    assert again.status_code == 422
    assert again.json()["errors"][0]["field"] == "amount"


def test_no_amount_refunds_the_rest(stack: Stack) -> None:
    order_id = captured_order(stack, "9.99")
    first = post_refund(stack, order_id, {"amount": "2.49"}).json()["refund_id"]
    rest = post_refund(stack, order_id, {"reason": "the rest"})
    assert rest.status_code == 201, rest.text
    assert rest.json()["amount"] == "7.50"
    stack.settle(lambda: settled(stack, first, rest.json()["refund_id"]))
    order = stack.http.get(f"/payments/{order_id}").json()
    assert (order["refunded"], order["refundable"]) == ("9.99", "0.00")
    assert [r["status"] for r in order["refunds"]] == ["SUCCEEDED", "SUCCEEDED"]


def test_a_refund_the_psp_fails_gives_its_amount_back(stack: Stack) -> None:
    order_id = captured_order(stack, "6.00", card=FAILING_REFUNDS_CARD)
    created = post_refund(stack, order_id, {"amount": "5.00"})
    assert created.status_code == 201, created.text
    refund_id = created.json()["refund_id"]
    stack.settle(lambda: settled(stack, refund_id))
    read = stack.http.get(f"/refunds/{refund_id}").json()
    assert (read["status"], read["failure_reason"]) == ("FAILED", "refund_failed")
    order = stack.http.get(f"/payments/{order_id}").json()
    assert (order["refunded"], order["refundable"]) == ("0.00", "6.00")
    assert refunds_at_psp(stack, refund_id) == 1


def test_a_pending_refund_is_settled_by_the_psps_webhook(stack: Stack) -> None:
    order_id = captured_order(stack, "8.00", card="pending")
    created = post_refund(stack, order_id, {"amount": "8.00"})
    assert created.status_code == 201, created.text
    refund_id = created.json()["refund_id"]
    stack.settle(lambda: refund(stack, refund_id).pending_at_psp or settled(stack, refund_id))
    # The executor is not run again: only the sandbox's refund.succeeded webhook (confirmed
    # by a look-up) can end it.
    wait_until(lambda: settled(stack, refund_id))
    done = refund(stack, refund_id)
    assert done.status is RefundStatus.SUCCEEDED
    [succeeded] = [
        e for e in stack.services.application.events.get(done.id) if isinstance(e, Refund.Succeeded)
    ]
    assert succeeded.source == "webhook"
    assert stack.order(order_id).refunded_minor == 800


def test_the_refund_posts_to_the_seller_and_the_psp_receivable(stack: Stack) -> None:
    order_id = captured_order(stack, "5.00")
    refund_id = post_refund(stack, order_id, {"amount": "1.25"}).json()["refund_id"]
    stack.settle(lambda: settled(stack, refund_id))
    from payments.projections.views.postings import POSTING_RULES, check_balanced

    [event] = [
        e
        for e in stack.services.application.events.get(refund(stack, refund_id).id)
        if isinstance(e, Refund.Succeeded)
    ]
    posted = POSTING_RULES[Refund.Succeeded](event, None)  # needs nothing but the event
    assert posted is not None
    check_balanced(posted.postings)
    entries = {(p.account, p.debit_minor, p.credit_minor) for p in posted.postings}
    assert entries == {
        (seller_account(stack.order(order_id).seller_account), 125, 0),
        (PSP_RECEIVABLE, 0, 125),
    }


def test_twenty_concurrent_requests_for_the_last_cent_accept_exactly_one(stack: Stack) -> None:
    order_id = captured_order(stack, "1.00")
    assert post_refund(stack, order_id, {"amount": "0.99"}).status_code == 201

    def request(_: int) -> int:
        with httpx.Client(base_url=stack.api_url, headers=stack.http.headers, timeout=30) as c:
            return post_refund(stack, order_id, {"amount": "0.01"}, client=c).status_code

    statuses = all_at_once(20, request)
    assert sorted(statuses) == [201] + [422] * 19
    order = stack.order(order_id)
    assert (len(order.refund_ids), order.taken_minor) == (2, 100)


def test_twenty_concurrent_commands_for_the_last_cent_accept_exactly_one(stack: Stack) -> None:
    order_id = captured_order(stack, "0.50")
    commands = stack.services.refunds
    commands.request_refund(RequestRefund(f"re_{uuid.uuid4().hex}", order_id, 49, None, "t"))

    def request(_: int) -> str:
        try:
            commands.request_refund(RequestRefund(f"re_{uuid.uuid4().hex}", order_id, 1, None, "t"))
        except Exception as refused:
            return type(refused).__name__
        return "accepted"

    outcomes = all_at_once(20, request)
    assert sorted(outcomes) == ["InvalidCommand"] * 19 + ["accepted"]
    assert stack.order(order_id).taken_minor == 50


def test_bad_requests_are_refused_and_write_nothing(stack: Stack) -> None:
    order_id = captured_order(stack, "10.00")
    before = stack.order(order_id).version
    bad_bodies: list[tuple[Any, int, str]] = [
        ({"amount": "0"}, 422, "amount"),
        ({"amount": "0.00"}, 422, "amount"),
        ({"amount": "-1.00"}, 422, "amount"),
        ({"amount": "1.001"}, 422, "amount"),
        ({"amount": "1e2"}, 422, "amount"),
        ({"amount": "10.01"}, 422, "amount"),
        ({"amount": 5}, 422, "amount"),
        ({"reason": ""}, 422, "reason"),
        ({"reason": "x" * 201}, 422, "reason"),
        ({"reason": "   "}, 422, "reason"),
        ({"reason": "two\nlines"}, 422, "reason"),
        ({"amount": "1.00", "currency": "USD"}, 422, "body"),
        ([], 422, ""),
    ]
    for body, status, field in bad_bodies:
        answer = post_refund(stack, order_id, body)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        if field:
            assert answer.json()["errors"][0]["field"] == field, (body, answer.text)
    no_key = stack.http.post(f"/payments/{order_id}/refunds", json={})
    assert no_key.status_code == 400
    assert post_refund(stack, "po_does_not_exist", {}).status_code == 404
    assert stack.order(order_id).version == before
    assert stack.order(order_id).refund_ids == ()

    [declined] = place(stack, stack.sandbox.token("declined"), ["3"])
    stack.settle(lambda: terminal(stack, declined))
    refused = post_refund(stack, declined, {})
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("order-not-refundable")
    [not_started] = place(stack, "tok_neverchargedanywhere", ["3"])
    assert post_refund(stack, not_started, {}).status_code == 409
    assert stack.order(declined).refund_ids == ()


def test_the_same_key_answers_the_same_refund_and_roles_are_enforced(stack: Stack) -> None:
    order_id = captured_order(stack, "3.00")
    key = uuid.uuid4().hex
    first = post_refund(stack, order_id, {"amount": "1.00"}, key=key)
    again = post_refund(stack, order_id, {"amount": "1.00"}, key=key)
    assert first.status_code == 201
    assert again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json()["refund_id"] == first.json()["refund_id"]
    other = post_refund(stack, order_id, {"amount": "2.00"}, key=key)
    assert other.status_code == 422  # the key was used for another body
    assert stack.order(order_id).taken_minor == 100

    services = stack.services
    for role, post_status, get_status in [
        ("merchant", 201, 200),
        ("finance", 403, 200),
        ("operator", 403, 200),
        ("seller", 403, 403),
    ]:
        headers = bearer(services, role, "seller_0" if role == "seller" else None)
        with httpx.Client(base_url=stack.api_url, headers=headers, timeout=30) as client:
            answer = post_refund(stack, order_id, {"amount": "0.10"}, client=client)
            assert answer.status_code == post_status, (role, answer.text)
            read = client.get(f"/refunds/{first.json()['refund_id']}")
            assert read.status_code == get_status, (role, read.text)


def refund_event(refund_id: str, status: str) -> dict[str, Any]:
    return psp_event(
        f"evt_{refund_id}_{status}",
        f"refund.{status}",
        {
            "id": "re_forged",
            "object": "refund",
            "reference": refund_id,
            "status": status,
            "failure_code": "refund_failed" if status == "failed" else None,
        },
    )


def test_a_forged_or_unconfirmed_refund_webhook_completes_nothing(stack: Stack) -> None:
    order_id = captured_order(stack, "7.00")
    refund_id = post_refund(stack, order_id, {"amount": "7.00"}).json()["refund_id"]
    # The executor has not run: the PSP holds no refund for this reference yet.
    forged = post_event(stack, refund_event(refund_id, "succeeded"), secret="whsec_wrong")
    assert forged.status_code == 401
    unconfirmed = post_event(stack, refund_event(refund_id, "succeeded"))
    assert unconfirmed.status_code == 200
    assert unconfirmed.json()["outcome"].startswith("ignored: not confirmed")
    failed_claim = post_event(stack, refund_event(refund_id, "failed"))
    assert failed_claim.json()["outcome"].startswith("ignored: not confirmed")
    assert refund(stack, refund_id).status is RefundStatus.REQUESTED
    assert stack.order(order_id).refunds_in_flight == {refund_id: 700}
    unknown = post_event(stack, refund_event("re_not_ours", "succeeded"))
    assert unknown.json()["outcome"] == "ignored: unknown reference"

    stack.settle(lambda: settled(stack, refund_id))
    # A webhook that contradicts what the PSP holds is superseded by the look-up.
    contradicting = post_event(stack, refund_event(refund_id, "failed"))
    assert contradicting.status_code == 200
    assert refund(stack, refund_id).status is RefundStatus.SUCCEEDED
    assert stack.order(order_id).refunded_minor == 700


def test_as_of_shows_the_refunds_as_they_stood(stack: Stack) -> None:
    from datetime import UTC, datetime

    order_id = captured_order(stack, "2.00")
    time.sleep(0.05)
    before = datetime.now(UTC)
    time.sleep(0.05)
    refund_id = post_refund(stack, order_id, {"amount": "1.50"}).json()["refund_id"]
    stack.settle(lambda: settled(stack, refund_id))
    then = stack.http.get(f"/payments/{order_id}", params={"as_of": before.isoformat()})
    assert then.status_code == 200, then.text
    assert (then.json()["refunded"], then.json()["refundable"], then.json()["refunds"]) == (
        "0.00",
        "2.00",
        [],
    )
    now = stack.http.get(f"/payments/{order_id}").json()
    assert (now["refunded"], now["refundable"]) == ("1.50", "0.50")
