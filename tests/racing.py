"""Racing, in tests: many threads let go at the same instant by one barrier."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import TypeVar

Answer = TypeVar("Answer")


def all_at_once(count: int, call: Callable[[int], Answer]) -> list[Answer]:
    """`call(0)` to `call(count - 1)`, each on a thread of its own, all released together by
    one barrier; the answers of those that returned, in the order they returned."""
    barrier = threading.Barrier(count)
    answers: list[Answer] = []

    def run(index: int) -> None:
        barrier.wait()
        answers.append(call(index))

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def kill_when(script: str, argument: str, done: Callable[[], bool], timeout_s: float = 120) -> None:
    """Run `script` in a Python child process (given `argument`) until `done()` answers True,
    then SIGKILL it: a crash at whatever point the child had reached."""
    child = subprocess.Popen([sys.executable, "-c", script, argument])
    try:
        deadline = time.monotonic() + timeout_s
        while not done():
            assert child.poll() is None, "the child stopped by itself"
            assert time.monotonic() < deadline, "the child did too little in time"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(30)
