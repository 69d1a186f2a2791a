"""Scenario `projections`: each projection's catch-up rate from event zero vs reading the raw log.

A history of about `orders` payment orders (bench/history.py: checkouts of 1-4 orders with
random outcomes, about 3.7 events per order, so the default 136,000 orders make ≈ 500,000
events) is written through the domain, not timed. The baseline is the raw rate of reading
the whole notification log with `recorder.select_notifications` in pages of `batch_size` (no
decoding, no writes). Then every projection is rebuilt from event zero with
projections/rebuild.py `rebuild` (scratch tables, then swapped in) at the same batch size;
its rate is the log's events divided by the rebuild's seconds (every event is scanned,
whether or not the projection's topics select it). Goal: ≥ 10,000 events/s per projection.
Last, every view caught up into scratch copies one after the other, then together
(catch_up_together: the log read and decoded once) with the views' batches applied one after
the other, then side by side in APPLY_THREADS threads (as verify and rebuild do), timed in
the same run.

The orders are marketplace orders (ADR 0014) with the `commission` (default 2.5%+0.30; `none`
for orders credited at once, as before it): held until released, and among the outcomes
captures released as settlement does and released captures partly refunded, so the ledger
and the wallets apply the pay-in, release and refund posting rules.
"""

from __future__ import annotations

import time

from psycopg_pool import ConnectionPool

from payments.bench.harness import BenchContext, Goal, ScenarioResult, Table, ratio
from payments.bench.history import make_history
from payments.domain.commission import Commission
from payments.projections.catalog import NAMES
from payments.projections.rebuild import drop_scratch, empty_scratch_view, rebuild
from payments.projections.runner import APPLY_THREADS, ProjectionRunner, catch_up_together
from payments.projections.source import ApplicationEventSource, EventSource
from payments.runtime.config import Settings
from payments.runtime.services import build_services

GOAL_EVENTS_PER_S = 10_000.0


def run(ctx: BenchContext) -> ScenarioResult:
    orders: int = ctx.param("orders", 136_000, 1_000)
    batch_size: int = ctx.param("batch_size", 2_000, 2_000)
    commission_text: str = ctx.param("commission", "2.5%+0.30", "2.5%+0.30")
    commission = None if commission_text == "none" else Commission.parse(commission_text, "USD")
    url = ctx.create_database("projections")
    services = build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url)
    try:
        started = time.perf_counter()
        history = make_history(services.application, orders, commission=commission)
        setup_s = time.perf_counter() - started
        recorder = services.application.recorder
        events = int(recorder.max_notification_id() or 0)
        ctx.log(f"history: {history.orders} orders, {events} events in {setup_s:.1f}s")

        started = time.perf_counter()
        start, read = 1, 0
        while start <= events:
            page = recorder.select_notifications(start, batch_size, stop=events)
            if not page:
                break
            read += len(page)
            start = page[-1].id + 1
        raw_s = time.perf_counter() - started
        raw_rate = read / raw_s if raw_s else 0.0
        ctx.log(f"raw log read: {read} events in {raw_s:.2f}s ({raw_rate:,.0f}/s)")

        source = ApplicationEventSource(services.application)
        rows: list[dict[str, float | int | str]] = []
        for name in NAMES:
            result = rebuild(services.pool, source, name, batch_size=batch_size)
            rate = events / result.seconds if result.seconds else 0.0
            rows.append(
                {
                    "projection": name,
                    "seconds": round(result.seconds, 2),
                    "applied": result.events_applied,
                    "rate": round(rate),
                }
            )
            ctx.log(f"rebuild {name}: {result.seconds:.2f}s, {rate:,.0f} log events/s")
        shared = {mode: _every_view(services.pool, source, batch_size, mode) for mode in MODES}
        ctx.log(
            "every view into scratch copies: "
            + ", ".join(f"{mode} {seconds:.2f}s" for mode, seconds in shared.items())
        )
    finally:
        services.close()

    table = Table(
        f"projections: catch-up from event zero, {events:,} events "
        f"({history.orders:,} orders), batch {batch_size}",
        [
            "projection",
            "seconds",
            "events applied",
            "log events/s",
            "raw log read events/s",
            "projection ÷ raw",
        ],
    )
    table.add("(raw select_notifications)", round(raw_s, 2), read, round(raw_rate), None, None)
    for row in rows:
        table.add(
            row["projection"],
            row["seconds"],
            row["applied"],
            row["rate"],
            round(raw_rate),
            ratio(float(row["rate"]), raw_rate),
        )
    for mode, seconds in shared.items():
        rate = events / seconds if seconds else 0.0
        table.add(f"(every view, {mode})", round(seconds, 2), None, round(rate), None, None)
    goals = [
        Goal(
            f"catch-up {row['projection']}",
            f"≥ {GOAL_EVENTS_PER_S:,.0f} events/s",
            f"{row['rate']:,} events/s",
            float(row["rate"]) >= GOAL_EVENTS_PER_S,
        )
        for row in rows
    ]
    return ScenarioResult(
        "projections",
        params={
            "orders": orders,
            "events": events,
            "batch_size": batch_size,
            "commission": commission_text,
        },
        tables=[table],
        goals=goals,
        notes=[
            f"history written in {setup_s:.1f}s (not timed in the rates)",
            "every view caught up into scratch copies together (one reading of the log) ÷ one "
            f"after the other: {ratio(shared['together'], shared['one after the other'])} "
            "of the time",
            f"the views' batches applied side by side in {APPLY_THREADS} threads ÷ one after the "
            f"other: {ratio(shared[MODES[2]], shared['together'])} of the time",
        ],
        data={
            "events": events,
            "orders": history.orders,
            "outcomes": history.outcomes,
            "setup_seconds": round(setup_s, 2),
            "raw_seconds": round(raw_s, 3),
            "raw_events_per_s": round(raw_rate),
            "projections": rows,
            "every_view_seconds": {mode: round(seconds, 3) for mode, seconds in shared.items()},
        },
    )


MODES = ("one after the other", "together", f"together, {APPLY_THREADS} threads")


def _every_view(pool: ConnectionPool, source: EventSource, batch_size: int, mode: str) -> float:
    """Seconds to catch every view up from event zero into fresh scratch copies, one view
    after the other or together (catch_up_together: the log read and decoded once), the
    views' batches applied one after the other or side by side in APPLY_THREADS threads."""
    runners = [
        ProjectionRunner(empty_scratch_view(pool, n, unlogged=True), source, batch_size=batch_size)
        for n in NAMES
    ]
    try:
        started = time.perf_counter()
        if mode.startswith("together"):
            catch_up_together(runners, threads=1 if mode == "together" else APPLY_THREADS)
        else:
            for runner in runners:
                runner.catch_up()
        return time.perf_counter() - started
    finally:
        for name in NAMES:
            drop_scratch(pool, name)
