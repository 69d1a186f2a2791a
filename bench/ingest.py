"""Scenario `ingest`: POST /payments against `payments serve`, with its two ceilings beside it.

Modes, each on a fresh database of its own, at every client level:
  api     HTTP through `payments serve --no-sandbox` (a child process), load from another
          process (bench.loadgen, urllib3 on threads; its own CPU is reported beside the
          server's), with a per-key rate limit no run reaches (the limiter is not measured);
  app     (a) the same commands through PaymentsApplication.place_checkout on threads, no HTTP:
          the event-store ceiling;
  appv    (a+) the same while `payments projections run` follows, as `payments serve` runs the
          views beside the API (with `-o server=serve`, the default): the like-for-like
          ceiling of the API phase;
  raw     (b) plain psycopg: 1 checkout row + 3 order rows per transaction into scratch tables:
          the database ceiling.
Then an open-loop phase at a constant rate (120 checkouts/s) for the latency goal, and a
read-after-write phase: each POST followed at once by GET /payments/{id} and
GET /checkouts/{id} without min_position (ADR 0011: what reading your own write costs).
"""

from __future__ import annotations

import json
import sys
import uuid
from typing import Any

from payments.bench.cpu import per_item_ms, tree_cpu_seconds
from payments.bench.harness import (
    BENCH_RATE_LIMIT,
    PAYMENTS,
    BenchContext,
    ChildProcess,
    Goal,
    ScenarioResult,
    Table,
    child_env,
    create_key,
    free_port,
    ratio,
)
from payments.bench.ingest_ceilings import Measured, app_phase, app_with_views_phase, raw_phase
from payments.bench.timing import percentiles_ms
from payments.bench.workload import ORDERS_PER_CHECKOUT

RATIO_GOAL = 0.6
P99_GOAL_MS = 50.0


