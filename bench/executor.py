"""Scenario `executor`: orders from NOT_STARTED to SUCCESS through the sandbox PSP, per second.

A sandbox PSP runs as a child process (`python -m payments.psp.sandbox`). For every
injected PSP latency (none, 50 ms) and every executor setting (concurrency x batch size),
N fresh orders are placed through PaymentsApplication.place_checkout, then a PaymentExecutor
built as `payments worker` builds it (runtime.roles.build_executor) runs run_until_idle until
every order is SUCCESS; the clock covers feeding the queue, claiming, ExecutionStarted, the
PSP calls, the outcomes and the checkouts' completion. Baseline in the same run: the
sandbox's own rate for POST /v1/charges at the same concurrency through the same HTTP
client, without any database of ours.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from payments.bench.deployment import PspSandbox
from payments.bench.harness import BenchContext, Goal, ScenarioResult, Table, ratio, sandbox_token
from payments.bench.timing import timed_parallel
from payments.bench.workload import ORDERS_PER_CHECKOUT, place_command
from payments.domain.execution import Succeeded
from payments.domain.payment_order import Status
from payments.psp.client import ChargeRequest, HttpPspClient
from payments.runtime.config import Settings
from payments.runtime.roles import build_executor
from payments.runtime.services import build_services

GOAL_ORDERS_PER_S = 500.0
GOAL_LATENCY_MS = 50


def run(ctx: BenchContext) -> ScenarioResult:
    orders: int = ctx.param("orders", 3000, 150)
    latencies: list[int] = ctx.param("latencies_ms", [0, 50], [0, 50])
    settings: list[str] = ctx.param("settings", ["32x64", "64x128", "128x256"], ["32x64"])
    tokens_count: int = ctx.param("tokens", 8, 2)
    deadline_s: float = ctx.param("deadline_s", 300.0, 60.0)
    result = ScenarioResult(
        "executor",
        params={
            "orders_per_run": orders,
            "psp_latencies_ms": latencies,
            "settings_concurrency_x_batch": settings,
            "tokens": tokens_count,
        },
    )
    sandbox = PspSandbox(ctx.work_dir)
    url = sandbox.url
    database_url = ctx.create_database("executor")
    placer = build_services(
        Settings.from_env({"PAYMENTS_DATABASE_URL": database_url}), database_url
    )
    table = Table(
        f"executor: {orders} orders per run, NOT_STARTED → SUCCESS through the sandbox PSP",
        [
            "PSP latency ms",
            "concurrency",
            "batch",
            "orders",
            "seconds",
            "executor orders/s",
            "raw PSP charges/s",
            "executor ÷ raw",
            "SUCCESS",
        ],
    )
    runs: list[dict[str, Any]] = []
    try:
        sandbox.wait_ready()
        ctx.log(f"psp sandbox on {url} (pid {sandbox.pid})")
        tokens = [sandbox_token(url) for _ in range(tokens_count)]
        for latency_ms in latencies:
            raw_rates: dict[int, float] = {}
            for setting in settings:
                concurrency, batch = (int(part) for part in setting.split("x"))
                _set_latency(url, latency_ms)
                if concurrency not in raw_rates:
                    raw_rates[concurrency] = _raw_psp_rate(url, concurrency, orders, tokens)
                    ctx.log(
                        f"raw psp: {latency_ms} ms, {concurrency} concurrent: "
                        f"{raw_rates[concurrency]:.1f} charges/s"
                    )
                _set_latency(url, latency_ms)
                measured = _executor_run(
                    ctx, placer, database_url, url, tokens, orders, concurrency, batch, deadline_s
                )
                measured.update(
                    latency_ms=latency_ms, raw_rate=raw_rates[concurrency], setting=setting
                )
                runs.append(measured)
                ctx.log(
                    f"executor: {latency_ms} ms, {setting}: {measured['rate']:.1f} orders/s "
                    f"({measured['succeeded']}/{measured['orders']} SUCCESS)"
                )
                table.add(
                    latency_ms,
                    concurrency,
                    batch,
                    measured["orders"],
                    round(measured["seconds"], 2),
                    round(measured["rate"], 1),
                    round(raw_rates[concurrency], 1),
                    ratio(measured["rate"], raw_rates[concurrency]),
                    f"{measured['succeeded']}/{measured['orders']}",
                )
    finally:
        placer.close()
        sandbox.stop()
    result.tables.append(table)
    slow = [r for r in runs if r["latency_ms"] == GOAL_LATENCY_MS]
    if slow:
        best = max(slow, key=lambda r: r["rate"])
        result.goals.append(
            Goal(
                f"orders/s end to end with {GOAL_LATENCY_MS} ms PSP latency (best setting)",
                f"≥ {GOAL_ORDERS_PER_S:g}",
                f"{best['rate']:.1f} ({best['setting']})",
                best["rate"] >= GOAL_ORDERS_PER_S and best["succeeded"] == best["orders"],
            )
        )
    incomplete = [r for r in runs if r["succeeded"] != r["orders"]]
    for r in incomplete:
        result.notes.append(
            f"{r['setting']} at {r['latency_ms']} ms: only {r['succeeded']} of {r['orders']} "
            "orders reached SUCCESS before the deadline"
        )
    result.data = {"runs": runs}
    return result


def _set_latency(url: str, latency_ms: int) -> None:
    httpx.delete(f"{url}/admin/faults", timeout=10).raise_for_status()
    if latency_ms:
        rule = {"kind": "latency", "latency_ms": latency_ms, "count": 100_000}
        httpx.post(
            f"{url}/admin/faults", json={**rule, "endpoint": "charges"}, timeout=10
        ).raise_for_status()


def _raw_psp_rate(url: str, concurrency: int, count: int, tokens: list[str]) -> float:
    """POST /v1/charges as fast as `concurrency` threads can, through our HTTP client."""
    client = HttpPspClient(url, timeout_s=30, max_connections=concurrency)
    prefix = f"raw{uuid.uuid4().hex[:8]}"
    succeeded = [0]

    def charge(index: int) -> None:
        reference = f"{prefix}_{index}"
        outcome = client.create_charge(
            ChargeRequest(
                amount_minor=1000 + index % 100,
                currency="USD",
                token=tokens[index % len(tokens)],
                reference=reference,
                idempotency_key=reference,
            )
        )
        if isinstance(outcome, Succeeded):
            succeeded[0] += 1

    try:
        elapsed, _, _ = timed_parallel(concurrency, count, charge, deadline_s=300)
    finally:
        client.close()
    return succeeded[0] / elapsed if elapsed else 0.0


def _executor_run(
    ctx: BenchContext,
    placer: Any,
    database_url: str,
    psp_url: str,
    tokens: list[str],
    orders: int,
    concurrency: int,
    batch: int,
    deadline_s: float,
) -> dict[str, Any]:
    prefix = f"ex{uuid.uuid4().hex[:8]}"
    checkouts = -(-orders // ORDERS_PER_CHECKOUT)
    commands = [place_command(prefix, i, tokens[i % len(tokens)]) for i in range(checkouts)]
    application = placer.application
    timed_parallel(4, checkouts, lambda i: application.place_checkout(commands[i]), deadline_s=300)
    order_ids = [line.payment_order_id for c in commands for line in c.orders]
    settings = Settings.from_env(
        {
            "PAYMENTS_DATABASE_URL": database_url,
            "PAYMENTS_PSP_URL": psp_url,
            "PAYMENTS_EXECUTOR_CONCURRENCY": str(concurrency),
            "PAYMENTS_EXECUTOR_BATCH_SIZE": str(batch),
        }
    )
    services = build_services(settings, database_url)
    executor = build_executor(services)
    try:
        started = time.perf_counter()
        stop_at = started + deadline_s
        while time.perf_counter() < stop_at:
            executor.run_until_idle()
            if services.queue.depth()[1] == 0:
                break
            time.sleep(0.02)  # only retries with a future due time are left
        elapsed = time.perf_counter() - started
    finally:
        executor.close()
    try:
        statuses = [services.application.get_order(i).status for i in order_ids]
    finally:
        services.close()
    succeeded = sum(1 for s in statuses if s is Status.SUCCESS)
    return {
        "orders": len(order_ids),
        "seconds": elapsed,
        "rate": succeeded / elapsed if elapsed else 0.0,
        "succeeded": succeeded,
        "concurrency": concurrency,
        "batch": batch,
    }
