"""Risk checks before a charge (issue #17), over HTTP against real PostgreSQL and the sandbox
PSP: exact velocity under concurrency, counts that survive a restart, the review queue, and
declines that never reach the PSP."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import httpx

from payments.domain.payment_order import PaymentOrder, Status
from payments.runtime.config import Settings
from payments.runtime.services import build_services
from tests.conftest import bearer
from tests.e2e.processes import free_port
from tests.executor.conftest import Stack, serving
from tests.executor.helpers import terminal
from tests.risk.conftest import card, checkout_body, post_checkout


def order_ids(answer: httpx.Response) -> list[str]:
    return [o["payment_order_id"] for o in answer.json()["payment_orders"]]


def charges(stack: Stack, reference: str) -> int:
    return stack.sandbox.charges(reference)


@contextmanager
def restarted_api(stack: Stack) -> Iterator[httpx.Client]:
    """The API as a restart brings it up: new services (event store, pool, caches) over the
    same database, on a port of its own."""
    services = build_services(Settings.from_env(stack.env), stack.env["PAYMENTS_DATABASE_URL"])
    port = free_port()
    server = serving(services, port)
    try:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}", headers=bearer(services, "merchant"), timeout=30
        ) as client:
            yield client
    finally:
        server.close()
        services.close()


def test_exactly_max_count_of_20_concurrent_checkouts_with_one_card_go_through(
    stack: Stack,
) -> None:
    fingerprint = card(stack)["fingerprint"]
    bodies = [checkout_body(card(stack), ("seller_v", "10.00")) for _ in range(20)]
    assert all(b["credit_card_info"]["fingerprint"] == fingerprint for b in bodies)
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda body: post_checkout(stack.http, body), bodies))
    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers]
    summaries = [a.json()["payment_orders"][0] for a in answers]
    allowed = [s["payment_order_id"] for s in summaries if s.get("risk") is None]
    declined = [s for s in summaries if s.get("risk") == "decline"]
    assert len(allowed) == 5
    assert len(declined) == 15
    assert {(s["status"], s["risk_rule"]) for s in declined} == {("FAILED", "card_velocity")}

    stack.settle(lambda: terminal(stack, *allowed))
    assert {stack.order(i).status for i in allowed} == {Status.SUCCESS}
    assert [charges(stack, i) for i in allowed] == [1] * 5
    assert [charges(stack, s["payment_order_id"]) for s in declined] == [0] * 15
    first = declined[0]["payment_order_id"]
    position = next(a for a in answers if order_ids(a) == [first]).json()["position"]
    read = stack.http.get(f"/payments/{first}", params={"min_position": position}).json()
    assert (read["status"], read["failure_code"]) == ("FAILED", "blocked_by_risk")
    assert "card_velocity" in read["failure_reason"]
    assert "count" in read["failure_reason"] or "more than 5" in read["failure_reason"]

    stack.executor.run_until_idle()  # the executor's loop runs the risk feed
    metrics = stack.http.get("/metrics").text
    assert 'payments_risk_decisions_total{outcome="decline",rule="card_velocity"} 15.0' in metrics
    assert 'payments_risk_decisions_total{outcome="allow",rule="none"}' in metrics

    # A restart keeps the counts: the card is still over its limit; another card is not.
    with restarted_api(stack) as client:
        again = post_checkout(client, checkout_body(card(stack), ("seller_v", "1.00")))
        assert again.status_code == 201, again.text
        assert again.json()["payment_orders"][0]["risk"] == "decline"
        other = post_checkout(client, checkout_body({"token": card(stack)["token"]}, ("s", "1")))
        assert other.json()["payment_orders"][0].get("risk") is None


def test_an_order_in_review_waits_uncharged_until_an_operator_approves(stack: Stack) -> None:
    answer = post_checkout(
        stack.http, checkout_body({"token": card(stack)["token"]}, ("s_r", "600.00"))
    )
    assert answer.status_code == 201, answer.text
    (summary,) = answer.json()["payment_orders"]
    assert (summary["status"], summary["risk"], summary["risk_rule"]) == (
        "NOT_STARTED",
        "review",
        "large_order",
    )
    order_id = summary["payment_order_id"]
    listed = [
        r
        for r in stack.http.get("/risk/reviews").json()["items"]
        if r["payment_order_id"] == order_id
    ]
    assert len(listed) == 1
    assert (listed[0]["rule"], listed[0]["amount"]) == ("large_order", "600.00")
    assert listed[0]["numbers"] == {"amount": 60000, "max_order_amount": 50000}

    for _ in range(3):  # the executor leaves it alone
        stack.executor.run_until_idle()
    assert stack.order(order_id).status is Status.NOT_STARTED
    assert charges(stack, order_id) == 0
    # Even with a queue row for it (as a feed that stopped between the order's two events
    # would leave), the executor does not charge an order in review: the order says no.
    with stack.services.pool.connection() as conn:
        conn.execute(
            "INSERT INTO execution_queue (aggregate_uuid, kind, due_at) VALUES (%s, 'execute', now())",
            (stack.order(order_id).id,),
        )
    stack.executor.run_until_idle()
    assert (stack.order(order_id).status, stack.order(order_id).attempts) == (Status.NOT_STARTED, 0)
    assert charges(stack, order_id) == 0

    operator = bearer(stack.services, "operator")
    approved = stack.http.post(
        f"/risk/reviews/{order_id}/approve", json={"reason": "known buyer"}, headers=operator
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["decision"] == "approved"
    stack.settle(lambda: terminal(stack, order_id))
    assert stack.order(order_id).status is Status.SUCCESS
    assert charges(stack, order_id) == 1
    order = stack.order(order_id)
    reviewed = [
        e
        for e in stack.services.application.events.get(order.id)
        if isinstance(e, PaymentOrder.RiskReviewed)
    ]
    assert len(reviewed) == 1
    assert reviewed[0].approved
    assert reviewed[0].reason == "known buyer"
    assert reviewed[0].actor in operator["Authorization"]  # the operator's key id
    ids = [r["payment_order_id"] for r in stack.http.get("/risk/reviews").json()["items"]]
    assert order_id not in ids
    again = stack.http.post(f"/risk/reviews/{order_id}/decline", json={"reason": "late"})
    assert again.status_code == 409


def test_a_review_declined_fails_the_order_and_nothing_reaches_the_psp(stack: Stack) -> None:
    answer = post_checkout(
        stack.http, checkout_body({"token": card(stack)["token"]}, ("s_d", "750.00"))
    )
    order_id = order_ids(answer)[0]
    declined = stack.http.post(f"/risk/reviews/{order_id}/decline", json={"reason": "stolen card"})
    assert declined.status_code == 200, declined.text
    position = declined.json()["position"]
    stack.executor.run_until_idle()
    read = stack.http.get(f"/payments/{order_id}", params={"min_position": position}).json()
    assert (read["status"], read["failure_code"]) == ("FAILED", "blocked_by_risk")
    assert "stolen card" in read["failure_reason"]
    assert charges(stack, order_id) == 0
    checkout = stack.services.application.get_checkout(answer.json()["checkout_id"])
    stack.settle(
        lambda: stack.services.application.get_checkout(checkout.checkout_id).is_payment_done
    )


def test_a_blocked_seller_fails_its_order_only(stack: Stack) -> None:
    body = checkout_body(
        {"token": card(stack)["token"]}, ("seller_blocked", "5.00"), ("s_ok", "5.00")
    )
    answer = post_checkout(stack.http, body)
    blocked, fine = answer.json()["payment_orders"]
    assert (blocked["status"], blocked["risk"], blocked["risk_rule"]) == (
        "FAILED",
        "decline",
        "blocked_sellers",
    )
    assert (fine["status"], fine.get("risk")) == ("NOT_STARTED", None)
    stack.settle(lambda: terminal(stack, fine["payment_order_id"]))
    assert charges(stack, blocked["payment_order_id"]) == 0
    assert charges(stack, fine["payment_order_id"]) == 1


def test_the_review_queue_pages_oldest_first(stack: Stack) -> None:
    held = [
        order_ids(
            post_checkout(
                stack.http, checkout_body({"token": card(stack)["token"]}, ("s_p", "501"))
            )
        )[0]
        for _ in range(3)
    ]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = stack.http.get("/risk/reviews", params=params)
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 2
        seen += [r["payment_order_id"] for r in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert [i for i in seen if i in held] == held
    assert len(seen) == len(set(seen))


def test_bad_input_to_every_risk_route(stack: Stack) -> None:
    merchant = bearer(stack.services, "merchant")
    order_id = order_ids(
        post_checkout(stack.http, checkout_body({"token": card(stack)["token"]}, ("s_b", "1")))
    )[0]
    held = order_ids(
        post_checkout(stack.http, checkout_body({"token": card(stack)["token"]}, ("s_b", "900")))
    )[0]
    cases: list[tuple[str, str, dict[str, Any], int]] = [
        ("GET", "/risk/reviews?limit=0", {}, 422),
        ("GET", "/risk/reviews?limit=201", {}, 422),
        ("GET", "/risk/reviews?cursor=not-a-cursor", {}, 422),
        ("GET", "/risk/reviews?cursor=" + "A" * 20, {}, 422),
        ("POST", f"/risk/reviews/{held}/approve", {}, 400),  # no body
        ("POST", f"/risk/reviews/{held}/approve", {"json": {}}, 400),
        ("POST", f"/risk/reviews/{held}/approve", {"json": {"reason": ""}}, 400),
        ("POST", f"/risk/reviews/{held}/decline", {"json": {"reason": "x" * 501}}, 400),
        ("POST", f"/risk/reviews/{held}/decline", {"json": {"reason": "a\nb"}}, 400),
        ("POST", f"/risk/reviews/{held}/decline", {"json": {"reason": "ok", "extra": 1}}, 400),
        (
            "POST",
            f"/risk/reviews/{held}/approve",
            {"content": b"{", "headers": {"content-type": "application/json"}},
            400,
        ),
        ("POST", "/risk/reviews/po_unknown_risk/approve", {"json": {"reason": "x"}}, 404),
        ("POST", f"/risk/reviews/{'x' * 65}/approve", {"json": {"reason": "x"}}, 422),
        ("POST", f"/risk/reviews/{order_id}/approve", {"json": {"reason": "x"}}, 409),  # never held
        ("GET", "/risk/reviews", {"headers": merchant}, 403),
        (
            "POST",
            f"/risk/reviews/{held}/approve",
            {"json": {"reason": "x"}, "headers": merchant},
            403,
        ),
        ("GET", "/risk/reviews", {"headers": {"Authorization": ""}}, 401),
    ]
    for method, path, options, expected in cases:
        answer = stack.http.request(method, path, **options)
        assert answer.status_code in (expected, 422 if expected == 400 else expected), (
            method,
            path,
            answer.text,
        )
        assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    assert stack.order(held).risk_review == "large_order"  # nothing was written
