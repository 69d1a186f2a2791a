"""Ctrl-C stops a worker, also one started where SIGINT is ignored (a script's background job)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.e2e.processes import Process
from tests.executor.conftest import Stack
from tests.executor.helpers import place, terminal
from tests.waiting import wait_until


def test_a_worker_started_with_sigint_ignored_still_stops_on_ctrl_c(
    stack: Stack, tmp_path: Path
) -> None:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # what the child inherits
    try:
        worker = Process(["worker"], stack.env, tmp_path / "worker.log")
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        [order_id] = place(stack, stack.sandbox.token("success"), ["1.00"])
        wait_until(lambda: terminal(stack, order_id))  # it runs
    finally:
        try:
            code = worker.interrupt(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()  # it ignored Ctrl-C: leave no orphan behind
            raise
    assert code == 0, worker.logs()[-2000:]
