"""Audit: as-of balance latency on an account with many postings, and verify speed (events/s).

    python -m payments.bench.audit --postings 100000 --verify-orders 20000

`run_audit_bench(postings)` returns the figures as a dict; `run(ctx)` is the scenario form for
`payments bench` (register it in bench/scenarios.py).

As-of: `postings` two-line pay-in transactions spread over a year are written straight into
the ledger's tables (the rows the ledger projection would write, without the hours of events
behind them), so `psp_receivable` holds `postings` entries and ten sellers share the credits.
Each as-of query is timed at random instants. Verify: a real history of `verify_orders`
orders made through the domain, projected, then verified (rebuild + diff of every view).
"""

from __future__ import annotations

import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from payments.bench.harness import scratch_services
from payments.bench.history import make_history
from payments.projections.audit import as_of
from payments.projections.audit.verify import verify_projection
from payments.projections.catalog import NAMES, live_view
from payments.projections.runner import ProjectionRunner
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services

if TYPE_CHECKING:
    from payments.bench.harness import BenchContext, ScenarioResult

YEAR_START = datetime(2025, 1, 1, tzinfo=UTC)
QUERIES = 30


def _write_postings(services: Services, postings: int) -> None:
    """`postings` pay-ins, one per minute-ish over a year, as the ledger projection stores them."""
    seconds = int(timedelta(days=365).total_seconds())
    with services.pool.connection() as conn, conn.transaction():
        conn.execute(
            """
            INSERT INTO ledger_transactions
            SELECT 't' || g, 'pay_in', 'po_' || g, 'USD',
                   %(start)s + (g::bigint * %(span)s / %(n)s) * interval '1 second', g
            FROM generate_series(1, %(n)s) g
            """,
            {"start": YEAR_START, "span": seconds, "n": postings},
        )
        conn.execute(
            """
            INSERT INTO ledger_entries
            SELECT t.transaction_id, l.line,
                   CASE l.line WHEN 1 THEN 'psp_receivable'
                        ELSE 'seller:seller_' || (t.position % 10) END,
                   'pay_in', t.payment_order_id, 'USD',
                   CASE l.line WHEN 1 THEN 100 + t.position % 900 ELSE 0 END,
                   CASE l.line WHEN 2 THEN 100 + t.position % 900 ELSE 0 END,
                   t.event_time, t.position
            FROM ledger_transactions t CROSS JOIN (VALUES (1), (2)) AS l(line)
            """
        )
        conn.execute("UPDATE ledger_tracking SET notification_id = %s", (postings,))
    with services.pool.connection() as conn:
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE ledger_transactions")
        conn.execute("VACUUM ANALYZE ledger_entries")
        conn.autocommit = False


def _timed(function: Any, *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - started) * 1000, result


def _latencies(services: Services, account: str, rng: random.Random) -> dict[str, float]:
    pool, app = services.pool, services.application
    times = []
    for _ in range(QUERIES):
        instant = YEAR_START + timedelta(seconds=rng.randint(0, 365 * 86400))
        elapsed, (balance, _) = _timed(as_of.account_as_of, pool, app, account, instant)
        times.append(elapsed)
        assert balance is None or balance.entry_count > 0
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
        "max_ms": round(times[-1], 2),
    }


def _wallet_latencies(services: Services, seller: str, rng: random.Random) -> dict[str, float]:
    times = []
    for _ in range(QUERIES):
        instant = YEAR_START + timedelta(seconds=rng.randint(0, 365 * 86400))
        elapsed, _ = _timed(
            as_of.wallet_as_of, services.pool, services.application, seller, instant
        )
        times.append(elapsed)
    times.sort()
    return {"p50_ms": round(statistics.median(times), 2), "max_ms": round(times[-1], 2)}


def measure_as_of(admin_url: str, postings: int, seed: int = 0) -> dict[str, Any]:
    with scratch_services(admin_url, "audit") as services:
        started = time.perf_counter()
        _write_postings(services, postings)
        setup = time.perf_counter() - started
        rng = random.Random(seed)
        end = YEAR_START + timedelta(days=366)
        trial_ms, (trial, _) = _timed(
            as_of.trial_balance_as_of, services.pool, services.application, end
        )
        assert trial.total_minor == 0
        return {
            "postings": postings,
            "setup_seconds": round(setup, 1),
            "account_psp_receivable": _latencies(services, "psp_receivable", rng),
            "account_seller": _latencies(services, "seller:seller_3", rng),
            "wallet_seller": _wallet_latencies(services, "seller_3", rng),
            "trial_balance_ms": round(trial_ms, 1),
        }


def measure_verify(admin_url: str, orders: int) -> dict[str, Any]:
    with scratch_services(admin_url, "audit") as services:
        make_history(services.application, orders)
        source = ApplicationEventSource(services.application)
        for name in NAMES:
            ProjectionRunner(live_view(services.pool, name), source, batch_size=2000).catch_up()
        events = source.head()
        per_projection = {}
        started = time.perf_counter()
        for name in NAMES:
            result = verify_projection(services.pool, source, name)
            assert result.identical, name
            per_projection[name] = {
                "seconds": round(result.seconds, 2),
                "events_per_second": round(result.events_per_second),
                "rows_compared": result.rows_compared,
            }
        seconds = time.perf_counter() - started
        return {
            "orders": orders,
            "events": events,
            "seconds": round(seconds, 2),
            "events_per_second": round(events * len(NAMES) / seconds),
            "projections": per_projection,
        }


def run_audit_bench(
    postings: int = 100_000, *, verify_orders: int = 10_000, admin_url: str | None = None
) -> dict[str, Any]:
    """As-of latency on an account with `postings` entries, and verify speed."""
    admin = admin_url or os.environ.get("PAYMENTS_DATABASE_URL")
    if not admin:
        raise click.UsageError("set PAYMENTS_DATABASE_URL (an admin URL) or pass admin_url")
    return {
        "as_of": measure_as_of(admin, postings),
        "verify": measure_verify(admin, verify_orders),
    }


def run(ctx: BenchContext) -> ScenarioResult:
    """`payments bench audit`: the scenario form of run_audit_bench."""
    from payments.bench.harness import Goal, ScenarioResult, Table

    postings = int(ctx.param("postings", 100_000, 2_000))
    orders = int(ctx.param("verify_orders", 10_000, 300))
    figures = run_audit_bench(postings, verify_orders=orders, admin_url=ctx.admin_url)
    latency = Table("as-of balance", ["account", "p50 ms", "p95 ms", "max ms"])
    for account in ("account_psp_receivable", "account_seller"):
        f = figures["as_of"][account]
        latency.add(account.removeprefix("account_"), f["p50_ms"], f["p95_ms"], f["max_ms"])
    verify = Table("verify", ["projection", "seconds", "events/s", "rows compared"])
    for name, f in figures["verify"]["projections"].items():
        verify.add(name, f["seconds"], f["events_per_second"], f["rows_compared"])
    worst = figures["as_of"]["account_psp_receivable"]["p95_ms"]
    return ScenarioResult(
        scenario="audit",
        params={"postings": postings, "verify_orders": orders},
        tables=[latency, verify],
        goals=[Goal("as-of balance p95", "< 1000 ms", f"{worst} ms", worst < 1000)],
        data=figures,
    )


@click.command()
@click.option("--postings", default=100_000, show_default=True)
@click.option("--verify-orders", default=10_000, show_default=True)
def main(postings: int, verify_orders: int) -> None:
    import json

    click.echo(json.dumps(run_audit_bench(postings, verify_orders=verify_orders), indent=2))


if __name__ == "__main__":
    main()
