"""runtime/fair_pool.py: threads that give one key at most its share (the webhook sender's)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from payments.runtime.fair_pool import FairPool


class Work:
    """Items "key:n"; a key's items wait for its gate, if it has one; the most running of
    each key at once is kept."""

    def __init__(self) -> None:
        self.gates: dict[str, threading.Event] = {}
        self.lock = threading.Lock()
        self.running: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    def __call__(self, item: str) -> str:
        key = item.split(":")[0]
        with self.lock:
            self.running[key] += 1
            self.most[key] = max(self.most[key], self.running[key])
        if key in self.gates:
            assert self.gates[key].wait(timeout=30)
        with self.lock:
            self.running[key] -= 1
        return item.upper()


def pool_of(work: Work, threads: int, share: int) -> FairPool[str, str]:
    return FairPool(work, lambda item: item.split(":")[0], threads, share, "test")


def test_a_blocked_key_holds_only_its_share_and_the_others_pass_it_by() -> None:
    work = Work()
    work.gates["slow"] = threading.Event()
    pool = pool_of(work, threads=4, share=2)
    try:
        pool.submit([f"slow:{n}" for n in range(6)] + [f"fast:{n}" for n in range(5)])
        finished: list[tuple[str, str]] = []
        while len(finished) < 5:
            got = pool.collect(wait_s=10, enough=5, linger_s=0.05)
            assert got, "the fast items did not pass the blocked ones"
            finished += got
        assert sorted(item for item, _ in finished) == [f"fast:{n}" for n in range(5)]
        assert dict(pool.held()) == {"slow": 6}
        assert work.most["slow"] == 2
        work.gates["slow"].set()
        rest = pool.collect_all()
        assert sorted(result for _, result in rest) == [f"SLOW:{n}" for n in range(6)]
        assert dict(pool.held()) == {}
        assert work.most["slow"] == 2
        assert work.most["fast"] <= 4
    finally:
        work.gates["slow"].set()
        pool.close()


def test_collect_answers_nothing_when_nothing_ends_in_time_and_lingers_for_more() -> None:
    work = Work()
    work.gates["a"] = threading.Event()
    pool = pool_of(work, threads=3, share=3)
    try:
        pool.submit(["a:1", "a:2", "a:3"])
        assert pool.collect(wait_s=0.05, enough=3, linger_s=0.05) == []
        work.gates["a"].set()
        got = pool.collect(wait_s=10, enough=3, linger_s=10)
        assert sorted(item for item, _ in got) == ["a:1", "a:2", "a:3"]
    finally:
        work.gates["a"].set()
        pool.close()


def test_close_runs_what_waits_and_then_takes_nothing_more() -> None:
    work = Work()
    pool = pool_of(work, threads=1, share=1)
    pool.submit([f"k:{n}" for n in range(5)])
    pool.close()
    assert sum(work.most.values()) == 1
    assert dict(pool.held()) == {"k": 5}  # run, not collected
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(["k:9"])
