"""Scenario `day`: a compressed day of payments, faults included, then the day's books closed.

Stages, each timed:
1. start the sandbox PSP (`python -m payments.psp.sandbox`, webhooks to our API) and `payments api`
   (the HTTP API alone) as child processes on fresh state;
2. `place`: N orders (3 per checkout) POSTed to /payments by 8 client threads, with a mix of
   test cards: mostly 4242..., some declined (…0002), insufficient funds (…9995), processing
   errors (…0119, fails twice then succeeds) and pending (…3220, settles after 1 s by webhook
   or by the executor's re-query);
3. `faults`: injected at the sandbox as counted rules: `pct_503` % of charge calls answer 503,
   `pct_charged_500` % are charged but answer 500, `pct_drop_webhook` % of webhooks dropped;
4. `execute`: the executor built as `payments worker` builds it (runtime.roles.build_executor)
   runs until every order is terminal (SUCCESS/FAILED) or dead-lettered;
5. `projections`: every view caught up to the head of the log;
6. `settlement`: GET /v1/settlements/{today}.csv from the sandbox;
7. `reconcile`: Reconciler.reconcile_path on that file (auto-fixes included), then
   the views caught up again;
8. `checks`: the invariants: every order terminal or dead-lettered; one charge per order at
   the PSP (the sandbox's store, one query); ledger trial balance zero; no open
   reconciliation exception other than awaiting-settlement;
9. `verify`: every view rebuilt from event zero and diffed with the live one (identical);
   then the peak memory of each process and the database's size.
Every stage is O(n) in round trips of at most a thousand orders (bench/day_checks.py).
`-o workers=N` executes with N `payments worker` processes instead; `-o overlap=1` injects
the faults first and runs the workers and `payments projections run` while the orders arrive
(bench/day_roles.py).
Counted fault rules hit the first calls after they are added, so the faults come in a burst
at the start of `execute`, not spread over the day.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec

from payments.bench.cpu import child_pids
from payments.bench.day_checks import (
    database_facts,
    own_peak_rss_mib,
    peak_rss_mib,
    verify_views,
)
from payments.bench.day_report import check_invariants, day_result
from payments.bench.day_roles import deployed_roles, drain, unsettled, views_at_head
from payments.bench.deployment import start_deployment
from payments.bench.harness import BenchContext, ScenarioResult, sandbox_token
from payments.bench.loadgen import client_pool, post_checkout
from payments.bench.stage_cpu import StageCpu
from payments.bench.timing import timed_parallel
from payments.bench.workload import ORDERS_PER_CHECKOUT, checkout_body
from payments.projections.catalog import NAMES, live_view
from payments.projections.reconciliation.report import summary
from payments.projections.runner import APPLY_THREADS, ProjectionRunner, catch_up_together
from payments.projections.source import ApplicationEventSource
from payments.runtime.config import EXECUTOR_BATCH_SIZE, EXECUTOR_CONCURRENCY, Settings
from payments.runtime.roles import build_executor
from payments.runtime.services import Services, build_services

SECRET = "whsec_bench_day"  # a benchmark's sandbox secret, not a credential
# test card -> share of checkouts (percent) when not overridden
CARD_MIX = {
    "declined": ("4000000000000002", "pct_declined", 2.0),
    "insufficient_funds": ("4000000000009995", "pct_insufficient", 1.0),
    "processing_error": ("4000000000000119", "pct_processing_error", 2.0),
    "pending": ("4000000000003220", "pct_pending", 3.0),
}


def run(ctx: BenchContext) -> ScenarioResult:
    orders: int = ctx.param("orders", 5_000, 201)
    clients: int = ctx.param("clients", 8, 4)
    concurrency: int = ctx.param("concurrency", EXECUTOR_CONCURRENCY, 16)
    batch: int = ctx.param("batch", EXECUTOR_BATCH_SIZE, 32)
    pct_503: float = ctx.param("pct_503", 3.0, 3.0)
    pct_charged_500: float = ctx.param("pct_charged_500", 2.0, 2.0)
    pct_drop_webhook: float = ctx.param("pct_drop_webhook", 5.0, 5.0)
    deadline_s: float = ctx.param("deadline_s", 1800.0, 120.0)
    api_processes: int = ctx.param("api_processes", 1, 1)  # PAYMENTS_API_PROCESSES (ADR 0020)
    # workers: `payments worker` processes execute (0: the executor in this process);
    # overlap: they and `payments projections run` work while the orders arrive
    workers: int = ctx.param("workers", 0, 0)
    overlap: bool = ctx.param("overlap", False, False)
    if overlap:
        workers = max(workers, 1)
    mix = {
        name: (card, float(ctx.param(key, pct, pct))) for name, (card, key, pct) in CARD_MIX.items()
    }
    checkouts = -(-orders // ORDERS_PER_CHECKOUT)
    stages: dict[str, float] = {}
    facts: dict[str, Any] = {}
    cpu = StageCpu()

    def record(name: str, started: float) -> None:
        stages[name] = round(time.perf_counter() - started, 2)
        ctx.log(f"day: {name} {stages[name]:.2f}s")

    @contextlib.contextmanager
    def stage(name: str) -> Iterator[None]:
        started = time.perf_counter()
        with cpu.stage(name):
            yield
        record(name, started)

    started = time.perf_counter()
    database_url = ctx.create_database("day")
    deployment = start_deployment(
        ctx.work_dir,
        database_url,
        SECRET,
        api_processes=api_processes,
        sandbox_options=(
            *("--pending-delay", "1.0", "--webhook-retry-base", "0.5"),
            *("--webhook-retry-cap", "2"),
        ),
    )
    sandbox, api = deployment.sandbox, deployment.api
    psp_url, api_url = deployment.psp_url, deployment.api_url
    worker_env = {
        **deployment.env,
        "PAYMENTS_EXECUTOR_CONCURRENCY": str(concurrency),
        "PAYMENTS_EXECUTOR_BATCH_SIZE": str(batch),
        "PAYMENTS_EXECUTOR_BACKOFF_BASE_S": "0.2",
        "PAYMENTS_EXECUTOR_BACKOFF_CAP_S": "2",
        "PAYMENTS_REQUERY_DELAYS_S": "1,2,4",
        "PAYMENTS_PSP_TIMEOUT_S": "10",
    }
    services: Services | None = None
    try:
        services = build_services(Settings.from_env(worker_env), database_url)
        ctx.log(f"day: sandbox {psp_url} (pid {sandbox.pid}), api {api_url} (pid {api.pid})")
        cpu.roles.update({"psp sandbox": sandbox.pid, "payments api": api.pid})
        record("start", started)

        cards = _checkout_cards(psp_url, checkouts, mix)
        prefix = f"day{uuid.uuid4().hex[:6]}"
        key = deployment.merchant_key()
        order_ids = [
            f"{prefix}_{i}_{n}" for i in range(checkouts) for n in range(ORDERS_PER_CHECKOUT)
        ]
        source = ApplicationEventSource(services.application)

        def place() -> None:
            with stage("place"):
                facts["place"] = _place(api_url, key, prefix, cards, clients, deadline_s)

        def faults() -> None:
            with stage("faults"):
                facts["faults"] = _inject_faults(
                    psp_url, len(order_ids), pct_503, pct_charged_500, pct_drop_webhook
                )

        if overlap:
            faults()
            roles = deployed_roles(ctx, worker_env, workers, projections=True)
            cpu.roles.update(roles.pids())
            try:
                place()
                with stage("execute"):
                    facts["execute"] = drain(ctx, services, order_ids, roles, deadline_s)
                started = time.perf_counter()
                facts["projected_events"] = views_at_head(services, roles, deadline_s)
            finally:
                peak_roles = roles.stop()
            facts["projected_events"] += _catch_up(services, source)
            record("projections", started)
        else:
            place()
            faults()
            workers_roles = None
            try:
                with stage("execute"):
                    if workers:
                        workers_roles = deployed_roles(ctx, worker_env, workers, projections=False)
                        cpu.roles.update(workers_roles.pids())
                        facts["execute"] = drain(
                            ctx, services, order_ids, workers_roles, deadline_s
                        )
                    else:
                        facts["execute"] = _execute(ctx, services, order_ids, deadline_s)
            finally:  # stopped after the stage: their CPU counts in it
                peak_roles = workers_roles.stop() if workers_roles is not None else {}
            with stage("projections"):
                facts["projected_events"] = _catch_up(services, source)

        with stage("settlement"):
            today = datetime.now(UTC).date()
            path = ctx.work_dir / f"settlement-{today.isoformat()}.csv"
            with httpx.stream(
                "GET", f"{psp_url}/v1/settlements/{today.isoformat()}.csv", timeout=120
            ) as answer:
                answer.raise_for_status()
                with path.open("wb") as out:
                    for block in answer.iter_bytes(1 << 20):
                        out.write(block)
            facts["settlement_lines"] = max(0, sum(1 for _ in path.open()) - 1)

        with stage("reconcile"):
            outcome = services.reconciler.reconcile_path(path)
            report = summary(outcome.run)
            _catch_up(services, source)  # the auto-fixes' events

        with stage("checks"):
            facts["checks"] = check_invariants(services, sandbox.db_path, order_ids, report)

        with stage("verify"):
            facts["verify"] = verify_views(services, source)
        peak = {
            "bench (executor, reconciliation, checks)": own_peak_rss_mib(),
            "payments api": peak_rss_mib(api.pid),
            "psp sandbox": peak_rss_mib(sandbox.pid),
            **peak_roles,
        }
        for n, pid in enumerate(child_pids(api.pid) if api_processes > 1 else [], 1):
            peak[f"payments api: API process {n}"] = peak_rss_mib(pid)
        facts["cost"] = {"peak_rss_mib": peak, **database_facts(services.pool)}
    finally:
        if services is not None:
            services.close()
        deployment.stop()

    facts["shape"] = {"overlap": overlap, "workers": workers, "api_processes": api_processes}
    return day_result(orders, len(order_ids), stages, facts, concurrency, batch, mix, report, cpu)


def _checkout_cards(
    psp_url: str, checkouts: int, mix: dict[str, tuple[str, float]]
) -> list[tuple[str, str]]:
    """(card kind, token) per checkout: each kind's share spread evenly over the day."""
    tokens = {"good": sandbox_token(psp_url)}
    tokens.update({name: sandbox_token(psp_url, card) for name, (card, _) in mix.items()})
    kinds = ["good"] * checkouts
    for slot, (name, (_, pct)) in enumerate(mix.items()):
        count = round(checkouts * pct / 100)
        for n in range(count):
            index = (slot + n * max(1, checkouts // max(1, count))) % checkouts
            while kinds[index] != "good" and "good" in kinds:
                index = (index + 1) % checkouts
            kinds[index] = name
    return [(kind, tokens[kind]) for kind in kinds]


def _place(
    api_url: str,
    key: str,
    prefix: str,
    cards: list[tuple[str, str]],
    clients: int,
    deadline_s: float,
) -> dict[str, Any]:
    """POST every checkout; raise unless all of them were created (the later stages wait for
    every order, so a day with an order missing could only end at the execute deadline)."""
    client = client_pool(api_url, clients)  # urllib3: the bench shares the day's two cores
    authorization = f"Bearer {key}"
    refused: list[int] = []

    def post(index: int) -> None:
        body = msgspec.json.encode(checkout_body(prefix, index, cards[index][1]))
        status = post_checkout(client, authorization, f"{prefix}-{index}", body)
        if status != 201:
            refused.append(status)
            raise RuntimeError(f"POST /payments answered {status}")

    try:
        elapsed, latencies, errors = timed_parallel(
            clients, len(cards), post, deadline_s=deadline_s
        )
    finally:
        client.close()
    if len(latencies) < len(cards):
        raise RuntimeError(
            f"day: place stage created {len(latencies):,} of {len(cards):,} checkouts in "
            f"{elapsed:,.0f} s ({errors} refused, statuses {sorted(set(refused))}; "
            f"deadline_s={deadline_s:,.0f}): the day stops here"
        )
    kinds: dict[str, int] = {}
    for kind, _ in cards:
        kinds[kind] = kinds.get(kind, 0) + ORDERS_PER_CHECKOUT
    return {
        "checkouts": len(cards),
        "seconds": round(elapsed, 2),
        "errors": errors,
        "refused_statuses": sorted(set(refused)),
        "orders_by_card": kinds,
    }


def _inject_faults(
    psp_url: str, orders: int, pct_503: float, pct_charged_500: float, pct_drop: float
) -> dict[str, int]:
    counts = {
        "status_503": round(orders * pct_503 / 100),
        "charged_but_500": round(orders * pct_charged_500 / 100),
        "drop_webhook": round(orders * pct_drop / 100),
    }
    rules: list[dict[str, Any]] = []
    if counts["status_503"]:
        rules.append(
            {"kind": "status", "status": 503, "endpoint": "charges", "count": counts["status_503"]}
        )
    if counts["charged_but_500"]:
        rules.append(
            {"kind": "charged_but_500", "endpoint": "charges", "count": counts["charged_but_500"]}
        )
    if counts["drop_webhook"]:
        rules.append({"kind": "drop_webhook", "count": counts["drop_webhook"]})
    httpx.delete(f"{psp_url}/admin/faults", timeout=10).raise_for_status()
    if rules:
        httpx.post(f"{psp_url}/admin/faults", json=rules, timeout=10).raise_for_status()
    return counts


def _execute(
    ctx: BenchContext, services: Services, order_ids: list[str], deadline_s: float
) -> dict[str, Any]:
    executor = build_executor(services)
    started = time.perf_counter()
    stop_at = started + deadline_s
    left = list(order_ids)
    rounds = 0
    try:
        while left and time.perf_counter() < stop_at:
            executor.run_until_idle()
            rounds += 1
            due, total = services.queue.depth()
            if due == 0 and total > 0:
                time.sleep(0.2)  # retries and re-queries with a future due time
                continue
            if total == 0 or rounds % 10 == 0:
                left = unsettled(services, left)
                if left:
                    time.sleep(0.2)  # pending charges: the webhook or the re-query is coming
    finally:
        executor.close()
    seconds = time.perf_counter() - started
    left = unsettled(services, left)
    if left:
        ctx.log(f"day: {len(left)} orders still open at the deadline")
    return {"seconds": round(seconds, 2), "open_at_deadline": len(left), "rounds": rounds}


def _catch_up(services: Services, source: ApplicationEventSource) -> int:
    """Every view to the head of the log, from one reading of it (catch_up_together)."""
    views = [live_view(services.pool, name) for name in NAMES]
    runners = [ProjectionRunner(view, source, batch_size=2000) for view in views]
    return sum(catch_up_together(runners, threads=APPLY_THREADS))
