"""The day scenario's last stages: the invariants checked, and the tables and goals shown."""

from __future__ import annotations

from typing import Any

import httpx

from payments.bench.harness import Goal, ScenarioResult, Table, timed_parallel
from payments.domain.payment_order import TERMINAL
from payments.projections.catalog import live_view
from payments.runtime.services import Services

AWAITING = "awaiting_settlement"


def check_invariants(
    services: Services, psp_url: str, order_ids: list[str], report: dict[str, Any]
) -> dict[str, Any]:
    statuses: dict[str, int] = {}
    dead = 0
    open_orders = 0
    for order_id in order_ids:
        order = services.application.get_order(order_id)
        statuses[order.status.value] = statuses.get(order.status.value, 0) + 1
        if getattr(order, "dead_lettered", False):
            dead += 1
        elif order.status not in TERMINAL:
            open_orders += 1
    client = httpx.Client(base_url=psp_url, timeout=30, limits=httpx.Limits(max_connections=8))
    charge_counts: list[int] = [0] * len(order_ids)

    def count(index: int) -> None:
        answer = client.get("/admin/charges/count", params={"reference": order_ids[index]})
        answer.raise_for_status()
        charge_counts[index] = int(answer.json()["charges"])

    try:
        _, _, errors = timed_parallel(8, len(order_ids), count, deadline_s=600)
    finally:
        client.close()
    trial = live_view(services.pool, "ledger").trial_balance()  # type: ignore[attr-defined]
    open_exceptions = {
        row["class"]: row["open"]
        for row in report["classes"]
        if row["open"] and row["class"] != AWAITING
    }
    return {
        "statuses": statuses,
        "dead_lettered": dead,
        "open_orders": open_orders,
        "orders_with_2_plus_charges": sum(1 for c in charge_counts if c > 1),
        "orders_charged": sum(1 for c in charge_counts if c >= 1),
        "charge_count_errors": errors,
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
) -> ScenarioResult:
    checks = facts["checks"]
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
    goals = [
        Goal(
            "every order terminal or dead-lettered",
            "0 open",
            f"{checks['open_orders']} open",
            checks["open_orders"] == 0,
        ),
        Goal(
            "at most one charge per order at the PSP",
            "0 orders with ≥ 2",
            f"{checks['orders_with_2_plus_charges']} "
            f"({checks['charge_count_errors']} lookups failed)",
            checks["orders_with_2_plus_charges"] == 0 and checks["charge_count_errors"] == 0,
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
        tables=[timing, outcome],
        goals=goals,
        notes=[
            "fault rules are counted: they hit the first charge calls and webhooks of the "
            "execute stage (a burst), not a steady rate"
        ],
        data={"stages": stages, "slowest": slowest, **facts, "reconciliation": report},
    )
