"""The executor against the real sandbox PSP over HTTP, on real PostgreSQL."""

from __future__ import annotations

import pytest

from payments.domain.execution import FailureCode
from payments.domain.payment_order import Status
from tests.executor.conftest import Stack
from tests.executor.helpers import event_names, place, terminal


@pytest.mark.parametrize(
    ("card", "status", "failure"),
    [
        ("success", Status.SUCCESS, None),
        ("declined", Status.FAILED, FailureCode.CARD_DECLINED),
        ("insufficient", Status.FAILED, FailureCode.INSUFFICIENT_FUNDS),
        ("processing_error", Status.SUCCESS, None),
    ],
)
def test_each_test_card_ends_in_its_terminal_state(
    stack: Stack, card: str, status: Status, failure: FailureCode | None
) -> None:
    [order_id] = place(stack, stack.sandbox.token(card), ["12.34"])
    stack.settle(lambda: terminal(stack, order_id))
    order = stack.order(order_id)
    assert (order.status, order.failure_code) == (status, failure)
    assert stack.sandbox.charges(order_id) <= 1


def test_processing_error_card_is_retried_until_it_succeeds(stack: Stack) -> None:
    [order_id] = place(stack, stack.sandbox.token("processing_error"), ["5"])
    stack.settle(lambda: terminal(stack, order_id))
    order = stack.order(order_id)
    assert (order.status, order.attempts) == (Status.SUCCESS, 3)
    assert stack.sandbox.charges(order_id) == 1


def test_pending_card_ends_through_the_webhook(stack: Stack) -> None:
    [order_id] = place(stack, stack.sandbox.token("pending"), ["7"])
    stack.settle(lambda: stack.order(order_id).pending_at_psp or terminal(stack, order_id))
    stack.settle(lambda: terminal(stack, order_id))
    assert stack.order(order_id).status is Status.SUCCESS
    names = event_names(stack, order_id)
    assert "PendingAtPsp" in names
    succeeded = [
        e
        for e in stack.services.application.events.get(stack.order(order_id).id)
        if type(e).__name__ == "Succeeded"
    ]
    # the webhook, or the executor's re-query when it comes first (a busy machine): the
    # PSP's own answer to our look-up, recorded as source "psp" (docs/events.md)
    assert [e.source for e in succeeded] in (["webhook"], ["psp"])
    assert stack.sandbox.charges(order_id) == 1


def test_two_503s_then_success_takes_three_attempts_and_one_charge(stack: Stack) -> None:
    token = stack.sandbox.token("success")
    with stack.sandbox.faulty(kind="status", status=503, count=2, endpoint="charges"):
        [order_id] = place(stack, token, ["9.99"])
        stack.settle(lambda: terminal(stack, order_id))
    order = stack.order(order_id)
    assert (order.status, order.attempts) == (Status.SUCCESS, 3)
    assert event_names(stack, order_id).count("RetryScheduled") == 2
    assert stack.sandbox.charges(order_id) == 1


def test_charged_but_answered_500_is_replayed_not_charged_twice(stack: Stack) -> None:
    token = stack.sandbox.token("success")
    with (
        stack.sandbox.faulty(kind="charged_but_500", count=1, endpoint="charges"),
        # Without its webhook, only our retry can learn the outcome: the replay path is exercised.
        stack.sandbox.faulty(kind="drop_webhook", endpoint="charges", count=1),
    ):
        [order_id] = place(stack, token, ["3.21"])
        stack.settle(lambda: terminal(stack, order_id))
    order = stack.order(order_id)
    assert (order.status, order.attempts) == (Status.SUCCESS, 2)
    assert stack.sandbox.charges(order_id) == 1


def test_connection_resets_and_429_are_retried(stack: Stack) -> None:
    token = stack.sandbox.token("success")
    with (
        stack.sandbox.faulty(kind="reset", count=1, endpoint="charges"),
        stack.sandbox.faulty(kind="status", status=429, count=1, endpoint="charges"),
    ):
        [order_id] = place(stack, token, ["1"])
        stack.settle(lambda: terminal(stack, order_id))
    assert stack.order(order_id).status is Status.SUCCESS
    assert stack.sandbox.charges(order_id) == 1


def test_persistent_failure_goes_to_dead_letters_and_replay_succeeds(stack: Stack) -> None:
    token = stack.sandbox.token("success")
    with stack.sandbox.faulty(kind="status", status=500, count=1000, endpoint="charges"):
        [order_id] = place(stack, token, ["4.56"])
        stack.settle(lambda: stack.order(order_id).dead_lettered)
    order = stack.order(order_id)
    assert (order.status, order.attempts) == (Status.EXECUTING, 4)
    stack.executor.run_until_idle()
    listed = stack.http.get("/dead-letters/").json()["dead_letters"]
    assert order_id in [d["payment_order_id"] for d in listed]
    entry = next(d for d in listed if d["payment_order_id"] == order_id)
    assert entry["attempts"] == 4
    assert "500" in entry["last_error"]

    replay = stack.http.post(f"/dead-letters/{order_id}/replay")
    assert replay.status_code == 202, replay.text
    stack.settle(lambda: terminal(stack, order_id))
    assert stack.order(order_id).status is Status.SUCCESS
    assert stack.sandbox.charges(order_id) == 1
    stack.executor.run_until_idle()
    listed = stack.http.get("/dead-letters/").json()["dead_letters"]
    assert order_id not in [d["payment_order_id"] for d in listed]


def test_replaying_an_order_that_is_not_dead_lettered_is_409(stack: Stack) -> None:
    [order_id] = place(stack, stack.sandbox.token("success"), ["2"])
    stack.settle(lambda: terminal(stack, order_id))
    assert stack.http.post(f"/dead-letters/{order_id}/replay").status_code == 409
    assert stack.http.post("/dead-letters/nope/replay").status_code == 404


def test_checkout_is_done_when_all_its_orders_are_terminal(stack: Stack) -> None:
    ids = place(stack, stack.sandbox.token("success"), ["1", "2", "3"])
    stack.settle(lambda: terminal(stack, *ids))
    stack.executor.run_until_idle()
    head = stack.services.application.recorder.max_notification_id()
    checkout = stack.http.get(
        f"/checkouts/{stack.order(ids[0]).checkout_id}",
        params={"min_position": head},
    ).json()
    assert checkout["is_payment_done"] is True


def test_unknown_token_fails_the_order_for_good(stack: Stack) -> None:
    [order_id] = place(stack, "tok_unknowntokenatthepsp", ["1"])
    stack.settle(lambda: terminal(stack, order_id))
    order = stack.order(order_id)
    assert order.status is Status.FAILED
    assert order.failure_code in (FailureCode.INVALID_TOKEN, FailureCode.REJECTED)