def run(ctx: BenchContext) -> ScenarioResult:
    # --quick measures the two levels the goals name, briefly: the whole --quick run of
    # every scenario is to stay under a minute.
    levels: list[int] = ctx.param("levels", [1, 4, 16], [1, 16])
    count: int = ctx.param("count", 3000, 200)
    warmup: int = ctx.param("warmup", 100, 20)
    rate: float = ctx.param("open_rate", 120.0, 120.0)
    open_seconds: float = ctx.param("open_seconds", 20.0, 2.0)
    log_level: str = ctx.param("server_log_level", "INFO", "INFO")
    # "serve": `payments serve --no-sandbox` (API + projections + scheduler in one process);
    # "api": `payments api` (the HTTP API alone, as production runs one process per role).
    server_command: str = ctx.param("server", "serve", "serve")
    # PAYMENTS_API_PROCESSES of the server: HTTP processes sharing its port (ADR 0020).
    processes: int = ctx.param("api_processes", 1, 1)
    rw_clients: int = ctx.param("rw_clients", 4, 4)
    rw_count: int = ctx.param("rw_count", 1000, 100)
    result = ScenarioResult(
        "ingest",
        params={
            "levels": levels,
            "count_per_level": count,
            "warmup": warmup,
            "orders_per_checkout": ORDERS_PER_CHECKOUT,
            "open_rate_per_s": rate,
            "open_seconds": open_seconds,
            "server_log_level": log_level,
            "server": server_command,
            "api_processes": processes,
            "rw_clients": rw_clients,
            "rw_count": rw_count,
        },
    )
    measured: Measured = {"api": {}, "app1": {}, "app": {}, "appv": {}, "raw": {}}

    open_phase, read_phase = _api_phase(
        ctx,
        levels,
        count,
        warmup,
        (rate, open_seconds),
        (rw_clients, rw_count),
        log_level,
        (server_command, processes),
        measured,
    )
    app_phase(ctx, levels, count, warmup, measured)
    views_follow = server_command == "serve"  # `payments api` runs no views beside it
    if views_follow:
        app_with_views_phase(ctx, levels, count, warmup, measured)
    raw_phase(ctx, levels, count, warmup, measured)

    throughput = Table(
        f"ingest: {count} checkouts x {ORDERS_PER_CHECKOUT} orders per level (closed loop)",
        [
            "mode",
            "clients",
            "checkouts",
            "seconds",
            "checkouts/s",
            "orders/s",
            "p50 ms",
            "p95 ms",
            "p99 ms",
            "errors",
            "CPU ms/checkout",
            "client CPU ms",
        ],
    )
    labels = {
        "api": "API (HTTP)",
        "app1": "(a1) app, no HTTP, a transaction per save",
        "app": "(a) app, no HTTP, group commit",
        "appv": "(a+) app, views following",
        "raw": "(b) raw psycopg",
    }
    for mode, label in labels.items():
        if not measured[mode]:
            continue
        for level in levels:
            m = measured[mode][level]
            throughput.add(
                label,
                level,
                m["done"],
                round(m["seconds"], 2),
                round(m["rate"], 1),
                round(m["rate"] * ORDERS_PER_CHECKOUT, 1),
                m["p50"],
                m["p95"],
                m["p99"],
                m["errors"],
                m["cpu_ms"] if m.get("cpu_ms") is not None else "-",
                m["client_cpu_ms"] if m.get("client_cpu_ms") is not None else "-",
            )
    ratios = Table(
        "ingest: ratios (checkouts/s)",
        [
            "clients",
            "API",
            "(a1) app",
            "(a) app",
            "(a+) app, views",
            "(b) raw",
            "API ÷ (a)",
            "API ÷ (a+)",
            "(a1) ÷ (b)",
            "(a) ÷ (b)",
        ],
    )
    for level in levels:
        api, app1, app, raw = (measured[m][level]["rate"] for m in ("api", "app1", "app", "raw"))
        appv = measured["appv"][level]["rate"] if views_follow else None
        ratios.add(
            level,
            round(api, 1),
            round(app1, 1),
            round(app, 1),
            round(appv, 1) if appv is not None else "-",
            round(raw, 1),
            ratio(api, app),
            ratio(api, appv) if appv is not None else "-",
            ratio(app1, raw),
            ratio(app, raw),
        )
    latency = Table(
        f"ingest: open loop at {rate:g} checkouts/s for {open_seconds:g} s (API)",
        ["target/s", "achieved/s", "sent", "201s", "p50 ms", "p95 ms", "p99 ms", "max ms", "other"],
    )
    latency.add(
        rate,
        round(open_phase["achieved"], 1),
        open_phase["sent"],
        open_phase["ok"],
        open_phase["p50"],
        open_phase["p95"],
        open_phase["p99"],
        open_phase["max"],
        json.dumps(open_phase["other"]) if open_phase["other"] else "-",
    )
    reads = Table(
        f"ingest: read after write, {rw_clients} clients (POST, then GET order and checkout)",
        [
            "pairs/s",
            "POST p50 ms",
            "POST p99 ms",
            "GET p50 ms",
            "GET p99 ms",
            "GET 200",
            "GET 404",
            "GET other",
            "from event store",
        ],
    )
    reads.add(
        round(read_phase["pairs_per_s"], 1),
        read_phase["post"]["p50"],
        read_phase["post"]["p99"],
        read_phase["get"]["p50"],
        read_phase["get"]["p99"],
        read_phase["statuses"].get("200", 0),
        read_phase["statuses"].get("404", 0),
        json.dumps(read_phase["other"]) if read_phase["other"] else "-",
        read_phase["fallbacks"] if read_phase["fallbacks"] is not None else "-",
    )
    result.tables += [throughput, ratios, latency, reads]

    top = max(levels)
    top_ratio = ratio(measured["api"][top]["rate"], measured["app"][top]["rate"]) or 0.0
    result.goals.append(
        Goal(
            f"API ÷ (a) at {top} clients",
            f"≥ {RATIO_GOAL}",
            f"{top_ratio:.3f}",
            top_ratio >= RATIO_GOAL,
        )
    )
    if views_follow:  # the same goal, the API phase compared with what it runs beside
        like_ratio = ratio(measured["api"][top]["rate"], measured["appv"][top]["rate"]) or 0.0
        result.goals.append(
            Goal(
                f"API ÷ (a+) at {top} clients (views following both)",
                f"≥ {RATIO_GOAL}",
                f"{like_ratio:.3f}",
                like_ratio >= RATIO_GOAL,
            )
        )
    p99_ok = open_phase["p99"] <= P99_GOAL_MS and open_phase["ok"] == open_phase["sent"]
    result.goals.append(
        Goal(
            f"p99 at a steady {rate:g} checkouts/s",
            f"≤ {P99_GOAL_MS:g} ms",
            f"{open_phase['p99']:.1f} ms",
            p99_ok,
        )
    )
    result.goals.append(
        Goal(
            "reads right after a 201 that answer 404",
            "0",
            str(read_phase["statuses"].get("404", 0)),
            read_phase["statuses"].get("404", 0) == 0,
        )
    )
    result.data = {"measured": measured, "open_loop": open_phase, "read_after_write": read_phase}
    return result


# --- API over HTTP -------------------------------------------------------------------


