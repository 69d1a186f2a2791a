"""The rate limiter's storage: the same answers as the library's, without a thread per request;
and each API process's share of a limit."""

from __future__ import annotations

import threading
import time

import pytest

from payments.api.auth import PrunedMemoryStorage, RateLimits
from payments.runtime.config import ConfigError, Settings


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


@pytest.mark.parametrize(
    ("processes", "per_key", "failed_auth"),
    [(1, 1000, 20), (2, 500, 10), (3, 334, 7), (64, 16, 1)],
)
def test_each_api_process_admits_its_share_of_a_window(
    processes: int, per_key: int, failed_auth: int
) -> None:
    """With PAYMENTS_API_PROCESSES above 1 (ADR 0020) the processes together never admit
    more than the limit: each has the limit ÷ processes, rounded up, over the same window."""
    limits = RateLimits("1000/second", "20/minute", processes)
    assert (limits.per_key.amount, limits.per_key.GRANULARITY.name) == (per_key, "second")
    assert (limits.failed_auth.amount, limits.failed_auth.GRANULARITY.name) == (
        failed_auth,
        "minute",
    )
    assert all(limits.limiter.hit(limits.failed_auth, "10.0.0.1") for _ in range(failed_auth))
    assert not limits.limiter.hit(limits.failed_auth, "10.0.0.1")


def test_api_processes_is_a_bounded_setting() -> None:
    assert Settings.from_env({}).api_processes == 1
    assert Settings.from_env({"PAYMENTS_API_PROCESSES": "4"}).api_processes == 4
    for wrong in ("0", "65", "two"):
        with pytest.raises(ConfigError, match="PAYMENTS_API_PROCESSES"):
            Settings.from_env({"PAYMENTS_API_PROCESSES": wrong})
