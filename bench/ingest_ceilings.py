"""The ceilings the ingest scenario measures beside the API (bench/ingest.py): (a) the
same commands through PaymentsApplication.place_checkout on threads, no HTTP (the event
store's ceiling), (a+) the same while the views follow, as `payments serve` runs them beside
the API (the like-for-like ceiling of an API phase that runs serve), and (b) plain psycopg
inserts of the same rows (the database's ceiling).
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Callable
from typing import Any

import msgspec
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from payments.bench.cpu import per_item_ms
from payments.bench.harness import PAYMENTS, BenchContext, ChildProcess, child_env
from payments.bench.timing import throughput, timed_parallel
from payments.bench.workload import checkout_body, place_command
from payments.projections.catalog import projection_states
from payments.runtime.config import Settings
from payments.runtime.services import Services, build_services

# Each level's figures (see figures) by mode ("api", "app1", "app", "appv", "raw") and level.
Measured = dict[str, dict[int, dict[str, Any]]]

RAW_SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS bench_raw_checkouts (
        id uuid PRIMARY KEY, checkout_id text UNIQUE NOT NULL, state jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS bench_raw_orders (
        id uuid PRIMARY KEY, checkout_id text NOT NULL, seller_account text NOT NULL,
        amount_minor bigint NOT NULL, currency text NOT NULL, state jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
]


def figures(
    level: int | None,
    elapsed: float,
    latencies: list[float],
    errors: int,
    cpu_before: float | None = None,
) -> dict[str, Any]:
    """One level's figures: how many were done, at what rate, with what latencies, and
    (given this process's CPU seconds before) this process's CPU ms per item."""
    return {
        "clients": level,
        **throughput(elapsed, latencies, errors),
        "cpu_ms": per_item_ms(cpu_before, time.process_time(), len(latencies)),
    }


# --- (a) through the application, no HTTP ----------------------------------------------


def app_phase(
    ctx: BenchContext, levels: list[int], count: int, warmup: int, measured: Measured
) -> None:
    """Both with group commit (mode "app", the default) and without ("app1": each save in a
    transaction of its own, PAYMENTS_GROUP_COMMIT_MAX=1), each on a database of its own."""
    for mode, group in (("app1", "1"), ("app", "64")):
        database_url = ctx.create_database(f"ingest_{mode}")
        env = {"PAYMENTS_DATABASE_URL": database_url, "PAYMENTS_GROUP_COMMIT_MAX": group}
        services = build_services(Settings.from_env(env), database_url)
        try:
            application = services.application
            _run_threads(ctx, 4, warmup, "warm", application.place_checkout, None)
            for level in levels:
                measured.setdefault(mode, {})[level] = _run_threads(
                    ctx, level, count, f"{mode}{level}", application.place_checkout, level
                )
                rate = measured[mode][level]["rate"]
                ctx.log(f"{mode}: {level:>2} threads: {rate:.1f} checkouts/s")
        finally:
            services.close()


def app_with_views_phase(
    ctx: BenchContext, levels: list[int], count: int, warmup: int, measured: Measured
) -> None:
    """(a+), mode "appv": the (a) path, group commit, while `payments projections run` (the
    child process `payments serve` starts) follows its database and applies each checkout
    as it is saved. `payments serve` runs the views beside the API on the same cores, so
    this, not (a), is what its API phase is to be compared with (ADR 0018, amendment 14)."""
    database_url = ctx.create_database("ingest_appv")
    env = {"PAYMENTS_DATABASE_URL": database_url, "PAYMENTS_GROUP_COMMIT_MAX": "64"}
    services = build_services(Settings.from_env(env), database_url)
    views = ChildProcess(
        "payments projections run",
        [PAYMENTS, "projections", "run", "--wait"],
        child_env(PAYMENTS_DATABASE_URL=database_url, PAYMENTS_DATA_DIR=str(ctx.work_dir)),
        ctx.work_dir / "projections-appv.log",
    )
    try:
        _wait_for_views(services, views)
        application = services.application
        _run_threads(ctx, 4, warmup, "warm", application.place_checkout, None)
        for level in levels:
            measured.setdefault("appv", {})[level] = _run_threads(
                ctx, level, count, f"appv{level}", application.place_checkout, level
            )
            rate = measured["appv"][level]["rate"]
            ctx.log(f"appv: {level:>2} threads, views following: {rate:.1f} checkouts/s")
    finally:
        views.stop()
        services.close()


def _wait_for_views(services: Services, views: ChildProcess, timeout_s: float = 60.0) -> None:
    """Until every view runs (its runner holds its lock), as `payments projections status`
    reads it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if views.popen.poll() is not None:
            raise RuntimeError(f"{views.name} exited: {views.tail()}")
        states = projection_states(services.application, services.pool)
        if all(state.state == "running" for state in states):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{views.name} did not start its views within {timeout_s}s: {views.tail()}")


def _run_threads(
    ctx: BenchContext,
    workers: int,
    count: int,
    tag: str,
    call: Callable[[Any], object],
    level: int | None,
) -> dict[str, Any]:
    prefix = f"{tag}{uuid.uuid4().hex[:8]}"
    commands = [place_command(prefix, i) for i in range(count)]
    cpu_before = time.process_time()
    elapsed, latencies, errors = timed_parallel(
        workers, count, lambda i: call(commands[i]), deadline_s=600
    )
    return figures(level, elapsed, latencies, errors, cpu_before)


# --- (b) plain psycopg inserts ------------------------------------------------------------


def raw_phase(
    ctx: BenchContext, levels: list[int], count: int, warmup: int, measured: Measured
) -> None:
    database_url = ctx.create_database("ingest_raw")
    pool = ConnectionPool(
        database_url, min_size=max(levels), max_size=max(levels), open=True, name="bench-raw"
    )
    try:
        pool.wait(timeout=30)
        with pool.connection() as conn:
            for statement in RAW_SCHEMA:
                conn.execute(statement.encode())

        def insert(body: dict[str, Any]) -> None:
            with pool.connection() as conn, conn.transaction():
                conn.execute(
                    "INSERT INTO bench_raw_checkouts (id, checkout_id, state) VALUES (%s, %s, %s)",
                    (uuid.uuid4(), body["checkout_id"], Jsonb(body)),
                )
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO bench_raw_orders (id, checkout_id, seller_account,"
                        " amount_minor, currency, state) VALUES (%s, %s, %s, %s, %s, %s)",
                        [
                            (
                                uuid.uuid4(),
                                body["checkout_id"],
                                order["seller_account"],
                                int(order["amount"].replace(".", "")),
                                order["currency"],
                                Jsonb(order),
                            )
                            for order in body["payment_orders"]
                        ],
                    )

        def bodies(prefix: str, n: int) -> list[dict[str, Any]]:
            # Decoded from JSON as a server would, so the rows carry the same content.
            encoded = (msgspec.json.encode(checkout_body(prefix, i)) for i in range(n))
            return [msgspec.json.decode(raw) for raw in encoded]

        warm = bodies("rwarm", warmup)
        timed_parallel(4, warmup, lambda i: insert(warm[i]), deadline_s=600)
        for level in levels:
            work = bodies(f"r{level}{uuid.uuid4().hex[:6]}", count)
            cpu_before = time.process_time()
            elapsed, latencies, errors = timed_parallel(
                level, count, functools.partial(_insert_nth, insert, work), deadline_s=600
            )
            measured["raw"][level] = figures(level, elapsed, latencies, errors, cpu_before)
            ctx.log(f"raw: {level:>2} threads: {measured['raw'][level]['rate']:.1f} checkouts/s")
    finally:
        pool.close()


def _insert_nth(
    insert: Callable[[dict[str, Any]], None], work: list[dict[str, Any]], index: int
) -> None:
    insert(work[index])
