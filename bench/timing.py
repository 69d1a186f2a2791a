"""Many calls timed on threads: the run, its latencies' percentiles, its figures."""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any


def percentiles_ms(latencies_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds (nearest rank); zeros for an empty sample."""
    if not latencies_s:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(latencies_s)

    def rank(p: float) -> float:
        index = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
        return round(ordered[index] * 1000, 2)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": rank(100)}


def timed_parallel(
    workers: int, count: int, job: Callable[[int], object], *, deadline_s: float
) -> tuple[float, list[float], int]:
    """Run job(i) for i in range(count) on `workers` threads, each pulling the next index.

    Returns (elapsed seconds, per-call latencies, errors). Stops early at deadline_s.
    """
    counter = itertools.count()
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    stop_at = time.perf_counter() + deadline_s

    def worker() -> None:
        while time.perf_counter() < stop_at:
            with lock:
                index = next(counter)
            if index >= count:
                return
            started = time.perf_counter()
            try:
                job(index)
            except Exception:
                with lock:
                    errors[0] += 1
                continue
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(deadline_s + 30)
    return time.perf_counter() - started, latencies, errors[0]


def throughput(elapsed: float, latencies: list[float], errors: int) -> dict[str, Any]:
    """The figures of a timed_parallel run: calls done, seconds, calls per second, errors and
    the latencies' percentiles."""
    return {
        "done": len(latencies),
        "seconds": elapsed,
        "rate": len(latencies) / elapsed if elapsed else 0.0,
        "errors": errors,
        **percentiles_ms(latencies),
    }
