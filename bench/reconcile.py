"""reconcile: a settlement file of N lines against the matching history (seconds, peak RSS).

`run_reconcile_bench(lines)` writes N-1 succeeded orders straight through the application in
large saves, writes the day's Adyen settlement file for them (plus a few planted exceptions
and the batch's MerchantPayout line), then reconciles it in a child process so that the
peak RSS measured is the reconciliation's alone. It also times the expected side's replay
both ways (msgspec on the stored JSON, and the application's mapper) to justify the first.
Goal: 1M lines in < 60 s and < 1 GiB.

Settlement release (ADR 0014): the orders are marketplace orders by default (the commission
taken, the seller's share held until the PSP settles it); after the reconciliation the
release is timed against its baselines (bench/release.py), and the wallets' available
balances are checked against the orders' seller nets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from payments.bench.harness import (
    BenchContext,
    Goal,
    ScenarioResult,
    Table,
    create_database,
    drop_database,
)
from payments.bench.reconcile_reads import measure_reads, reads_table
from payments.bench.release import measure_release, release_table
from payments.domain.application import CheckoutPolicy, PaymentsApplication
from payments.domain.commission import Commission
from payments.domain.payment_order import PaymentOrder
from payments.psp.settlement import SettlementLine, write_settlement_csv
from payments.runtime.config import Settings
from payments.runtime.database import eventsourcing_env
from payments.runtime.services import Services, build_services

ORDERS_PER_SAVE = 500  # bounded saves (2,000 once stalled the pipelined insert; no longer)
PLANTED_EXCEPTIONS = 10  # lines for orders we never took: "missing internally"
GOAL_SECONDS_1M = 60.0
GOAL_RSS_MIB_1M = 1024.0
SELLERS = 50
DEFAULT_COMMISSION = "2.5%+0.30"


def _amount(index: int) -> int:
    return 100 + (index * 7919) % 100_000


def _fee(amount: int) -> int:
    return (amount * 290 + 5_000) // 10_000 + 30


def write_history(
    app: PaymentsApplication, orders: int, prefix: str, commission: Commission | None = None
) -> int:
    """N orders, each Created, ExecutionStarted and Succeeded: three events, saved in bulk.

    With a `commission` they are marketplace orders whose seller's share is held until
    released (ADR 0014). Answers the sum of the sellers' nets.
    """
    batch: list[PaymentOrder] = []
    seller_nets = 0
    for index in range(orders):
        amount = _amount(index)
        order = PaymentOrder(
            payment_order_id=f"{prefix}{index}",
            checkout_id=f"{prefix}co{index}",
            seller_account=f"seller_{index % SELLERS}",
            amount_minor=amount,
            currency="USD",
            card_token="tok_bench",
            commission_minor=commission.of(amount) if commission else 0,
            funds_held=commission is not None,
        )
        seller_nets += order.seller_net_minor
        order.start_execution()
        order.record_success(f"ch_{prefix}{index}", source="bench")
        batch.append(order)
        if len(batch) >= ORDERS_PER_SAVE:
            app.save(*batch)
            batch.clear()
    if batch:
        app.save(*batch)
    return seller_nets


def settlement_lines(orders: int, prefix: str, day: datetime) -> Iterator[SettlementLine]:
    batch = int(day.strftime("%Y%m%d"))
    net_total = 0
    for index in range(orders + PLANTED_EXCEPTIONS):
        known = index < orders
        amount = _amount(index)
        fee = _fee(amount)
        net_total += amount - fee
        yield SettlementLine(
            psp_reference=f"ch_{prefix}{index}" if known else f"ch_unknown{index}",
            merchant_reference=f"{prefix}{index}" if known else f"unknown_{index}",
            type="Settled",
            creation_date=day,
            currency="USD",
            gross_credit_minor=amount,
            net_credit_minor=amount - fee,
            commission_minor=fee,
            batch_number=batch,
            payment_method="visa",
        )
    yield SettlementLine(
        psp_reference="",
        merchant_reference="",
        type="MerchantPayout",
        creation_date=day,
        currency="USD",
        net_debit_minor=net_total,
        batch_number=batch,
    )


_CHILD = """
import json, resource, sys, time
from pathlib import Path
from payments.domain.application import CheckoutPolicy, PaymentsApplication
from payments.domain.reconciliation_commands import ReconciliationCommands
from payments.psp.reconcile.engine import ReconcileOptions, reconcile_file
from payments.projections.reconciliation.history import replay_history
from payments.projections.reconciliation.report import summary

