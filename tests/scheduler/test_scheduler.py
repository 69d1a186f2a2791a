"""Scheduler jobs: once per tick across processes, failures recorded, the scheduler goes on."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from psycopg_pool import ConnectionPool

from payments.runtime.database import apply_schema, open_pool
from payments.scheduler.metrics import SchedulerMetrics
from payments.scheduler.runner import (
    SCHEMA,
    Job,
    JobScheduler,
    JobSkipped,
    job_health,
    last_runs,
    run_job,
    runs_of,
)


@pytest.fixture
def pool(fresh_database_url: str) -> Iterator[ConnectionPool]:
    pool = open_pool(fresh_database_url, size=8)
    apply_schema(pool, SCHEMA)
    try:
        yield pool
    finally:
        pool.close()


def test_two_scheduler_processes_run_a_job_once_per_tick(pool: ConnectionPool) -> None:
    runs: Counter[str] = Counter()
    lock = threading.Lock()

    def work(now: datetime) -> str:
        with lock:
            runs[job.tick(now)] += 1
        time.sleep(0.05)
        return "done"

    job = Job("tick-job", "a test job", work, every=timedelta(seconds=0.5))
    schedulers = [JobScheduler(pool, [job]), JobScheduler(pool, [job])]
    for scheduler in schedulers:
        scheduler.start()
    time.sleep(2.6)
    for scheduler in schedulers:
        scheduler.stop()
    recorded = runs_of(pool, "tick-job")
    assert len(recorded) >= 3
    assert all(count == 1 for count in runs.values())
    assert sorted(runs) == sorted(run.tick for run in recorded)
    assert {run.outcome for run in recorded} == {"ok"}


def test_a_failing_job_is_recorded_and_the_scheduler_keeps_running(pool: ConnectionPool) -> None:
    calls: list[datetime] = []

    def fail(now: datetime) -> str:
        calls.append(now)
        raise RuntimeError("PSP unreachable")

    def fine(now: datetime) -> str:
        return "ok"

    failing = Job("failing-job", "fails", fail, every=timedelta(seconds=0.4))
    healthy = Job("healthy-job", "works", fine, every=timedelta(seconds=0.4))
    scheduler = JobScheduler(pool, [failing, healthy])
    scheduler.start()
    time.sleep(1.5)
    scheduler.stop()
    failed = runs_of(pool, "failing-job")
    assert len(failed) >= 2  # it failed, and ran again at the next tick
    assert {run.outcome for run in failed} == {"failed"}
    assert failed[0].detail == "RuntimeError: PSP unreachable"
    assert failed[0].finished_at is not None
    assert {run.outcome for run in runs_of(pool, "healthy-job")} == {"ok"}
    assert last_runs(pool)["failing-job"].outcome == "failed"


def test_a_run_is_skipped_while_another_process_holds_the_job(pool: ConnectionPool) -> None:
    started, release = threading.Event(), threading.Event()

    def slow(now: datetime) -> str:
        started.set()
        release.wait(5)
        return "slow done"

    job = Job("daily-job", "daily", slow, daily_at=(2, 0))
    now = datetime(2031, 5, 6, 2, 0, tzinfo=UTC)
    first = threading.Thread(target=lambda: run_job(pool, job, now=now))
    first.start()
    assert started.wait(5)
    assert run_job(pool, job, now=now, tick="other-tick") is None  # lock held: skipped
    release.set()
    first.join()
    assert run_job(pool, job, now=now) is None  # this day's tick already ran
    [run] = runs_of(pool, "daily-job")
    assert (run.tick, run.outcome, run.detail) == ("2031-05-06", "ok", "slow done")


def test_a_skipped_job_says_why(pool: ConnectionPool) -> None:
    def skip(now: datetime) -> str:
        raise JobSkipped("PAYMENTS_AUDIT_KEY is not set")

    run = run_job(pool, Job("seal", "seal", skip, daily_at=(3, 0)))
    assert run is not None
    assert (run.outcome, run.detail) == ("skipped", "PAYMENTS_AUDIT_KEY is not set")


def test_metrics_say_when_each_job_last_succeeded_and_which_fails_now(
    pool: ConnectionPool,
) -> None:
    outcomes = {"nightly": ["ok", "failed"], "hourly": ["failed", "ok", "skipped"]}

    def scripted(job_id: str) -> Job:
        def run(now: datetime) -> str:
            outcome = outcomes[job_id].pop(0)
            if outcome == "failed":
                raise RuntimeError("the PSP was away")
            if outcome == "skipped":
                raise JobSkipped("nothing to do")
            return "done"

        return Job(job_id, job_id, run, every=timedelta(hours=1))

    start = datetime(2031, 5, 6, 1, 0, tzinfo=UTC)
    for hour, job_id in enumerate(["nightly", "hourly", "nightly", "hourly", "hourly"]):
        assert run_job(pool, scripted(job_id), now=start + timedelta(hours=hour)) is not None
    registry = CollectorRegistry()
    registry.register(SchedulerMetrics(lambda: job_health(pool)))
    samples = {
        (sample.name, sample.labels["job"]): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    assert samples[("payments_scheduler_job_failing", "nightly")] == 1  # ok, then failed
    assert samples[("payments_scheduler_job_failing", "hourly")] == 0  # failed, ok, skipped
    for job_id in ("nightly", "hourly"):
        [succeeded] = [run for run in runs_of(pool, job_id) if run.outcome == "ok"]
        assert succeeded.finished_at is not None
        assert samples[("payments_scheduler_last_success_timestamp_seconds", job_id)] == (
            pytest.approx(succeeded.finished_at.timestamp())
        )
