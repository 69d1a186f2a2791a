"""The scheduler's jobs (DESIGN §1): what each does, with what it needs passed in.

The composition root (runtime/scheduling.py) hands over a JobDependencies of this deployment;
the machinery that makes every job safe with several scheduler processes is runner.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from psycopg_pool import ConnectionPool

from payments.domain.payout_commands import PayoutCommands
from payments.scheduler.runner import Job, JobScheduler, JobSkipped, purge_runs, run_job

log = logging.getLogger("payments.scheduler.jobs")

DUE_WORK_EVERY = timedelta(seconds=60)
STUCK_EVERY = timedelta(minutes=5)
DISPUTES_EVERY = timedelta(minutes=15)
KYC_EVERY = timedelta(minutes=15)
RELEASE_EVERY = timedelta(minutes=5)
PURGE_EVERY = timedelta(hours=1)
RUNS_KEPT = timedelta(days=30)
DUE_WORK_MAX_ROUNDS = 50


class DueWork(Protocol):
    """The executor as a job uses it: work what is due, then let go of its resources."""

    def run_until_idle(self, max_rounds: int = ...) -> None: ...

    def close(self) -> None: ...


class Backfill(Protocol):
    """The outcome of reconciling every missed day: which were, which failed and why."""

    @property
    def reconciled(self) -> list[date]: ...

    @property
    def failed(self) -> dict[date, str]: ...


class Queue(Protocol):
    def depth(self) -> tuple[int, int]: ...

    def requeue_stuck(self, delays: tuple[timedelta, ...]) -> int: ...


@dataclass(frozen=True)
class JobDependencies:
    pool: ConnectionPool  # where the job runs are recorded
    queue: Queue
    requery_delays: tuple[timedelta, ...]
    payouts: PayoutCommands
    catch_up_wallets: Callable[[], None]  # credit what the log says before paying out
    payout_sellers: Callable[[], Iterable[str]]  # every seller with a wallet
    payout_minimum_minor: int
    purge_idempotency_keys: Callable[[], int]
    daily_at: tuple[int, int]  # UTC hour and minute of the daily finance jobs
    build_executor: Callable[[], DueWork] | None = None  # None: no PSP configured
    seal: Callable[[], tuple[int, int] | None] | None = None  # None: no audit key
    reconcile_missed_days: Callable[[date], Backfill] | None = None  # None: no PSP
    requery_disputes: Callable[[], str] | None = None  # None: no PSP
    # Checks the PSP's balance against ours and records it: (balanced?, what it found).
    check_psp_balance: Callable[[], tuple[bool, str]] | None = None  # None: no PSP
    release_due_funds: Callable[[datetime], int] | None = None  # ADR 0014, by age
    refresh_kyc: Callable[[], dict[str, int]] | None = None  # None: no PSP (#17)
    backup: Callable[[date], str] | None = None  # None: PAYMENTS_BACKUP_DIR unset (ADR 0026)
    purge_deliveries: Callable[[], int] | None = None  # webhooks to merchants (ADR 0027)
    # Disables the endpoints failing for PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS; None: unset.
    disable_failing_endpoints: Callable[[], list[str]] | None = None


def run_due_work(deps: JobDependencies) -> str:
    """Feed the queue and work what is due, in case no worker runs (leases keep it safe)."""
    if deps.build_executor is None:
        raise JobSkipped("no PSP configured (PAYMENTS_PSP_URL)")
    executor = deps.build_executor()
    try:
        executor.run_until_idle(max_rounds=DUE_WORK_MAX_ROUNDS)
    finally:
        executor.close()
    due, total = deps.queue.depth()
    return f"queue after: {due} due of {total}"


def requeue_stuck(deps: JobDependencies) -> str:
    """Re-query what is stuck in EXECUTING: after 5 min, again after 1 h, then daily."""
    return f"{deps.queue.requeue_stuck(deps.requery_delays)} re-query(ies) queued"


def requery_disputes(deps: JobDependencies) -> str:
    """Re-read at the PSP every dispute that can still change, so that a dropped dispute
    webhook loses no decision (psp/dispute_sync.py)."""
    if deps.requery_disputes is None:
        raise JobSkipped("no PSP configured (PAYMENTS_PSP_URL)")
    return deps.requery_disputes()


def run_payouts(deps: JobDependencies, day: date) -> dict[str, int]:
    """The payout run of `day` (ADR 0006): wallets credited first, then every seller whose
    available balance reaches the minimum is paid it all (domain/payout_commands.py)."""
    deps.catch_up_wallets()
    counts = deps.payouts.run_payouts(
        day.isoformat(), deps.payout_sellers(), deps.payout_minimum_minor
    )
    for seller, why in counts.refusals:  # a racing payout took the balance meanwhile
        log.info("payout refused", extra={"seller": seller, "reason": why})
    log.info("payout run", extra={"run_id": day.isoformat(), "counts": counts.as_dict()})
    return counts.as_dict()


def refresh_kyc(deps: JobDependencies) -> str:
    """Submit again the sellers the PSP's onboarding never answered, and look up the pending
    ones: a dropped account.updated webhook loses no KYC decision."""
    if deps.refresh_kyc is None:
        raise JobSkipped("no PSP configured (PAYMENTS_PSP_URL)")
    outcomes = deps.refresh_kyc()
    return ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "no seller awaits KYC"


def release_funds(deps: JobDependencies, now: datetime) -> str:
    """With PAYMENTS_AVAILABLE_AFTER_DAYS: make captures that old available (ADR 0014)."""
    if deps.release_due_funds is None:
        raise JobSkipped("funds are released on settlement (PAYMENTS_AVAILABLE_AFTER_DAYS unset)")
    return f"{deps.release_due_funds(now)} order(s) released"


def audit_seal(deps: JobDependencies) -> str:
    if deps.seal is None:
        raise JobSkipped("PAYMENTS_AUDIT_KEY is not set: no seal (see docs/operations.md)")
    sealed = deps.seal()
    if sealed is None:
        return "nothing new to seal"
    return f"sealed positions {sealed[0]}..{sealed[1]}"


def nightly_backup(deps: JobDependencies, today: date) -> str:
    if deps.backup is None:
        raise JobSkipped("PAYMENTS_BACKUP_DIR is not set: no nightly backup (docs/operations.md)")
    return deps.backup(today)


def purge(deps: JobDependencies) -> str:
    keys = deps.purge_idempotency_keys()
    runs = purge_runs(deps.pool, RUNS_KEPT)
    deliveries = deps.purge_deliveries() if deps.purge_deliveries else 0
    return (
        f"{keys} expired idempotency key(s), {runs} old job run(s), "
        f"{deliveries} old webhook deliveries purged"
    )


def disable_failing_endpoints(deps: JobDependencies) -> str:
    if deps.disable_failing_endpoints is None:
        raise JobSkipped("PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS is not set: none is disabled")
    disabled = deps.disable_failing_endpoints()
    return f"{len(disabled)} failing webhook endpoint(s) disabled" + (
        f": {', '.join(disabled)}" if disabled else ""
    )


class DaysNotReconciled(RuntimeError):
    """Some days' settlement files could not be had or read (each is recorded with why)."""


