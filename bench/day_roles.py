"""The day with its stages overlapped (`-o overlap=1`), as a deployment runs it.

`workers` processes of `payments worker` and one `payments projections run` start before the
first order is placed, so charging and projecting go on while the orders arrive; the day then
waits for every order to be terminal (`drain`) and for every view to reach the head of the
log (`views_at_head`), and stops the roles before the books are closed in the benchmark's
process as in the sequential day.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from payments.bench.day_checks import is_open, peak_rss_mib
from payments.bench.day_checks import orders as day_orders
from payments.bench.deployment import role_process
from payments.bench.harness import BenchContext, ChildProcess
from payments.projections.catalog import projection_states
from payments.projections.status import ProjectionState
from payments.runtime.services import Services

POLL_S = 1.0


class DeployedRoles:
    """The worker and projections processes of the overlapped day."""

    def __init__(
        self, work_dir: Path, env: dict[str, str], workers: int, *, projections: bool
    ) -> None:
        self.children: list[ChildProcess] = [
            role_process(work_dir, f"payments worker {n}", ["worker"], env)
            for n in range(1, workers + 1)
        ]
        if projections:
            command = ["projections", "run"]
            self.children.append(role_process(work_dir, "payments projections", command, env))

    def pids(self) -> dict[str, int]:
        return {child.name: child.pid for child in self.children}

    def check_alive(self) -> None:
        for child in self.children:
            if child.popen.poll() is not None:
                raise RuntimeError(f"{child.name} exited during the day: {child.tail()}")

    def stop(self) -> dict[str, float | None]:
        """Stop every role; their peak resident memory (MiB), read while they still live."""
        peaks = {child.name: peak_rss_mib(child.pid) for child in self.children}
        for child in self.children:
            child.stop(timeout_s=60)
        return peaks


def deployed_roles(
    ctx: BenchContext, env: dict[str, str], workers: int, *, projections: bool
) -> DeployedRoles:
    roles = DeployedRoles(ctx.work_dir, env, workers, projections=projections)
    also = " and the projections" if projections else ""
    ctx.log(f"day: {workers} worker process(es){also} running")
    return roles


def unsettled(services: Services, order_ids: list[str]) -> list[str]:
    """Orders neither terminal nor dead-lettered (a query per thousand orders)."""
    return [order_id for order_id, order in day_orders(services, order_ids) if is_open(order)]


def drain(
    ctx: BenchContext,
    services: Services,
    order_ids: list[str],
    roles: DeployedRoles,
    deadline_s: float,
) -> dict[str, Any]:
    """Wait until every order is terminal or dead-lettered. The orders are read only when the
    execution queue is empty (an open order then is one the feeder has not reached, or a
    pending charge between re-queries), so the wait costs a query a second meanwhile."""
    started = time.perf_counter()
    stop_at = started + deadline_s
    left = list(order_ids)
    checks = 0
    while left and time.perf_counter() < stop_at:
        roles.check_alive()
        _, queued = services.queue.depth()
        if queued == 0:
            left = unsettled(services, left)
            checks += 1
        if left:
            time.sleep(POLL_S)
    if left:
        ctx.log(f"day: {len(left)} orders still open at the deadline")
    seconds = time.perf_counter() - started
    return {"seconds": round(seconds, 2), "open_at_deadline": len(left), "order_reads": checks}


def views_at_head(services: Services, roles: DeployedRoles, deadline_s: float) -> int:
    """Wait until every view has applied the log up to its head as it is now; how many events
    the views were behind when the last order settled (summed over the views)."""
    behind = sum(state.lag_events for state in _states(services))
    stop_at = time.perf_counter() + deadline_s
    while time.perf_counter() < stop_at:
        roles.check_alive()
        if all(state.lag_events == 0 for state in _states(services)):
            break
        time.sleep(POLL_S)
    return behind


def _states(services: Services) -> list[ProjectionState]:
    return projection_states(services.application, services.pool)
