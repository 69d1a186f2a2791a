"""Scenario `applied`: checkouts accepted per second and orders applied per second, one run.

The processes a production deployment runs, one per role, each a child process on fresh
state: the sandbox PSP (its charges answer after `latency_ms`, 50 ms by default), `payments
api`, `payments worker` (the executor) and `payments projections run` (order status, ledger,
wallets). `clients` threads POST /payments with a merchant key as fast as they are answered
(closed loop), while a sampler reads, every `sample_s`, which of the placed orders are
**applied**: posted in the ledger and credited to their seller's wallet, which happens only
after the PSP's success (what GET /payments/{id} answers as `ledger_updated` and
`wallet_updated`). Reported side by side: accepted orders/s (201s over the placing time),
applied orders/s (over the whole run, first POST to last applied order), the rate applied
while placing was still going on, the time to drain after the last POST, and how long an
order took from its 201 to applied (to the sampler's resolution).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import httpx
import msgspec

from payments.bench.deployment import role_process, start_deployment
from payments.bench.harness import (
    BenchContext,
    ChildProcess,
    Goal,
    ScenarioResult,
    Table,
    sandbox_token,
)
from payments.bench.loadgen import client_pool, post_checkout
from payments.bench.stage_cpu import StageCpu
from payments.bench.timing import percentiles_ms, timed_parallel
from payments.bench.workload import ORDERS_PER_CHECKOUT, checkout_body
from payments.projections.catalog import LiveViews
from payments.runtime.config import EXECUTOR_BATCH_SIZE, EXECUTOR_CONCURRENCY, Settings
from payments.runtime.services import build_services

SECRET = "whsec_bench_applied"  # a benchmark's sandbox secret, not a credential
GOAL_APPLIED_PER_S = 500.0
CHUNK = 10_000  # order ids per query of the views: one query a table per sample, mostly


def run(ctx: BenchContext) -> ScenarioResult:
    orders: int = ctx.param("orders", 6000, 150)
    clients: int = ctx.param("clients", 8, 4)
    latency_ms: int = ctx.param("latency_ms", 50, 50)
    concurrency: int = ctx.param("concurrency", EXECUTOR_CONCURRENCY, 16)
    batch: int = ctx.param("batch", EXECUTOR_BATCH_SIZE, 32)
    sample_s: float = ctx.param("sample_s", 0.5, 0.5)
    deadline_s: float = ctx.param("deadline_s", 900.0, 120.0)
    api_processes: int = ctx.param("api_processes", 1, 1)  # PAYMENTS_API_PROCESSES (ADR 0020)
    checkouts = -(-orders // ORDERS_PER_CHECKOUT)
    result = ScenarioResult(
        "applied",
        params={
            "orders": checkouts * ORDERS_PER_CHECKOUT,
            "clients": clients,
            "psp_latency_ms": latency_ms,
            "executor_concurrency_x_batch": f"{concurrency}x{batch}",
            "sample_s": sample_s,
            "api_processes": api_processes,
        },
    )
    database_url = ctx.create_database("applied")
    deployment = start_deployment(
        ctx.work_dir,
        database_url,
        SECRET,
        api_processes=api_processes,
        settings={
            "PAYMENTS_EXECUTOR_CONCURRENCY": str(concurrency),
            "PAYMENTS_EXECUTOR_BATCH_SIZE": str(batch),
        },
    )
    psp_url, api_url, env = deployment.psp_url, deployment.api_url, deployment.env
    children: list[ChildProcess] = []
    cpu = StageCpu()
    services = None
    try:
        worker = role_process(ctx.work_dir, "worker", ["worker"], env)
        children.append(worker)
        projections = role_process(ctx.work_dir, "projections", ["projections", "run"], env)
        children.append(projections)
        cpu.roles.update(
            {
                "psp sandbox": deployment.sandbox.pid,
                "payments api": deployment.api.pid,
                "worker": worker.pid,
                "projections": projections.pid,
            }
        )
        if latency_ms:
            rule = {"kind": "latency", "latency_ms": latency_ms, "count": 10 * orders + 1000}
            httpx.post(
                f"{psp_url}/admin/faults", json={**rule, "endpoint": "charges"}, timeout=10
            ).raise_for_status()
        token = sandbox_token(psp_url)
        key = deployment.merchant_key()
        services = build_services(Settings.from_env(env), database_url)
        views = LiveViews.on(services.pool)
        prefix = f"ap{uuid.uuid4().hex[:6]}"
        with cpu.stage("applied"):
            measured = _measure(
                ctx, api_url, key, prefix, token, checkouts, clients, views, sample_s, deadline_s
            )
    finally:
        if services is not None:
            services.close()
        for process in reversed(children):
            process.stop()
        deployment.stop()

    rates = Table(
        f"applied: {measured['orders']:,} orders ({clients} clients, PSP latency {latency_ms} ms, "
        f"executor {concurrency}x{batch})",
        ["measure", "value"],
    )
    rates.add("accepted (201s ÷ placing seconds)", f"{measured['accepted_per_s']:,.1f} orders/s")
    rates.add("applied (first POST → last applied)", f"{measured['applied_per_s']:,.1f} orders/s")
    rates.add("applied while placing", f"{measured['applied_while_placing_per_s']:,.1f} orders/s")
    rates.add("placing", f"{measured['place_s']:.2f} s")
    rates.add("drain after the last POST", f"{measured['drain_s']:.2f} s")
    rates.add("orders applied / placed", f"{measured['applied']:,} / {measured['orders']:,}")
    rates.add("POST errors", measured["errors"])
    lag = measured["lag_ms"]
    rates.add(
        "201 → applied, ms (to the sampling's resolution)",
        f"p50 {lag['p50']:,.0f}, p95 {lag['p95']:,.0f}, p99 {lag['p99']:,.0f}",
    )
    result.tables.append(rates)
    by_process = cpu.table(
        {"applied": measured["orders"]},
        "applied: CPU seconds by process, first POST to last order applied, and ms per order",
    )
    if by_process is not None:
        result.tables.append(by_process)
        result.data["cpu_seconds"] = cpu.stages
    result.goals.append(
        Goal(
            "applied orders/s end to end (50 ms PSP)",
            f"≥ {GOAL_APPLIED_PER_S:,.0f}",
            f"{measured['applied_per_s']:,.1f}",
            measured["applied_per_s"] >= GOAL_APPLIED_PER_S
            and measured["applied"] == measured["orders"],
        )
    )
    result.data.update(measured)
    return result


def _measure(
    ctx: BenchContext,
    api_url: str,
    key: str,
    prefix: str,
    token: str,
    checkouts: int,
    clients: int,
    views: LiveViews,
    sample_s: float,
    deadline_s: float,
) -> dict[str, Any]:
    accepted_at: dict[str, float] = {}  # order id -> when its checkout's 201 came
    applied_at: dict[str, float] = {}
    lock = threading.Lock()
    placing_done = threading.Event()
    # urllib3, as the ingest load generator: the bench shares the deployment's two cores.
    client = client_pool(api_url, clients)
    authorization = f"Bearer {key}"

    def post(index: int) -> None:
        body = checkout_body(prefix, index, token)
        encoded = msgspec.json.encode(body)
        status = post_checkout(client, authorization, f"{prefix}-{index}", encoded)
        if status != 201:
            raise RuntimeError(f"POST /payments answered {status}")
        now = time.perf_counter()
        with lock:
            for line in body["payment_orders"]:
                accepted_at[line["payment_order_id"]] = now

    def sample() -> None:
        while True:
            with lock:
                waiting = [i for i in accepted_at if i not in applied_at]
            for start in range(0, len(waiting), CHUNK):
                chunk = waiting[start : start + CHUNK]
                done = views.ledger.orders_with_postings(chunk) & views.wallets.orders_credited(
                    chunk
                )
                now = time.perf_counter()
                with lock:
                    applied_at.update(dict.fromkeys(done, now))
            with lock:
                finished = placing_done.is_set() and len(applied_at) == len(accepted_at)
            if finished or time.perf_counter() > stop_at:
                return
            time.sleep(sample_s)

    started = time.perf_counter()
    stop_at = started + deadline_s
    sampler = threading.Thread(target=sample, name="applied-sampler", daemon=True)
    sampler.start()
    try:
        place_s, _, errors = timed_parallel(clients, checkouts, post, deadline_s=deadline_s)
    finally:
        client.close()
        placing_done.set()
    placed_at = started + place_s
    ctx.log(f"applied: placed {len(accepted_at):,} orders in {place_s:.1f} s")
    sampler.join(max(0.0, stop_at - time.perf_counter()) + 30)
    with lock:
        accepted = dict(accepted_at)
        applied = dict(applied_at)
    last = max(applied.values(), default=started)
    while_placing = sum(1 for t in applied.values() if t <= placed_at)
    return {
        "orders": checkouts * ORDERS_PER_CHECKOUT,
        "placed": len(accepted),
        "applied": len(applied),
        "errors": errors,
        "place_s": round(place_s, 2),
        "drain_s": round(max(0.0, last - placed_at), 2),
        "accepted_per_s": len(accepted) / place_s if place_s else 0.0,
        "applied_per_s": len(applied) / (last - started) if last > started else 0.0,
        "applied_while_placing_per_s": while_placing / place_s if place_s else 0.0,
        "lag_ms": percentiles_ms([applied[i] - accepted[i] for i in applied]),
    }
