"""Scheduled jobs that stay safe with several scheduler processes (docs/operations.md).

Every firing of a job computes its *tick* (the interval slot, or the UTC day for daily jobs).
A run first takes a PostgreSQL advisory try-lock for the job (skips when another process runs
it now), then claims the tick with a row in `scheduler_runs` (skips when the tick already ran
anywhere), runs, and records the outcome in that row. A job that raises is recorded as failed
and the scheduler goes on; the next tick runs it again.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from psycopg_pool import ConnectionPool

from payments.projections.locks import SCHEDULER_CLASS

log = logging.getLogger("payments.scheduler")

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS scheduler_runs (
        job_id text NOT NULL,
        tick text NOT NULL,
        runner text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        outcome text NOT NULL CHECK (outcome IN ('running', 'ok', 'failed', 'skipped')),
        detail text NOT NULL DEFAULT '',
        PRIMARY KEY (job_id, tick)
    )
    """,
    "CREATE INDEX IF NOT EXISTS scheduler_runs_latest ON scheduler_runs (job_id, started_at DESC)",
]


class JobSkipped(Exception):
    """A job that had nothing it could do this time (recorded as 'skipped' with the reason)."""


JobFunction = Callable[[datetime], str]  # gets the run's time, returns a one-line detail


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    description: str
    run: JobFunction
    every: timedelta | None = None  # an interval job
    daily_at: tuple[int, int] | None = None  # or a daily job at (hour, minute) UTC

    def trigger(self) -> IntervalTrigger | CronTrigger:
        if self.every is not None:
            return IntervalTrigger(seconds=self.every.total_seconds(), timezone=UTC)
        assert self.daily_at is not None
        hour, minute = self.daily_at
        return CronTrigger(hour=hour, minute=minute, timezone=UTC)

    def tick(self, now: datetime) -> str:
        """The slot this firing belongs to: the same in every process."""
        if self.every is not None:
            return str(int(now.timestamp() // self.every.total_seconds()))
        return now.astimezone(UTC).date().isoformat()

    @property
    def schedule(self) -> str:
        """When it runs, in words: "every 60 s" or "daily at 02:45 UTC"."""
        if self.every is not None:
            return f"every {int(self.every.total_seconds())} s"
        assert self.daily_at is not None
        return "daily at {:02d}:{:02d} UTC".format(*self.daily_at)

    def next_run(self, now: datetime) -> datetime | None:
        fire: datetime | None = self.trigger().get_next_fire_time(now, now)
        return fire


@dataclass(frozen=True, slots=True)
class JobRun:
    job_id: str
    tick: str
    runner: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    detail: str


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(
    pool: ConnectionPool,
    job: Job,
    *,
    now: datetime | None = None,
    tick: str | None = None,
    runner: str | None = None,
) -> JobRun | None:
    """Run one tick of a job unless another process runs it or ran it; None when skipped."""
    now = now or datetime.now(UTC)
    tick = tick or job.tick(now)
    runner = runner or runner_name()
    with pool.connection() as lock_conn:
        held = lock_conn.execute(
            "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (SCHEDULER_CLASS, job.job_id)
        ).fetchone()
        lock_conn.commit()
        if not held or not held[0]:
            log.debug("job running elsewhere", extra={"job": job.job_id, "tick": tick})
            return None
        try:
            if not _claim(pool, job.job_id, tick, runner):
                return None
            return _execute(pool, job, tick, runner, now)
        finally:
            lock_conn.execute(
                "SELECT pg_advisory_unlock(%s, hashtext(%s))", (SCHEDULER_CLASS, job.job_id)
            )
            lock_conn.commit()


def _claim(pool: ConnectionPool, job_id: str, tick: str, runner: str) -> bool:
    with pool.connection() as conn, conn.transaction():
        row = conn.execute(
            "INSERT INTO scheduler_runs (job_id, tick, runner, outcome) "
            "VALUES (%s, %s, %s, 'running') ON CONFLICT DO NOTHING RETURNING 1",
            (job_id, tick, runner),
        ).fetchone()
    return row is not None


def _execute(pool: ConnectionPool, job: Job, tick: str, runner: str, now: datetime) -> JobRun:
    log.info("job started", extra={"job": job.job_id, "tick": tick})
    try:
        outcome, detail = "ok", job.run(now)
    except JobSkipped as skipped:
        outcome, detail = "skipped", str(skipped)
        log.warning("job skipped", extra={"job": job.job_id, "detail": detail})
    except Exception as error:
        outcome, detail = "failed", f"{type(error).__name__}: {error}"
        log.exception("job failed", extra={"job": job.job_id, "tick": tick})
    with pool.connection() as conn, conn.transaction():
        row = conn.execute(
            "UPDATE scheduler_runs SET finished_at = now(), outcome = %s, detail = %s "
            "WHERE job_id = %s AND tick = %s "
            "RETURNING job_id, tick, runner, started_at, finished_at, outcome, detail",
            (outcome, detail[:2000], job.job_id, tick),
        ).fetchone()
    assert row is not None
    log.info("job finished", extra={"job": job.job_id, "outcome": outcome, "detail": detail})
    return JobRun(*row)


def last_runs(pool: ConnectionPool) -> dict[str, JobRun]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT DISTINCT ON (job_id) job_id, tick, runner, started_at, finished_at, outcome, "
            "detail FROM scheduler_runs ORDER BY job_id, started_at DESC"
        ).fetchall()
    return {row[0]: JobRun(*row) for row in rows}


@dataclass(frozen=True, slots=True)
class JobHealth:
    job_id: str
    last_success: datetime | None  # when its latest run that ended ok finished
    failing: bool  # its latest run that ended ok or failed, failed (skips do not count)


# Each job's latest success and latest decisive run, through the (job_id, started_at DESC)
# index: a walk over the distinct job ids, then two index look-ups each; a scrape reads a
# few dozen rows however many runs the 30 days kept hold (60,000 runs: 0.3 ms on the server,
# 34 ms for a GROUP BY over them).
JOB_HEALTH = """
WITH RECURSIVE jobs AS (
    SELECT min(job_id) AS job_id FROM scheduler_runs
    UNION ALL
    SELECT (SELECT min(job_id) FROM scheduler_runs WHERE job_id > jobs.job_id)
    FROM jobs WHERE jobs.job_id IS NOT NULL
)
SELECT job_id,
    (SELECT finished_at FROM scheduler_runs r WHERE r.job_id = jobs.job_id
     AND outcome = 'ok' ORDER BY started_at DESC LIMIT 1),
    coalesce((SELECT outcome = 'failed' FROM scheduler_runs r WHERE r.job_id = jobs.job_id
     AND outcome IN ('ok', 'failed') ORDER BY started_at DESC LIMIT 1), false)
FROM jobs WHERE job_id IS NOT NULL ORDER BY job_id
"""


def job_health(pool: ConnectionPool) -> list[JobHealth]:
    """Each job that has run: its last success and whether it fails now (for /metrics)."""
    with pool.connection() as conn:
        rows = conn.execute(JOB_HEALTH).fetchall()
    return [JobHealth(*row) for row in rows]


def runs_of(pool: ConnectionPool, job_id: str) -> list[JobRun]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT job_id, tick, runner, started_at, finished_at, outcome, detail "
            "FROM scheduler_runs WHERE job_id = %s ORDER BY started_at",
            (job_id,),
        ).fetchall()
    return [JobRun(*row) for row in rows]


def purge_runs(pool: ConnectionPool, older_than: timedelta) -> int:
    with pool.connection() as conn, conn.transaction():
        cursor = conn.execute(
            "DELETE FROM scheduler_runs WHERE started_at < now() - %s AND outcome <> 'running'",
            (older_than,),
        )
        return cursor.rowcount


class JobScheduler:
    """An APScheduler BackgroundScheduler running `jobs` through run_job (thread pool)."""

    def __init__(self, pool: ConnectionPool, jobs: Sequence[Job]) -> None:
        self.pool = pool
        self.jobs = list(jobs)
        self.runner = runner_name()
        self._scheduler: Any = BackgroundScheduler(timezone=UTC)

    def start(self) -> None:
        for job in self.jobs:
            self._scheduler.add_job(
                self._fire,
                job.trigger(),
                args=[job],
                id=job.job_id,
                name=job.description,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=300,
            )
        self._scheduler.start()
        log.info("scheduler started", extra={"jobs": [job.job_id for job in self.jobs]})

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
        log.info("scheduler stopped")

    def _fire(self, job: Job) -> None:
        try:
            run_job(self.pool, job, runner=self.runner)
        except Exception:  # the database was away: the next tick tries again
            log.exception("job could not be run", extra={"job": job.job_id})
