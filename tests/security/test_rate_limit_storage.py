"""The rate limiter's storage: the same answers as the library's, without a thread per request."""

from __future__ import annotations

import threading
import time

import pytest

from payments.api.auth import PrunedMemoryStorage, RateLimits


def test_a_thousand_requests_start_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    limits = RateLimits("10000/minute", "5/minute")
    started: list[threading.Thread] = []
    original = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        started.append(thread)
        original(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for n in range(1000):
        assert limits.limiter.test(limits.failed_auth, "127.0.0.1")
        assert limits.limiter.hit(limits.per_key, f"key{n % 3}")
    # The library's own storage starts a pruning Timer whenever the last one has ended: here
    # that would be a thread every 10 ms of this loop. Ours prunes inline.
    assert started == []


def test_the_window_still_refuses_and_frees_its_entries() -> None:
    limits = RateLimits("5/second", "5/minute")
    assert all(limits.limiter.hit(limits.per_key, "k") for _ in range(5))
    assert not limits.limiter.hit(limits.per_key, "k")  # the sixth within the second
    storage = limits.limiter.storage
    assert isinstance(storage, PrunedMemoryStorage)
    assert sum(len(entries) for entries in storage.events.values()) == 5  # kept while they count
    time.sleep(1.1)
    assert limits.limiter.hit(limits.per_key, "k")  # the window moved on
    time.sleep(PrunedMemoryStorage.PRUNE_EVERY_S + 1.1)
    assert limits.limiter.hit(limits.per_key, "other")  # the next hit prunes
    assert storage.events[limits.per_key.key_for("k")] == []
    assert len(storage.events[limits.per_key.key_for("other")]) == 1
