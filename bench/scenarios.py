"""The scenario registry: name → function(BenchContext) → ScenarioResult.

To add a scenario, write a module with `run(ctx: BenchContext) -> ScenarioResult` (sizes from
`ctx.param(name, full, quick)`, databases from `ctx.create_database(prefix)`) and add one line
below. `payments bench` with no names runs them all, in this order.
"""

from __future__ import annotations

from collections.abc import Callable

from payments.bench import (
    applied,
    audit,
    day,
    executor,
    http_clients,
    ingest,
    projections,
    reconcile,
    refunds,
    risk,
    webhooks,
)
from payments.bench.harness import BenchContext, ScenarioResult

Scenario = Callable[[BenchContext], ScenarioResult]

SCENARIOS: dict[str, Scenario] = {
    "ingest": ingest.run,
    "executor": executor.run,
    "projections": projections.run,
    "reconcile": reconcile.run,
    "refunds": refunds.run,
    "risk": risk.run,
    "audit": audit.run,
    "day": day.run,
    "applied": applied.run,
    "http_clients": http_clients.run,
    "webhooks": webhooks.run,
}