def reconcile_missed_days(deps: JobDependencies, today: date) -> str:
    """Every day since the last reconciled one up to yesterday (DESIGN §8: no day skipped);
    the run fails, naming the days, when a day's file could not be had (tried again at the
    next tick, and when a scheduler starts)."""
    if deps.reconcile_missed_days is None:
        raise JobSkipped("no PSP configured (PAYMENTS_PSP_URL): no settlement file to fetch")
    report = deps.reconcile_missed_days(today)
    done = ", ".join(day.isoformat() for day in report.reconciled) or "no day due"
    if report.failed:
        failed = "; ".join(
            f"{day.isoformat()}: {why}" for day, why in sorted(report.failed.items())
        )
        raise DaysNotReconciled(f"reconciled {done}; not reconciled: {failed}")
    return f"reconciled {done}"


class BalanceDifference(RuntimeError):
    """The PSP's balance differs from ours (the check is recorded; the job run fails)."""


def check_psp_balance(deps: JobDependencies) -> str:
    """The PSP's available balance against our ledger, recorded (psp/reconcile/balance.py);
    the run fails, saying by how much, when they differ."""
    if deps.check_psp_balance is None:
        raise JobSkipped("no PSP configured (PAYMENTS_PSP_URL): no balance to compare")
    balanced, found = deps.check_psp_balance()
    if not balanced:
        log.warning("PSP balance differs from ours", extra={"found": found})
        raise BalanceDifference(found)
    return found


def _later(daily_at: tuple[int, int], minutes: int) -> tuple[int, int]:
    total = (daily_at[0] * 60 + daily_at[1] + minutes) % (24 * 60)
    return total // 60, total % 60


