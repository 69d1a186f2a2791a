"""The scheduler's jobs (DESIGN §1): what each does, wired to this deployment's services.

Jobs live here, in the composition root, because they need the services; the machinery that
makes them safe with several scheduler processes is scheduler/jobs.py.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from payments.api.payouts import run_payouts
from payments.projections.seal import EventLogSeal
from payments.runtime.services import Services
from payments.scheduler.jobs import Job, JobScheduler, JobSkipped, purge_runs

log = logging.getLogger("payments.scheduler.jobs")

DUE_WORK_EVERY = timedelta(seconds=60)
STUCK_EVERY = timedelta(minutes=5)
PURGE_EVERY = timedelta(hours=1)
RUNS_KEPT = timedelta(days=30)
DUE_WORK_MAX_ROUNDS = 50

# Re-query an aggregate stuck in EXECUTING once its queue row is older than 5 min, again
# after 1 h, then daily; `requeries` on the row counts the re-queries already made.
REQUEUE_STUCK = """
UPDATE execution_queue SET kind = 'requery', due_at = now()
WHERE due_at > now()
  AND (lease_until IS NULL OR lease_until < now())
  AND requeries < CASE
        WHEN now() - enqueued_at >= %(second)s THEN
            2 + floor(extract(epoch FROM now() - enqueued_at - %(second)s)
                      / extract(epoch FROM %(then_every)s))::int
        WHEN now() - enqueued_at >= %(first)s THEN 1
        ELSE 0
      END
RETURNING order_uuid
"""


def run_due_work(services: Services) -> str:
    """Feed the queue and work what is due, in case no worker runs (leases keep it safe)."""
    from payments.runtime.roles import build_executor

    if not services.psp_url:
        raise JobSkipped("no PSP configured (PAYMENTS_PSP_URL)")
    executor = build_executor(services)
    try:
        executor.run_until_idle(max_rounds=DUE_WORK_MAX_ROUNDS)
    finally:
        executor.close()
        executor.client.close()
    due, total = services.queue.depth()
    return f"queue after: {due} due of {total}"


def requeue_stuck(services: Services) -> str:
    delays = services.settings.executor.requery_delays_s
    first, second, then_every = (
        timedelta(seconds=delays[min(i, len(delays) - 1)]) for i in range(3)
    )
    with services.pool.connection() as conn, conn.transaction():
        rows = conn.execute(
            REQUEUE_STUCK, {"first": first, "second": second, "then_every": then_every}
        ).fetchall()
    return f"{len(rows)} re-query(ies) queued"


def payout_run(services: Services, day: date) -> str:
    counts = run_payouts(services, day)
    return ", ".join(f"{name} {count}" for name, count in counts.items())


def audit_seal(services: Services) -> str:
    if not services.settings.audit_key:
        raise JobSkipped("PAYMENTS_AUDIT_KEY is not set: no seal (see docs/operations.md)")
    sealed = EventLogSeal(services.pool, services.settings.audit_key).seal()
    if sealed is None:
        return "nothing new to seal"
    return f"sealed positions {sealed.from_position}..{sealed.to_position}"


def purge(services: Services) -> str:
    keys = services.idempotency.purge_expired()
    runs = purge_runs(services.pool, RUNS_KEPT)
    return f"{keys} expired idempotency key(s), {runs} old job run(s) purged"


def reconcile_function() -> Callable[[Services, date], dict[str, Any]] | None:
    """The reconciliation's `fetch_and_reconcile(services, day)`, when that module exists."""
    try:
        module = importlib.import_module("payments.api.reconcile_service")
    except ImportError:
        return None
    function: Callable[[Services, date], dict[str, Any]] | None = getattr(
        module, "fetch_and_reconcile", None
    )
    return function


def _later(daily_at: tuple[int, int], minutes: int) -> tuple[int, int]:
    total = (daily_at[0] * 60 + daily_at[1] + minutes) % (24 * 60)
    return total // 60, total % 60


def build_jobs(services: Services) -> list[Job]:
    """Every job with its stable id. Daily: settlement of yesterday, payouts, then the seal."""
    daily = services.settings.scheduler_daily_at
    jobs = [
        Job(
            "executor-due-work",
            "Feed the execution queue and work due retries if no worker does",
            lambda now: run_due_work(services),
            every=DUE_WORK_EVERY,
        ),
        Job(
            "stuck-requery",
            "Queue a PSP re-query for orders and payouts stuck in EXECUTING (5 min, 1 h, daily)",
            lambda now: requeue_stuck(services),
            every=STUCK_EVERY,
        ),
        Job(
            "payout-run",
            "Pay out every seller whose available balance is at least PAYMENTS_PAYOUT_MINIMUM",
            lambda now: payout_run(services, now.date()),
            daily_at=_later(daily, 15),
        ),
        Job(
            "audit-seal",
            "Seal the event log's hash chain (needs PAYMENTS_AUDIT_KEY)",
            lambda now: audit_seal(services),
            daily_at=_later(daily, 30),
        ),
        Job(
            "idempotency-purge",
            "Delete expired Idempotency-Keys and job runs older than 30 days",
            lambda now: purge(services),
            every=PURGE_EVERY,
        ),
    ]
    reconcile = reconcile_function()
    if reconcile is not None:
        jobs.insert(
            2,
            Job(
                "settlement-reconcile",
                "Fetch yesterday's PSP settlement file and reconcile it",
                lambda now: str(reconcile(services, now.date() - timedelta(days=1))),
                daily_at=daily,
            ),
        )
    return jobs


def build_scheduler(services: Services) -> JobScheduler:
    return JobScheduler(services.pool, build_jobs(services))


def job_by_id(services: Services, job_id: str) -> Job:
    for job in build_jobs(services):
        if job.job_id == job_id:
            return job
    known = ", ".join(job.job_id for job in build_jobs(services))
    raise KeyError(f"unknown job {job_id!r}; known: {known}")
