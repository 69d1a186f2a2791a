"""A benchmark stopped with SIGTERM stops the servers it started (they run in sessions of
their own, so nothing else would)."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.waiting import wait_until


def test_sigterm_stops_the_sandbox_and_the_api_the_day_started(
    admin_database_url: str, tmp_path: Path
) -> None:
    payments = str(Path(sys.executable).parent / "payments")
    arguments = ["bench", "day", "--quick", "--out", str(tmp_path), "-o", "orders=3000"]
    log_path = tmp_path / "bench.log"
    with log_path.open("wb") as log:
        bench = subprocess.Popen(
            [payments, *arguments, "--database-url", admin_database_url],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        pattern = re.compile(r"day: sandbox \S+ \(pid (\d+)\), api \S+ \(pid (\d+)\)")
        wait_until(lambda: pattern.search(log_path.read_text()), timeout=60)
        found = pattern.search(log_path.read_text())
        assert found is not None
        sandbox, api = (int(pid) for pid in found.groups())
        time.sleep(1)  # placing
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(60) != 0
    finally:
        if bench.poll() is None:
            bench.kill()
    try:
        for pid in (sandbox, api):
            wait_until(lambda pid=pid: not _running(pid), timeout=30)
    finally:
        for pid in (sandbox, api):  # a failed run must not leave them running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's exit is reaped by whoever PID 1 is, or not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status