env, path, compare = json.loads(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
app = PaymentsApplication(CheckoutPolicy("USD", 10**12), env=env)
result = {"base_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
if compare:
    from payments.projections.reconciliation.history import TOPICS
    started = time.perf_counter()
    head = app.recorder.max_notification_id() or 0
    start, events = 1, 0
    while start <= head:
        page = app.recorder.select_notifications(start, 20000, stop=head, topics=list(TOPICS))
        if not page:
            break
        for notification in page:
            app.mapper.to_domain_event(notification)
        events += len(page)
        start = page[-1].id + 1
    result["replay_seconds_mapper"] = time.perf_counter() - started
    started = time.perf_counter()
    history = replay_history(app)
    result["replay_seconds_msgspec"] = time.perf_counter() - started
    result["replayed_orders"] = len(history.orders)
    del history
started = time.perf_counter()
outcome = reconcile_file(ReconciliationCommands(app), path, ReconcileOptions("USD"))
result["reconcile_seconds"] = time.perf_counter() - started
report = summary(outcome.run)
result["classes"] = {row["class"]: row["count"] for row in report["classes"] if row["count"]}
result["self_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps(result))
"""


def _admin_url(database_url: str | None) -> str:
    url = database_url or os.environ.get("PAYMENTS_DATABASE_URL")
    if not url:
        raise RuntimeError("set PAYMENTS_DATABASE_URL (or pass database_url=) to a PostgreSQL")
    return url


def run_reconcile_bench(
    lines: int,
    *,
    database_url: str | None = None,
    compare_mapper: bool | None = None,
    commission: str | None = DEFAULT_COMMISSION,
    release: bool = True,
) -> dict[str, Any]:
    """Reconcile a generated file of `lines` lines; returns seconds, peak RSS and counts.

    With a `commission` the orders are held (ADR 0014), and with `release` the settled
    captures are then released and the wallets moved, timed (`figures["release"]`)."""
    if lines < 2:
        raise ValueError("a settlement file needs at least one line and its payout line")
    admin_url = _admin_url(database_url)
    orders = max(1, lines - 1 - PLANTED_EXCEPTIONS)
    name, url = create_database(admin_url, "reconcile")
    env = eventsourcing_env(url, pool_size=4)
    work = Path(tempfile.mkdtemp(prefix="payments-bench-reconcile-"))
    held = commission is not None
    services: Services | None = None
    try:
        app = PaymentsApplication(CheckoutPolicy("USD", 10**12), env=env)
        started = time.perf_counter()
        fee = Commission.parse(commission, "USD") if commission is not None else None
        seller_nets = write_history(app, orders, prefix="o", commission=fee)
        setup_seconds = time.perf_counter() - started
        app.close()
        captures_wallet_s = None
        if held and release:
            # The feeds past the captures before the file (not timed in the release figures).
            services = build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url)
            started = time.perf_counter()
            services.wallet_feed.run_until_idle()
            captures_wallet_s = time.perf_counter() - started
            services.release_feed.run_until_idle()
        path = work / "settlement.csv"
        day = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        with path.open("w", newline="") as out:
            write_settlement_csv(settlement_lines(orders, "o", day), out, 2)
        compare = orders <= 200_000 if compare_mapper is None else compare_mapper
        child = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(env), str(path), "1" if compare else "0"],
            capture_output=True,
            text=True,
            check=False,
        )
        if child.returncode != 0:
            raise RuntimeError(f"reconcile child failed:\n{child.stderr[-3000:]}")
        measured: dict[str, Any] = json.loads(child.stdout.strip().splitlines()[-1])
        released: dict[str, Any] | None = None
        if services is not None:
            released = measure_release(services, orders, "o", seller_nets, SELLERS)
            released["captures_wallet_seconds"] = captures_wallet_s
        else:
            services = build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url)
        reads = measure_reads(services)
        file_lines = orders + PLANTED_EXCEPTIONS + 1
        result: dict[str, Any] = {
            "lines": file_lines,
            "orders": orders,
            "events": orders * 3,
            "file_mib": round(path.stat().st_size / 2**20, 1),
            "setup_seconds": round(setup_seconds, 1),
            "peak_rss_mib": round(measured.pop("self_rss_kib") / 1024, 1),
            "base_rss_mib": round(measured.pop("base_rss_kib") / 1024, 1),
            "peak_rss_note": "the reconciling child's own max RSS (getrusage RUSAGE_SELF); "
            "base = after imports and opening the application",
            **{k: round(v, 2) if isinstance(v, float) else v for k, v in measured.items()},
        }
        result["lines_per_second"] = round(file_lines / measured["reconcile_seconds"])
        result["commission"] = commission
        if released is not None:
            result["release"] = {k: _rounded(v) for k, v in released.items()}
        result["reads"] = {k: _rounded(v) for k, v in reads.items()}
        return result
    finally:
        if services is not None:
            services.close()
        for child_file in work.iterdir():
            child_file.unlink()
        work.rmdir()
        drop_database(admin_url, name)


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def extrapolate_1m(figures: dict[str, Any]) -> tuple[float, float]:
    """(seconds, RSS MiB) for 1,000,000 lines: linear in lines above the child's base RSS."""
    scale = 1_000_000 / figures["lines"]
    seconds = float(figures["reconcile_seconds"]) * scale
    base = float(figures["base_rss_mib"])
    rss = base + max(0.0, float(figures["peak_rss_mib"]) - base) * scale
    return seconds, rss


def run(ctx: BenchContext) -> ScenarioResult:
    """`payments bench reconcile`: the scenario form of run_reconcile_bench."""
    goals: list[Goal]
    lines = int(ctx.param("lines", 200_000, 5_000))
    commission_text: str = ctx.param("commission", DEFAULT_COMMISSION, DEFAULT_COMMISSION)
    commission = None if commission_text == "none" else commission_text
    release: bool = ctx.param("release", True, True)
    ctx.log(f"reconcile: writing {lines} orders' history and settlement file")
    figures = run_reconcile_bench(
        lines, database_url=ctx.admin_url, commission=commission, release=release
    )
    seconds_1m, rss_1m = extrapolate_1m(figures)
    measured_1m = figures["lines"] >= 1_000_000
    how = "measured" if measured_1m else f"extrapolated from {figures['lines']:,} lines"
    table = Table(
        f"reconcile: settlement file of {figures['lines']:,} lines against its history",
        [
            "lines",
            "file MiB",
            "history setup s",
            "reconcile s",
            "lines/s",
            "peak RSS MiB",
            "base RSS MiB",
            "replay s (msgspec)",
            "replay s (mapper)",
            "mapper ÷ msgspec",
        ],
    )
    msgspec_s = figures.get("replay_seconds_msgspec")
    mapper_s = figures.get("replay_seconds_mapper")
    table.add(
        figures["lines"],
        figures["file_mib"],
        figures["setup_seconds"],
        figures["reconcile_seconds"],
        figures["lines_per_second"],
        figures["peak_rss_mib"],
        figures["base_rss_mib"],
        msgspec_s,
        mapper_s,
        round(mapper_s / msgspec_s, 2) if mapper_s and msgspec_s else None,
    )
    classes = Table("reconcile: findings", ["class", "count"])
    for name, count in sorted(figures.get("classes", {}).items()):
        classes.add(name, count)
    reads = figures["reads"]
    tables, goals = [table, classes, reads_table(reads, figures["lines"])], []
    notes = [
        f"reads: a year of daily runs of {figures['lines']:,} lines replays 365 of them, "
        f"~{365 * reads['exceptions_replayed_s'] / reads['runs']:.1f} s an exception list; "
        "the view reads the exceptions alone"
    ]
    if "release" in figures:
        released, release_goals = release_table(figures["release"])
        tables.append(released)
        goals.extend(release_goals)
    else:
        notes.append("no settlement release measured (orders not held, or -o release=false)")
    return ScenarioResult(
        scenario="reconcile",
        params={"lines": lines, "commission": commission_text, "release": release},
        tables=tables,
        goals=[
            *goals,
            Goal(
                f"1M lines: seconds ({how})",
                f"< {GOAL_SECONDS_1M:g} s",
                f"{seconds_1m:.1f} s",
                seconds_1m < GOAL_SECONDS_1M,
            ),
            Goal(
                f"1M lines: peak RSS ({how})",
                f"< {GOAL_RSS_MIB_1M:g} MiB",
                f"{rss_1m:.0f} MiB",
                rss_1m < GOAL_RSS_MIB_1M,
            ),
        ],
        notes=[
            *notes,
            *(
                []
                if measured_1m
                else [
                    "extrapolation: time linear in lines; RSS = base + (peak - base) x 1M / lines"
                ]
            ),
        ],
        data=figures,
    )


if __name__ == "__main__":  # python -m payments.bench.reconcile 100000
    print(json.dumps(run_reconcile_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)))
