"""The scheduler's jobs wired to this deployment's services (scheduler/jobs.py says what
each job does; this module says with what)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from payments.projections.audit.seal import EventLogSeal
from payments.projections.views.wallets_pg import PostgresWallets
from payments.psp.dispute_sync import DisputeWatch
from payments.psp.reconcile.balance import BalanceChecks, describe
from payments.runtime import kyc
from payments.runtime.backup import nightly
from payments.runtime.roles import Role, build_executor
from payments.runtime.services import Services
from payments.scheduler.jobs import DueWork, JobDependencies, build_jobs, build_scheduler
from payments.scheduler.metrics import SchedulerMetrics
from payments.scheduler.runner import Job, JobHealth, JobRun, job_health, last_runs


def job_dependencies(services: Services) -> JobDependencies:
    settings = services.settings

    def executor() -> DueWork:
        return build_executor(services)

    def seal() -> tuple[int, int] | None:
        assert settings.audit_key is not None
        sealed = EventLogSeal(services.pool, settings.audit_key).seal()
        return None if sealed is None else (sealed.from_position, sealed.to_position)

    def backup(day: date) -> str:
        assert settings.backup_dir is not None
        return nightly(services.database_url, settings.backup_dir, day, settings.backups_kept)

    watch = DisputeWatch(services.application)

    def requery_disputes() -> str:
        client = services.psp_client
        assert client is not None
        return watch.requery(client, services.disputes)

    def balance_check() -> tuple[bool, str]:
        check = services.check_psp_balance()
        BalanceChecks(services.pool).record(check)
        return check.balanced, describe(check)

    return JobDependencies(
        pool=services.pool,
        queue=services.queue,
        requery_delays=tuple(timedelta(seconds=s) for s in settings.executor.requery_delays_s),
        payouts=services.payouts,
        catch_up_wallets=services.catch_up_wallets,
        release_due_funds=(
            services.release_due_funds if settings.available_after_days is not None else None
        ),
        payout_sellers=lambda: [w.seller_account for w in PostgresWallets(services.pool).wallets()],
        payout_minimum_minor=settings.payout_minimum_minor,
        purge_idempotency_keys=services.idempotency.purge_expired,
        daily_at=settings.scheduler_daily_at,
        build_executor=executor if services.psp_url else None,
        seal=seal if settings.audit_key else None,
        reconcile_missed_days=services.reconciler.backfill if services.psp_url else None,
        requery_disputes=requery_disputes if services.psp_url else None,
        refresh_kyc=(lambda: kyc.refresh_awaiting(services)) if services.psp_url else None,
        check_psp_balance=balance_check if services.psp_url else None,
        backup=backup if settings.backup_dir else None,
        purge_deliveries=lambda: services.webhooks.deliveries.purge(
            timedelta(days=settings.delivery.keep_days)
        ),
        disable_failing_endpoints=(
            (lambda: services.webhooks.disable_failing(settings.delivery.disable_after_days))
            if settings.delivery.disable_after_days
            else None
        ),
    )


def scheduler_role(services: Services) -> Role:
    """The scheduler's jobs in a background thread pool of this process (`payments serve`)."""
    scheduler = build_scheduler(job_dependencies(services))
    return Role("scheduler", scheduler.start, scheduler.stop)


def scheduler_metrics(services: Services) -> SchedulerMetrics:
    """The jobs' last success and failure on /metrics, in any process that serves it."""
    return SchedulerMetrics(lambda: job_health(services.pool))


@dataclass(frozen=True, slots=True)
class JobState:
    """A job as operators see it: its schedule, its next run, its latest run and health."""

    job: Job
    next_run: datetime | None
    last_run: JobRun | None
    health: JobHealth | None  # None: it never ran


def job_states(services: Services, now: datetime) -> list[JobState]:
    last = last_runs(services.pool)
    health = {found.job_id: found for found in job_health(services.pool)}
    return [
        JobState(job, job.next_run(now), last.get(job.job_id), health.get(job.job_id))
        for job in build_jobs(job_dependencies(services))
    ]


def failing_jobs(services: Services) -> list[str]:
    """The jobs whose latest run that did not skip failed."""
    return [found.job_id for found in job_health(services.pool) if found.failing]
