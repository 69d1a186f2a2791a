"""An executor process killed (SIGKILL) while its refunds are at the PSP: after a restart
every refund is settled, none is sent twice and none is lost."""

from __future__ import annotations

from pathlib import Path

from payments.domain.refund import RefundStatus
from tests.executor.conftest import Stack
from tests.executor.helpers import kill_worker_when, restart_worker_until
from tests.refunds.helpers import (
    captured_order,
    post_refund,
    refund,
    refund_event_names,
    refunds_at_psp,
    settled,
)


def test_executor_killed_mid_refunds_sends_each_refund_once_and_loses_none(
    stack: Stack, tmp_path: Path
) -> None:
    orders = [captured_order(stack, "10.00") for _ in range(2)]
    # Every refund call at the PSP is slow: the worker dies while they are in flight.
    stack.sandbox.fault(kind="latency", latency_ms=1500, count=100, endpoint="refunds")
    refund_ids = [
        post_refund(stack, order_id, {"amount": amount}).json()["refund_id"]
        for order_id in orders
        for amount in ("1.00", "2.00", "3.00")
    ]
    kill_worker_when(  # SIGKILL while the refund calls are in flight
        stack,
        tmp_path / "worker1.log",
        lambda: all("ExecutionStarted" in refund_event_names(stack, r) for r in refund_ids),
    )
    assert all(refund(stack, r).status is RefundStatus.EXECUTING for r in refund_ids)

    restart_worker_until(stack, tmp_path / "worker2.log", lambda: settled(stack, *refund_ids))
    for refund_id in refund_ids:
        assert refund(stack, refund_id).status is RefundStatus.SUCCEEDED
        assert refunds_at_psp(stack, refund_id) == 1
        assert refund_event_names(stack, refund_id).count("Succeeded") == 1
    for order_id in orders:
        order = stack.order(order_id)
        assert (order.refunded_minor, order.refunds_in_flight) == (600, {})
