"""Racing, in tests: many threads let go at the same instant by one barrier."""

from __future__ import annotations

import threading
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
