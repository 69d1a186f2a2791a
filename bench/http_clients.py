"""`http_clients`: the client's own CPU per webhook-sized POST, by HTTP client (ADR 0021).

A receiver (uvicorn on uvloop + httptools, answering every POST with a small JSON body) runs
in a process of its own; this process POSTs `count` signed-size bodies to it over a
keep-alive connection with each client in turn and counts its own CPU (user + system). The
row to compare with is httpx's AsyncClient, which the sandbox PSP used to send webhooks
before urllib3 (one at a time, as the sandbox does; and 8 in flight).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

import httpx
import urllib3

from payments.bench import harness
from payments.bench.harness import BenchContext, ScenarioResult

RECEIVER = """
import sys, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b'{"received":true}'})
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            loop="auto", http="auto")
"""
BODY = b'{"id":"evt_0123456789abcdef","type":"charge.succeeded","data":{"object":{}}}' * 6
HEADERS = {"Content-Type": "application/json", "PSP-Signature": "t=1700000000,v1=" + "a" * 64}


def _cpu() -> float:
    """This process's CPU seconds (user + system) to the nanosecond: os.times() counts in
    clock ticks (10 ms), which a quick run's fastest client can spend less than."""
    return time.process_time()


def _httpx_async(url: str, count: int, in_flight: int) -> None:
    async def send_all() -> None:
        async with httpx.AsyncClient() as client:
            limit = asyncio.Semaphore(in_flight)

            async def one() -> None:
                async with limit:
                    (
                        await client.post(url, content=BODY, headers=HEADERS, timeout=10)
                    ).raise_for_status()

            await asyncio.gather(*(one() for _ in range(count)))

    asyncio.run(send_all())


def _httpx_sync(url: str, count: int) -> None:
    with httpx.Client() as client:
        for _ in range(count):
            client.post(url, content=BODY, headers=HEADERS, timeout=10).raise_for_status()


def _urllib3(url: str, count: int) -> None:
    pool = urllib3.PoolManager(retries=False, timeout=urllib3.Timeout(10))
    for _ in range(count):
        assert pool.request("POST", url, body=BODY, headers=HEADERS, redirect=False).status == 200
    pool.clear()


def run(ctx: BenchContext) -> ScenarioResult:
    count: int = ctx.param("count", 5000, 500)
    port = harness.free_port()
    url = f"http://127.0.0.1:{port}/webhooks/psp"
    receiver = harness.ChildProcess(
        "receiver",
        [sys.executable, "-c", RECEIVER, str(port)],
        harness.child_env(),
        ctx.work_dir / "receiver.log",
    )
    clients: list[tuple[str, Callable[[], None]]] = [
        ("httpx AsyncClient, one at a time", lambda: _httpx_async(url, count, 1)),
        ("httpx AsyncClient, 8 in flight", lambda: _httpx_async(url, count, 8)),
        ("httpx Client", lambda: _httpx_sync(url, count)),
        ("urllib3 PoolManager (the sandbox's sender)", lambda: _urllib3(url, count)),
    ]
    result = ScenarioResult("http_clients", {"count": count})
    table = harness.Table(
        f"client CPU per POST ({count:,} POSTs each, receiver in its own process)",
        ["client", "CPU ms per POST", "POSTs/s", "CPU ÷ httpx AsyncClient, one at a time"],
    )
    try:
        receiver.wait_http(f"http://127.0.0.1:{port}/health")
        baseline: float | None = None
        for name, send in clients:
            send()  # warm: connections, imports, caches
            cpu, started = _cpu(), time.perf_counter()
            send()
            seconds, per_post = time.perf_counter() - started, (_cpu() - cpu) * 1000 / count
            baseline = per_post if baseline is None else baseline
            cpu_ratio = harness.ratio(per_post, baseline)
            table.add(name, round(per_post, 3), round(count / seconds), cpu_ratio)
            result.data[name] = {"cpu_ms_per_post": per_post, "posts_per_second": count / seconds}
    finally:
        receiver.stop()
    result.tables.append(table)
    sender = table.rows[-1][3]
    result.goals.append(
        harness.Goal(
            "the sandbox's sender spends less CPU per POST than the async client did",
            "ratio < 1.0",
            f"{sender}",
            isinstance(sender, float) and sender < 1.0,
        )
    )
    result.notes.append(
        "one run on a shared machine: compare the rows with each other, not across runs"
    )
    return result