def build_jobs(deps: JobDependencies) -> list[Job]:
    """Every job with its stable id. Daily: settlement of yesterday, the balance check,
    payouts, the seal, then the backup (which so holds the day's seal)."""
    daily = deps.daily_at
    return [
        Job(
            "executor-due-work",
            "Feed the execution queue and work due retries if no worker does",
            lambda now: run_due_work(deps),
            every=DUE_WORK_EVERY,
        ),
        Job(
            "stuck-requery",
            "Queue a PSP re-query for orders and payouts stuck in EXECUTING (5 min, 1 h, daily)",
            lambda now: requeue_stuck(deps),
            every=STUCK_EVERY,
        ),
        Job(
            "dispute-requery",
            "Re-read open (and won) disputes at the PSP: a dropped webhook loses no decision",
            lambda now: requery_disputes(deps),
            every=DISPUTES_EVERY,
        ),
        Job(
            "kyc-requery",
            "Submit sellers the PSP's onboarding never answered; look up pending KYC",
            lambda now: refresh_kyc(deps),
            every=KYC_EVERY,
        ),
        Job(
            "settlement-reconcile",
            "Fetch and reconcile the PSP's settlement file of every day not reconciled yet "
            "(also when the scheduler starts)",
            lambda now: reconcile_missed_days(deps, now.date()),
            daily_at=daily,
        ),
        Job(
            "psp-balance-check",
            "Compare the PSP's available balance with our ledger (psp_balance + bank + lines "
            "not reconciled yet); record it, fail on a difference",
            lambda now: check_psp_balance(deps),
            daily_at=_later(daily, 10),
        ),
        Job(
            "payout-run",
            "Pay out every seller whose available balance is at least PAYMENTS_PAYOUT_MINIMUM",
            lambda now: ", ".join(f"{k} {v}" for k, v in run_payouts(deps, now.date()).items()),
            daily_at=_later(daily, 15),
        ),
        Job(
            "funds-release",
            "Make sellers' pending funds available once PAYMENTS_AVAILABLE_AFTER_DAYS passed "
            "(when set; otherwise settlement releases them)",
            lambda now: release_funds(deps, now),
            every=RELEASE_EVERY,
        ),
        Job(
            "audit-seal",
            "Seal the event log's hash chain (needs PAYMENTS_AUDIT_KEY)",
            lambda now: audit_seal(deps),
            daily_at=_later(daily, 30),
        ),
        Job(
            "database-backup",
            "Back the database up into PAYMENTS_BACKUP_DIR, keeping the newest "
            "PAYMENTS_BACKUPS_KEPT (needs PAYMENTS_BACKUP_DIR)",
            lambda now: nightly_backup(deps, now.date()),
            daily_at=_later(daily, 45),
        ),
        Job(
            "idempotency-purge",
            "Delete expired Idempotency-Keys, job runs older than 30 days and webhook "
            "deliveries older than PAYMENTS_DELIVERY_KEEP_DAYS",
            lambda now: purge(deps),
            every=PURGE_EVERY,
        ),
        Job(
            "webhook-endpoint-health",
            "Disable the webhook endpoints whose deliveries have all failed for "
            "PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS (when set)",
            lambda now: disable_failing_endpoints(deps),
            every=PURGE_EVERY,
        ),
    ]


ON_START = ("settlement-reconcile",)  # a restart around its hour must not skip a day


class StartingScheduler(JobScheduler):
    """Runs the jobs of ON_START once when it starts, besides their schedule: each such run
    has a tick of its own ("start-<time>"), and the job's lock keeps two from overlapping."""

    def __init__(self, pool: ConnectionPool, jobs: Sequence[Job], on_start: Sequence[str]) -> None:
        super().__init__(pool, jobs)
        self.on_start = [job for job in self.jobs if job.job_id in on_start]

    def start(self) -> None:
        super().start()
        for job in self.on_start:
            self._scheduler.add_job(
                self._run_at_start, "date", args=[job], id=f"{job.job_id}@start",
                replace_existing=True, misfire_grace_time=None,
            )  # fmt: skip

    def _run_at_start(self, job: Job) -> None:
        now = datetime.now(UTC)
        try:
            run_job(self.pool, job, now=now, tick=f"start-{now.isoformat()}", runner=self.runner)
        except Exception:  # the database was away: the schedule tries again
            log.exception("job could not be run at start", extra={"job": job.job_id})


def build_scheduler(deps: JobDependencies) -> JobScheduler:
    return StartingScheduler(deps.pool, build_jobs(deps), ON_START)


def job_by_id(deps: JobDependencies, job_id: str) -> Job:
    jobs = build_jobs(deps)
    for job in jobs:
        if job.job_id == job_id:
            return job
    known = ", ".join(job.job_id for job in jobs)
    raise KeyError(f"unknown job {job_id!r}; known: {known}")
