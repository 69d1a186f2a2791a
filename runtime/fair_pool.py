"""Threads that run work items, at most `share` of one key at once (the webhook sender's,
ADR 0027).

A thread takes the first waiting item whose key has fewer than `share` items running, so a
key whose items are slow holds `share` threads at most and the others' items pass it by.
Finished items wait, with their results, until the owner collects them (a batch at a time).
The standard library's ThreadPoolExecutor runs its queue in order whatever the item, so one
key's backlog would take every thread: that is why this exists.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class FairPool(Generic[Item, Result]):
    def __init__(
        self,
        run: Callable[[Item], Result],
        key: Callable[[Item], str],
        threads: int,
        share: int,
        name: str,
    ) -> None:
        """`run` must not raise: its outcome, failure included, is its result."""
        self._run, self._key, self._share = run, key, share
        lock = threading.Lock()
        self._workable = threading.Condition(lock)  # an item was submitted, or room was made
        self._changed = threading.Condition(lock)  # an item finished
        self._waiting: deque[Item] = deque()
        self._running: Counter[str] = Counter()
        self._held: Counter[str] = Counter()  # waiting, running, or finished and not collected
        self._finished: list[tuple[Item, Result]] = []
        self._closing = False
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def held(self) -> Counter[str]:
        """Items by key, from submitted to collected."""
        with self._changed:
            return self._held.copy()

    def submit(self, items: list[Item]) -> None:
        with self._changed:
            if self._closing:
                raise RuntimeError("the pool is closed")
            self._waiting.extend(items)
            self._held.update(self._key(item) for item in items)
            self._workable.notify(len(items))

    def collect(self, wait_s: float, enough: int, linger_s: float) -> list[tuple[Item, Result]]:
        """The finished items and their results: none if none finishes within `wait_s`;
        once one has, also those that finish within `linger_s` more, until `enough` have."""
        with self._changed:
            self._changed.wait_for(lambda: self._finished, wait_s)
            until = time.monotonic() + linger_s
            while (
                self._finished
                and len(self._finished) < enough
                and self._waiting_or_running()
                and (left := until - time.monotonic()) > 0
            ):
                self._changed.wait(left)
            return self._take_finished()

    def collect_all(self) -> list[tuple[Item, Result]]:
        """Once nothing waits or runs: every finished item and its result."""
        with self._changed:
            self._changed.wait_for(lambda: not self._waiting_or_running())
            return self._take_finished()

    def close(self) -> None:
        """Stop the threads once what waits has run (its results are not collected)."""
        with self._changed:
            self._closing = True
            self._workable.notify_all()
        for thread in self._threads:
            thread.join()

    def _waiting_or_running(self) -> bool:
        return bool(self._waiting) or any(self._running.values())

    def _take_finished(self) -> list[tuple[Item, Result]]:
        finished, self._finished = self._finished, []
        for item, _ in finished:
            key = self._key(item)
            self._held[key] -= 1
            if not self._held[key]:
                del self._held[key]
        return finished

    def _next(self) -> Item | None:
        """The first waiting item whose key has room (the lock held)."""
        for index, item in enumerate(self._waiting):
            if self._running[self._key(item)] < self._share:
                del self._waiting[index]
                self._running[self._key(item)] += 1
                return item
        return None

    def _work(self) -> None:
        while True:
            with self._changed:
                while (item := self._next()) is None:
                    if self._closing and not self._waiting:
                        return
                    self._workable.wait()
            result = self._run(item)
            with self._changed:
                self._running[self._key(item)] -= 1
                self._finished.append((item, result))
                self._changed.notify_all()
                # room for this key: this thread takes the first item it can, and another
                # the one of this key it may have passed by
                self._workable.notify()
