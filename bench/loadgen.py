"""The HTTP load generator, run as a process of its own so it never shares the server's loop.

    python -m payments.bench.loadgen SPEC_JSON RESULT_PATH

SPEC: {"url", "prefix", "start", "mode": "closed", "clients", "count"} or
      {"url", "prefix", "start", "mode": "open", "rate", "seconds", "max_in_flight"} or
      {"url", "prefix", "start", "mode": "read_after_write", "clients", "count"}.
Closed loop: `clients` workers send `count` checkouts back to back.
Read after write: like the closed loop, and each 201 is followed at once (no min_position)
by GET /payments/{its first order} and GET /checkouts/{it}; `latencies_s` are the POSTs',
`read_latencies_s` and `read_statuses` the GETs' (a 404 there is a write not read back).
Open loop: one checkout every 1/rate s whatever the answers; latency is measured from the
instant a request was due, so a server that falls behind is not flattered (no coordinated
omission). Every loop is bounded by count and by `deadline_s`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import msgspec

from payments.bench.workload import checkout_body, checkout_id


def _bodies(spec: dict[str, Any], count: int) -> list[tuple[str, bytes]]:
    start, prefix = int(spec["start"]), str(spec["prefix"])
    return [
        (checkout_id(prefix, i), msgspec.json.encode(checkout_body(prefix, i)))
        for i in range(start, start + count)
    ]


def _auth(spec: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {spec['key']}"} if spec.get("key") else {}


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.read_latencies: list[float] = []
        self.read_statuses: Counter[str] = Counter()

    async def read(self, client: httpx.AsyncClient, path: str) -> None:
        started = time.perf_counter()
        try:
            status = str((await client.get(path)).status_code)
        except httpx.HTTPError as error:
            status = type(error).__name__
        self.read_statuses[status] += 1
        if status == "200":
            self.read_latencies.append(time.perf_counter() - started)

    async def send(self, client: httpx.AsyncClient, key: str, body: bytes, since: float) -> str:
        try:
            response = await client.post(
                "/payments",
                content=body,
                headers={"Idempotency-Key": key, "Content-Type": "application/json"},
            )
            status = str(response.status_code)
        except httpx.HTTPError as error:
            status = type(error).__name__
        self.statuses[status] += 1
        if status == "201":
            self.latencies.append(time.perf_counter() - since)
        return status


async def closed_loop(spec: dict[str, Any], recorder: Recorder) -> float:
    clients, count = int(spec["clients"]), int(spec["count"])
    read_back = spec["mode"] == "read_after_write"
    bodies = _bodies(spec, count)
    deadline = time.perf_counter() + float(spec.get("deadline_s", 600))
    next_index = iter(range(count))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(
        base_url=spec["url"], limits=limits, timeout=30, headers=_auth(spec)
    ) as client:

        async def worker() -> None:
            for index in next_index:
                if time.perf_counter() > deadline:
                    return
                key, body = bodies[index]
                status = await recorder.send(client, key, body, time.perf_counter())
                if read_back and status == "201":
                    await recorder.read(client, f"/payments/{key}_0")
                    await recorder.read(client, f"/checkouts/{key}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return time.perf_counter() - started


async def open_loop(spec: dict[str, Any], recorder: Recorder) -> float:
    rate, seconds = float(spec["rate"]), float(spec["seconds"])
    count = max(1, int(rate * seconds))
    bodies = _bodies(spec, count)
    in_flight = asyncio.Semaphore(int(spec.get("max_in_flight", 256)))
    limits = httpx.Limits(max_connections=int(spec.get("max_in_flight", 256)))
    async with httpx.AsyncClient(
        base_url=spec["url"], limits=limits, timeout=30, headers=_auth(spec)
    ) as client:

        async def one(key: str, body: bytes, due: float) -> None:
            async with in_flight:
                await recorder.send(client, key, body, due)

        tasks: list[asyncio.Task[None]] = []
        started = time.perf_counter()
        for index, (key, body) in enumerate(bodies):
            due = started + index / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(key, body, due)))
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=float(spec.get("deadline_s", 120)))
        return time.perf_counter() - started


def main(argv: list[str]) -> None:
    spec: dict[str, Any] = json.loads(argv[0])
    recorder = Recorder()
    run = open_loop if spec["mode"] == "open" else closed_loop
    elapsed = asyncio.run(run(spec, recorder))
    Path(argv[1]).write_text(
        json.dumps(
            {
                "elapsed_s": elapsed,
                "latencies_s": recorder.latencies,
                "statuses": dict(recorder.statuses),
                "read_latencies_s": recorder.read_latencies,
                "read_statuses": dict(recorder.read_statuses),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
