"""`risk`: what the risk stage costs a checkout, and what a hot key costs (ADR 0015).

Each row places `count` checkouts (3 orders each) through `RiskCommands.place` on `clients`
threads, no HTTP, on a fresh database:

  no rules       PAYMENTS_RISK_RULES unset: the placement as before issue #17
  card, spread   a card velocity rule, every checkout with a card of its own
  card, hot      the same rule, every checkout with one card: all of them conflict on one
                 counter and decide again (retry_on_conflict), one after another
  card+seller    the card rule (cards spread) and a seller velocity rule: 3 of 50 sellers'
                 counters per checkout

The rules' limits are never reached (every order is allowed), so every row writes the same
orders; the counters are then read back to check that the hot card counted every order once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from payments.bench.harness import (
    BenchContext,
    Goal,
    ScenarioResult,
    Table,
    ratio,
)
from payments.bench.timing import throughput, timed_parallel
from payments.bench.workload import ORDERS_PER_CHECKOUT, place_command
from payments.domain.risk import RiskCounter, risk_counter_uuid
from payments.domain.risk_commands import card_fingerprint
from payments.domain.risk_rules import KeyKind
from payments.runtime.config import Settings
from payments.runtime.services import build_services

CARD_RULE = """
[[rule]]
name = "card"
kind = "velocity"
key = "card_fingerprint"
max_count = 1000000000
window_s = 3600
action = "decline"
"""
SELLER_RULE = """
[[rule]]
name = "seller"
kind = "velocity"
key = "seller"
max_count = 1000000000
window_s = 3600
action = "review"
"""
HOT_TOKEN = "tok_bench_hot"
ROWS: list[tuple[str, str | None, bool]] = [  # label, rules, one card for all
    ("no rules", None, False),
    ("card, spread", CARD_RULE, False),
    ("card, hot", CARD_RULE, True),
    ("card+seller", CARD_RULE + SELLER_RULE, False),
]


def run(ctx: BenchContext) -> ScenarioResult:
    clients = ctx.param("clients", 16, 4)
    count = ctx.param("count", 1000, 100)
    result = ScenarioResult("risk", {"clients": clients, "count": count})
    table = Table(
        f"Checkouts of {ORDERS_PER_CHECKOUT} orders through the risk stage, {clients} threads",
        ["rules", "checkouts/s", "p50 ms", "p95 ms", "p99 ms", "errors", "÷ no rules"],
    )
    rates: dict[str, float] = {}
    hot_counted = 0
    hot_done = 0
    for label, rules, hot in ROWS:
        measured, counted = _row(ctx, label, rules, hot, clients, count)
        rates[label] = measured["rate"]
        table.add(
            label,
            round(measured["rate"], 1),
            measured["p50"],
            measured["p95"],
            measured["p99"],
            measured["errors"],
            ratio(measured["rate"], rates["no rules"]),
        )
        result.data[label] = measured
        if hot:
            hot_counted, hot_done = counted, measured["done"]
        ctx.log(f"risk: {label}: {measured['rate']:.1f} checkouts/s")
    result.tables.append(table)
    expected = hot_done * ORDERS_PER_CHECKOUT
    result.goals.append(
        Goal(
            "hot card counted exactly",
            f"{expected} orders ({hot_done} checkouts x {ORDERS_PER_CHECKOUT})",
            f"{hot_counted}",
            hot_counted == expected and hot_done == count,
        )
    )
    result.notes.append(
        "A hot key serialises: every checkout on it conflicts with the one saved before it and "
        "decides again; `card, hot` ÷ `no rules` is what exact counting costs at that contention."
    )
    return result


def _row(
    ctx: BenchContext, label: str, rules: str | None, hot: bool, clients: int, count: int
) -> tuple[dict[str, Any], int]:
    database_url = ctx.create_database("risk")
    env = {"PAYMENTS_DATABASE_URL": database_url}
    if rules is not None:
        path = Path(ctx.work_dir) / f"risk-{label.replace(' ', '_').replace(',', '')}.toml"
        path.write_text(rules)
        env["PAYMENTS_RISK_RULES"] = str(path)
    services = build_services(Settings.from_env(env), database_url)
    try:
        prefix = f"{'h' if hot else 's'}{uuid.uuid4().hex[:8]}"
        commands = [
            place_command(prefix, i, HOT_TOKEN if hot else f"tok_bench_{i:08d}")
            for i in range(count)
        ]
        elapsed, latencies, errors = timed_parallel(
            clients,
            count,
            lambda i: services.risk.place(commands[i], datetime.now(UTC)),
            deadline_s=600,
        )
        measured = throughput(elapsed, latencies, errors)
        counter = services.application.find(
            RiskCounter, risk_counter_uuid(KeyKind.CARD, card_fingerprint(HOT_TOKEN, {}))
        )
        return measured, counter.total_count if counter else 0
    finally:
        services.close()
