"""The HTTP load generator, run as a process of its own so it never shares the server's loop.

    python -m payments.bench.loadgen SPEC_JSON RESULT_PATH

SPEC: {"url", "key", "prefix", "start", "mode": "closed", "clients", "count"} or
      {"url", "key", "prefix", "start", "mode": "open", "rate", "seconds", "max_in_flight"} or
      {"url", "key", "prefix", "start", "mode": "read_after_write", "clients", "count"}
(`key`: the API key every request authenticates with).
Closed loop: `clients` workers send `count` checkouts back to back.
Read after write: like the closed loop, and each 201 is followed at once (no min_position)
by GET /payments/{its first order} and GET /checkouts/{it}; `latencies_s` are the POSTs',
`read_latencies_s` and `read_statuses` the GETs' (a 404 there is a write not read back).
Open loop: one checkout every 1/rate s whatever the answers; latency is measured from the
instant a request was due, so a server that falls behind is not flattered (no coordinated
omission). Every loop is bounded by count and by `deadline_s`.

The client is urllib3 on threads: a fraction of httpx's CPU per request (bench http_clients,
ADR 0022), which matters here because the generator shares the server's two cores. The
answer also says how much CPU the generator itself used (`cpu_s`).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import msgspec
import urllib3

from payments.bench.workload import checkout_body, checkout_id


def _bodies(spec: dict[str, Any], count: int) -> list[tuple[str, bytes]]:
    start, prefix = int(spec["start"]), str(spec["prefix"])
    return [
        (checkout_id(prefix, i), msgspec.json.encode(checkout_body(prefix, i)))
        for i in range(start, start + count)
    ]


def client_pool(base_url: str, connections: int) -> urllib3.HTTPConnectionPool:
    """Keep-alive connections to the server, as many as requests in flight, no retries.
    urllib3 sends a request's own headers only (it does not merge the pool's)."""
    url = urlsplit(base_url)
    return urllib3.HTTPConnectionPool(
        url.hostname or "127.0.0.1",
        url.port,
        maxsize=connections,
        block=True,
        retries=False,
        timeout=urllib3.Timeout(30),
    )


def post_checkout(
    client: urllib3.HTTPConnectionPool, authorization: str, key: str, body: bytes
) -> int:
    """POST /payments with an API key and an Idempotency-Key; the answer's status."""
    headers = {
        "Authorization": authorization,
        "Content-Type": "application/json",
        "Idempotency-Key": key,
    }
    return client.request("POST", "/payments", body=body, headers=headers, redirect=False).status


class Recorder:
    def __init__(self, client: urllib3.HTTPConnectionPool, authorization: str) -> None:
        self.client = client
        self.authorization = authorization
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.read_latencies: list[float] = []
        self.read_statuses: Counter[str] = Counter()
        self._lock = threading.Lock()

    @staticmethod
    def _status(request: Callable[[], int]) -> str:
        try:
            return str(request())
        except urllib3.exceptions.HTTPError as error:
            return type(error).__name__

    def read(self, path: str) -> None:
        started = time.perf_counter()
        headers = {"Authorization": self.authorization}
        status = self._status(
            lambda: self.client.request("GET", path, headers=headers, redirect=False).status
        )
        with self._lock:
            self.read_statuses[status] += 1
            if status == "200":
                self.read_latencies.append(time.perf_counter() - started)

    def send(self, key: str, body: bytes, since: float) -> str:
        status = self._status(lambda: post_checkout(self.client, self.authorization, key, body))
        with self._lock:
            self.statuses[status] += 1
            if status == "201":
                self.latencies.append(time.perf_counter() - since)
        return status


def closed_loop(spec: dict[str, Any], recorder: Recorder) -> float:
    clients, count = int(spec["clients"]), int(spec["count"])
    read_back = spec["mode"] == "read_after_write"
    bodies = _bodies(spec, count)
    deadline = time.perf_counter() + float(spec.get("deadline_s", 600))
    lock = threading.Lock()
    indexes: Iterator[int] = iter(range(count))

    def worker() -> None:
        while time.perf_counter() <= deadline:
            with lock:
                index = next(indexes, None)
            if index is None:
                return
            key, body = bodies[index]
            status = recorder.send(key, body, time.perf_counter())
            if read_back and status == "201":
                recorder.read(f"/payments/{key}_0")
                recorder.read(f"/checkouts/{key}")

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def open_loop(spec: dict[str, Any], recorder: Recorder) -> float:
    rate, seconds = float(spec["rate"]), float(spec["seconds"])
    count = max(1, int(rate * seconds))
    bodies = _bodies(spec, count)
    deadline_s = float(spec.get("deadline_s", 120))
    started = time.perf_counter()
    with ThreadPoolExecutor(int(spec.get("max_in_flight", 256))) as pool:
        for index, (key, body) in enumerate(bodies):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            pool.submit(recorder.send, key, body, due)  # a late request still counts from due
            if time.perf_counter() - started > deadline_s:
                break
    return time.perf_counter() - started


def main(argv: list[str]) -> None:
    spec: dict[str, Any] = json.loads(argv[0])
    in_flight = int(spec.get("max_in_flight", 256) if spec["mode"] == "open" else spec["clients"])
    client = client_pool(spec["url"], in_flight)
    recorder = Recorder(client, f"Bearer {spec['key']}")
    run = open_loop if spec["mode"] == "open" else closed_loop
    cpu_before = time.process_time()
    elapsed = run(spec, recorder)
    cpu_s = time.process_time() - cpu_before
    client.close()
    Path(argv[1]).write_text(
        json.dumps(
            {
                "elapsed_s": elapsed,
                "cpu_s": cpu_s,
                "latencies_s": recorder.latencies,
                "statuses": dict(recorder.statuses),
                "read_latencies_s": recorder.read_latencies,
                "read_statuses": dict(recorder.read_statuses),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
