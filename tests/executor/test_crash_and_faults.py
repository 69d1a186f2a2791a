"""A worker killed mid-call, and random fault schedules: never a lost order, never two charges."""

from __future__ import annotations

import threading
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.domain.payment_order import Status
from tests.e2e.processes import Process
from tests.executor.conftest import Stack
from tests.executor.helpers import event_names, place, terminal
from tests.waiting import wait_until


def test_worker_killed_between_execution_started_and_outcome_completes_with_one_charge(
    stack: Stack, tmp_path: Path
) -> None:
    token = stack.sandbox.token("success")
    stack.sandbox.fault(kind="latency", latency_ms=1500, count=1, endpoint="charges")
    worker = Process(["worker"], stack.env, tmp_path / "worker1.log")
    try:
        [order_id] = place(stack, token, ["6.66"])
        wait_until(lambda: "ExecutionStarted" in event_names(stack, order_id))
        assert "Succeeded" not in event_names(stack, order_id)
        worker.kill()  # SIGKILL while the PSP call is in flight
    finally:
        if worker.popen.poll() is None:
            worker.kill()
        stack.sandbox.clear_faults()
    assert stack.order(order_id).status is Status.EXECUTING

    restarted = Process(["worker"], stack.env, tmp_path / "worker2.log")
    try:
        wait_until(lambda: terminal(stack, order_id))
    finally:
        restarted.interrupt()
    assert stack.order(order_id).status is Status.SUCCESS
    assert stack.sandbox.charges(order_id) == 1
    # The interrupted attempt was re-queried at the PSP before anything was sent again.
    names = event_names(stack, order_id)
    assert names[:2] == ["Created", "ExecutionStarted"]
    assert names[-1] == "Succeeded"


FAULTS = st.one_of(
    st.builds(dict, kind=st.just("status"), status=st.sampled_from([500, 503, 429]),
              count=st.integers(1, 3), endpoint=st.just("charges")),
    st.builds(dict, kind=st.just("reset"), count=st.integers(1, 2), endpoint=st.just("charges")),
    st.builds(dict, kind=st.just("charged_but_500"), count=st.integers(1, 2),
              endpoint=st.just("charges")),
    st.builds(dict, kind=st.just("latency"), latency_ms=st.integers(10, 200),
              count=st.integers(1, 3), endpoint=st.just("charges")),
    st.builds(dict, kind=st.just("drop_webhook"), count=st.integers(1, 2)),
    st.builds(dict, kind=st.just("duplicate_webhook"), count=st.integers(1, 2)),
)  # fmt: skip
CARDS = st.sampled_from(["success", "declined", "insufficient", "processing_error", "pending"])


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(faults=st.lists(FAULTS, max_size=4), cards=st.lists(CARDS, min_size=1, max_size=4))
def test_any_fault_schedule_settles_with_at_most_one_charge_per_order(
    stack: Stack, faults: list[dict[str, object]], cards: list[str]
) -> None:
    for rule in faults:
        stack.sandbox.fault(**rule)
    ids = [order for card in cards for order in place(stack, stack.sandbox.token(card), ["1.5"])]
    try:
        stack.settle(
            lambda: all(terminal(stack, i) or stack.order(i).dead_lettered for i in ids), timeout=25
        )
    finally:
        stack.sandbox.clear_faults()
    for order_id in ids:
        order = stack.order(order_id)
        assert order.is_terminal or order.dead_lettered
        assert stack.sandbox.charges(order_id) <= 1
        if order.status is Status.SUCCESS:
            assert stack.sandbox.charges(order_id) == 1


def test_two_executors_never_work_on_one_order_at_once(stack: Stack) -> None:
    from payments.runtime.roles import build_executor

    token = stack.sandbox.token("success")
    stack.sandbox.fault(kind="latency", latency_ms=20, count=1000, endpoint="charges")
    ids = [i for _ in range(10) for i in place(stack, token, ["1", "2", "3"])]
    second = build_executor(stack.services)
    try:
        threads = [
            threading.Thread(target=executor.run_until_idle)
            for executor in (stack.executor, second, stack.executor, second)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        stack.settle(lambda: terminal(stack, *ids))
    finally:
        stack.sandbox.clear_faults()
        second.close()
    for order_id in ids:
        assert event_names(stack, order_id).count("ExecutionStarted") == 1
        assert stack.sandbox.charges(order_id) == 1
