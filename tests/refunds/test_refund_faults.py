"""Refunds under PSP faults: retries with stored backoff, dead letters and their replay, lying
answers confirmed by look-up, a lost webhook made up for by the re-query."""

from __future__ import annotations

import pytest

from payments.domain.refund import Refund, RefundStatus
from tests.executor.conftest import Stack
from tests.refunds.helpers import (
    captured_order,
    post_refund,
    refund,
    refund_event_names,
    refunds_at_psp,
    settled,
)


def test_a_refund_retried_to_its_last_attempt_is_dead_lettered_then_replayed(
    stack: Stack,
) -> None:
    order_id = captured_order(stack, "5.00")
    with stack.sandbox.faulty(kind="status", status=503, count=100, endpoint="refunds"):
        refund_id = post_refund(stack, order_id, {"amount": "2.00"}).json()["refund_id"]
        stack.settle(lambda: refund(stack, refund_id).dead_lettered)
    names = refund_event_names(stack, refund_id)
    assert names.count("RetryScheduled") == 4  # PAYMENTS_EXECUTOR_MAX_ATTEMPTS=4
    assert names[-1] == "DeadLettered"
    retries = [
        e
        for e in stack.services.application.events.get(refund(stack, refund_id).id)
        if isinstance(e, Refund.RetryScheduled)
    ]
    # The backoff is stored in the events: a restart resumes the schedule.
    assert all(e.next_attempt_at >= retries[0].timestamp for e in retries[1:])
    assert stack.order(order_id).refunds_in_flight == {refund_id: 200}  # still reserved

    stack.executor.run_until_idle()  # the feed lists it
    listed = stack.http.get("/dead-letters/refunds").json()["dead_letters"]
    assert refund_id in [d["refund_id"] for d in listed]
    replayed = stack.http.post(f"/dead-letters/refunds/{refund_id}/replay", json={"reason": "ok"})
    assert replayed.status_code == 202, replayed.text
    stack.settle(lambda: settled(stack, refund_id))
    assert refund(stack, refund_id).status is RefundStatus.SUCCEEDED
    assert refunds_at_psp(stack, refund_id) == 1
    stack.executor.run_until_idle()
    listed = stack.http.get("/dead-letters/refunds").json()["dead_letters"]
    assert refund_id not in [d["refund_id"] for d in listed]
    again = stack.http.post(f"/dead-letters/refunds/{refund_id}/replay")
    assert again.status_code == 409
    wanted = {("refund.requested", refund_id), ("refund.replayed", refund_id)}

    def audited() -> bool:
        seen: set[tuple[str, str]] = set()
        after: int | None = 0
        while after is not None:
            page = stack.http.get("/audit/actions", params={"limit": 200, "after": after}).json()
            seen |= {(a["action"], a["subject"]) for a in page["actions"]}
            after = page["next_after"]
        return wanted <= seen

    stack.settle(audited)


@pytest.mark.parametrize("lie", ["charged_but_500", "charged_but_404", "key_conflict_400"])
def test_a_refund_the_psp_makes_and_then_denies_succeeds_once(stack: Stack, lie: str) -> None:
    order_id = captured_order(stack, "3.00")
    with stack.sandbox.faulty(kind=lie, count=1, endpoint="refunds"):
        refund_id = post_refund(stack, order_id, {"amount": "3.00"}).json()["refund_id"]
        stack.settle(lambda: settled(stack, refund_id))
    assert refund(stack, refund_id).status is RefundStatus.SUCCEEDED
    assert refunds_at_psp(stack, refund_id) == 1
    assert "Failed" not in refund_event_names(stack, refund_id)
    assert stack.order(order_id).refunded_minor == 300


def test_a_pending_refund_whose_webhook_is_lost_is_settled_by_the_re_query(stack: Stack) -> None:
    order_id = captured_order(stack, "4.00", card="pending")
    with stack.sandbox.faulty(kind="drop_webhook", endpoint="refunds", count=1):
        refund_id = post_refund(stack, order_id, {"amount": "4.00"}).json()["refund_id"]
        stack.settle(lambda: settled(stack, refund_id), timeout=30)
    assert refund(stack, refund_id).status is RefundStatus.SUCCEEDED
    assert "PendingAtPsp" in refund_event_names(stack, refund_id)
    assert refunds_at_psp(stack, refund_id) == 1


def test_the_stuck_job_re_queries_a_refund_stuck_at_the_psp(stack: Stack) -> None:
    from datetime import timedelta

    order_id = captured_order(stack, "2.00", card="pending")
    with stack.sandbox.faulty(kind="drop_webhook", endpoint="refunds", count=1):
        refund_id = post_refund(stack, order_id, {"amount": "2.00"}).json()["refund_id"]
        stack.settle(lambda: refund(stack, refund_id).pending_at_psp)
    aggregate_uuid = refund(stack, refund_id).id
    # Its next re-query is far away and it was enqueued long ago: the stuck job's case.
    with stack.services.pool.connection() as conn:
        moved = conn.execute(
            "UPDATE execution_queue SET kind = 'execute', due_at = now() + interval '1 day',"
            " enqueued_at = now() - interval '10 minutes', requeries = 0"
            " WHERE aggregate_uuid = %s",
            (aggregate_uuid,),
        ).rowcount
    assert moved == 1
    delays = (timedelta(minutes=5), timedelta(hours=1), timedelta(days=1))
    assert stack.services.queue.requeue_stuck(delays) >= 1
    stack.settle(lambda: settled(stack, refund_id))
    assert refund(stack, refund_id).status is RefundStatus.SUCCEEDED
    assert refunds_at_psp(stack, refund_id) == 1
