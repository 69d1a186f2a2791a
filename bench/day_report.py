"""The day scenario's last stages: the invariants checked, and the tables and goals shown."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from payments.bench.day_checks import (
    charge_counts,
    checkouts_left_undone,
    is_open,
    orders,
)
from payments.bench.harness import Goal, ScenarioResult, Table
from payments.bench.stage_cpu import StageCpu
from payments.projections.catalog import live_view
from payments.runtime.services import Services

AWAITING = "awaiting_settlement"


def check_invariants(
    services: Services, sandbox_db: Path, order_ids: list[str], report: dict[str, Any]
) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    dead = 0
    open_orders = 0
    for _, order in orders(services, order_ids):
        if order is None:
            open_orders += 1
            continue
        statuses[order.status.value] = statuses.get(order.status.value, 0) + 1
        if getattr(order, "dead_lettered", False):
            dead += 1
        elif is_open(order):
            open_orders += 1
    charges = charge_counts(sandbox_db, set(order_ids))
    trial = live_view(services.pool, "ledger").trial_balance()  # type: ignore[attr-defined]
    open_exceptions = {
        row["class"]: row["open"]
        for row in report["classes"]
        if row["open"] and row["class"] != AWAITING
    }
    ended, undone = checkouts_left_undone(services)
    return {
        "statuses": statuses,
        "dead_lettered": dead,
        "open_orders": open_orders,
        "checkouts_ended": ended,
        "checkouts_left_undone": undone,
        **charges,
        "trial_balance_minor": int(trial.total_minor),
        "ledger_accounts": len(trial.accounts),
        "open_exceptions": open_exceptions,
        "awaiting_settlement_open": next(
            (row["open"] for row in report["classes"] if row["class"] == AWAITING), 0
        ),
    }


def day_result(
    requested: int,
    orders: int,
    stages: dict[str, float],
    facts: dict[str, Any],
    concurrency: int,
    batch: int,
    mix: dict[str, tuple[str, float]],
    report: dict[str, Any],
    cpu: StageCpu,
) -> ScenarioResult:
    checks, verify, cost = facts["checks"], facts["verify"], facts["cost"]
    total = sum(stages.values())
    slowest = max(stages, key=lambda name: stages[name])
    timing = Table(
        f"day: {orders:,} orders, faults at the PSP, books closed",
        ["stage", "seconds", "share of total", "rate"],
    )
    rates = {
        "place": f"{orders / stages['place']:,.0f} orders/s" if stages["place"] else "",
        "execute": f"{orders / stages['execute']:,.0f} orders/s" if stages["execute"] else "",
        "projections": f"{facts['projected_events'] / stages['projections']:,.0f} events/s"
        if stages["projections"]
        else "",
        "reconcile": f"{facts['settlement_lines'] / stages['reconcile']:,.0f} lines/s"
        if stages["reconcile"]
        else "",
        "checks": f"{orders / stages['checks']:,.0f} orders/s" if stages["checks"] else "",
        "verify": f"{verify['events_scanned'] / stages['verify']:,.0f} log events/s per view"
        if stages["verify"]
        else "",
    }
    for name, seconds in stages.items():
        label = f"{name} (slowest)" if name == slowest else name
        timing.add(label, seconds, f"{seconds / total:.0%}" if total else "-", rates.get(name, ""))
    timing.add("total", round(total, 2), "100%", f"{orders / total:,.0f} orders/s" if total else "")
    outcome = Table("day: outcome", ["fact", "value"])
    outcome.add(
        "orders by status", ", ".join(f"{k} {v}" for k, v in sorted(checks["statuses"].items()))
    )
    outcome.add("dead-lettered", checks["dead_lettered"])
    outcome.add("orders with a charge at the PSP", checks["orders_charged"])
    outcome.add("faults injected", ", ".join(f"{k} {v}" for k, v in facts["faults"].items()))
    outcome.add(
        "orders by test card",
        ", ".join(f"{k} {v}" for k, v in facts["place"]["orders_by_card"].items()),
    )
    outcome.add("POST /payments errors", facts["place"]["errors"])
    outcome.add("settlement file lines", facts["settlement_lines"])
    outcome.add(
        "reconciliation",
        ", ".join(
            f"{row['class']} {row['count']} (open {row['open']}, auto-fixed {row['auto_fixed']})"
            for row in report["classes"]
            if row["count"]
        ),
    )
    outcome.add("ledger trial balance (minor units)", checks["trial_balance_minor"])
    outcome.add("slowest stage", f"{slowest} ({stages[slowest]:.2f} s)")
    for process, peak in cost["peak_rss_mib"].items():
        outcome.add(f"peak RSS, {process} (MiB)", peak if peak is not None else "unknown")
    outcome.add("peak RSS, largest PostgreSQL backend (MiB)", cost["postgres_backend_peak_mib"])
    outcome.add("database size (MiB)", cost["database_mib"])
    goals = [
        Goal(
            "every order terminal or dead-lettered",
            "0 open",
            f"{checks['open_orders']} open",
            checks["open_orders"] == 0,
        ),
        Goal(
            "every checkout whose orders all ended is done",
            "0 left",
            f"{checks['checkouts_left_undone']} of {checks['checkouts_ended']:,} left",
            checks["checkouts_left_undone"] == 0,
        ),
        Goal(
            "one charge per order at the PSP",
            "every order charged, none twice",
            f"{checks['orders_charged']:,} charged, {checks['orders_with_2_plus_charges']} twice",
            checks["orders_charged"] == orders and checks["orders_with_2_plus_charges"] == 0,
        ),
        Goal(
            "ledger trial balance",
            "0",
            str(checks["trial_balance_minor"]),
            checks["trial_balance_minor"] == 0,
        ),
        Goal(
            "reconciliation clean after auto-fixes",
            "no open exception but awaiting-settlement",
            ", ".join(f"{k} {v}" for k, v in checks["open_exceptions"].items()) or "none open",
            not checks["open_exceptions"],
        ),
        Goal(
            "every view identical to its rebuild (verify)",
            "0 rows differ",
            ", ".join(f"{k} {v}" for k, v in verify["rows_differing"].items())
            or f"identical ({verify['rows_compared']:,} rows)",
            verify["identical"],
        ),
    ]
    return ScenarioResult(
        "day",
        params={
            "orders": requested,
            "concurrency": concurrency,
            "batch": batch,
            "card_mix_pct": {name: pct for name, (_, pct) in mix.items()},
            "faults": facts["faults"],
        },
        tables=[timing, outcome, *filter(None, [cpu.table({"place": orders, "execute": orders})])],
        goals=goals,
        notes=[
            "fault rules are counted: they hit the first charge calls and webhooks after they "
            "are added (a burst at the start of execute, or of the day with overlap=1), not a "
            "steady rate"
        ],
        data={
            "stages": stages,
            "slowest": slowest,
            **facts,
            "cpu_seconds": cpu.stages,
            "reconciliation": report,
        },
    )