def _api_phase(
    ctx: BenchContext,
    levels: list[int],
    count: int,
    warmup: int,
    open_loop: tuple[float, float],
    read_after_write: tuple[int, int],
    log_level: str,
    launch: tuple[str, int],
    measured: Measured,
) -> tuple[dict[str, Any], dict[str, Any]]:
    rate, open_seconds = open_loop
    server_command, processes = launch
    database_url = ctx.create_database("ingest_api")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = ["serve", "--no-sandbox", "--port", str(port)] if server_command == "serve" else ["api"]
    env = child_env(
        PAYMENTS_DATABASE_URL=database_url,
        PAYMENTS_DATA_DIR=str(ctx.work_dir / "api-data"),
        PAYMENTS_LOG_LEVEL=log_level,
        PAYMENTS_PORT=str(port),
        PAYMENTS_HOST="127.0.0.1",
        PAYMENTS_API_PROCESSES=str(processes),
        PAYMENTS_RATE_LIMIT_PER_KEY=BENCH_RATE_LIMIT,
    )
    server = ChildProcess(
        f"payments {server_command}", [PAYMENTS, *args], env, ctx.work_dir / "payments-server.log"
    )
    try:
        server.wait_http(f"{url}/health")
        key = create_key(env, "admin")  # every request authenticates, as in production
        ctx.log(f"api: payments {server_command} on {url} (pid {server.pid}); warming up")
        _loadgen(ctx, {"url": url, "key": key, "mode": "closed", "clients": 4, "count": warmup})
        for level in levels:
            spec = {"url": url, "key": key, "mode": "closed", "clients": level, "count": count}
            cpu_before = tree_cpu_seconds(server.pid)
            answer = _loadgen(ctx, spec)
            measured["api"][level] = _summary(answer, level)
            measured["api"][level]["cpu_ms"] = per_item_ms(
                cpu_before, tree_cpu_seconds(server.pid), measured["api"][level]["done"]
            )
            ctx.log(f"api: {level:>2} clients: {measured['api'][level]['rate']:.1f} checkouts/s")
        answer = _loadgen(
            ctx,
            {
                "url": url,
                "key": key,
                "mode": "open",
                "rate": rate,
                "seconds": open_seconds,
                "max_in_flight": 256,
                "deadline_s": open_seconds + 60,
            },
        )
        ok = answer["statuses"].get("201", 0)
        sent = sum(answer["statuses"].values())
        other = {k: v for k, v in answer["statuses"].items() if k != "201"}
        open_phase = {
            "achieved": ok / answer["elapsed_s"] if answer["elapsed_s"] else 0.0,
            "sent": sent,
            "ok": ok,
            "other": other,
            **percentiles_ms(answer["latencies_s"]),
        }
        ctx.log(f"api: open loop p99 {open_phase['p99']} ms")
        read_phase = _read_after_write(ctx, url, key, *read_after_write)
    finally:
        server.stop()
    return open_phase, read_phase


def _read_after_write(
    ctx: BenchContext, url: str, key: str, clients: int, count: int
) -> dict[str, Any]:
    """POST then GET at once, without min_position: 404s and the reads' cost (ADR 0011)."""
    before = _fallback_count(url, key)
    spec = {"url": url, "key": key, "mode": "read_after_write", "clients": clients, "count": count}
    answer = _loadgen(ctx, spec)
    after = _fallback_count(url, key)
    statuses: dict[str, int] = answer["read_statuses"]
    pairs = answer["statuses"].get("201", 0)
    phase = {
        "pairs_per_s": pairs / answer["elapsed_s"] if answer["elapsed_s"] else 0.0,
        "post": percentiles_ms(answer["latencies_s"]),
        "get": percentiles_ms(answer["read_latencies_s"]),
        "statuses": statuses,
        "other": {k: v for k, v in statuses.items() if k not in ("200", "404")},
        "fallbacks": None if before is None or after is None else after - before,
    }
    ctx.log(f"api: read after write: GET statuses {statuses}, {phase['fallbacks']} from events")
    return phase


def _fallback_count(url: str, key: str) -> int | None:
    """payments_read_fallbacks_total from /metrics (None when the server has no such counter)."""
    import httpx

    text = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=10).text
    values = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("payments_read_fallbacks_total")
    ]
    return int(sum(values)) if values else None


def _loadgen(ctx: BenchContext, spec: dict[str, Any]) -> dict[str, Any]:
    """Run bench.loadgen in a new Python process and return its JSON answer."""
    import subprocess

    spec = {"prefix": f"co{uuid.uuid4().hex[:10]}", "start": 0, "deadline_s": 600, **spec}
    out = ctx.work_dir / f"loadgen-{uuid.uuid4().hex[:8]}.json"
    subprocess.run(
        [sys.executable, "-m", "payments.bench.loadgen", json.dumps(spec), str(out)],
        check=True,
        timeout=float(spec["deadline_s"]) + 120,
    )
    answer: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return answer


def _summary(answer: dict[str, Any], level: int) -> dict[str, Any]:
    ok = answer["statuses"].get("201", 0)
    return {
        "clients": level,
        "done": ok,
        "seconds": answer["elapsed_s"],
        "rate": ok / answer["elapsed_s"] if answer["elapsed_s"] else 0.0,
        "errors": sum(answer["statuses"].values()) - ok,
        "statuses": answer["statuses"],
        "client_cpu_ms": round(1000 * answer["cpu_s"] / ok, 3) if ok else None,
        **percentiles_ms(answer["latencies_s"]),
    }
