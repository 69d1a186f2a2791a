"""The scheduler's real jobs on the running stack, and `payments scheduler jobs`."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from payments.cli.main import main
from payments.domain.payout_commands import RequestPayout, payout_id_for_run
from payments.runtime.scheduling import job_dependencies
from payments.scheduler.jobs import build_jobs, job_by_id
from payments.scheduler.runner import run_job
from tests.executor.conftest import Stack
from tests.payouts.helpers import credit, seller


def test_every_job_has_a_stable_id_and_the_finance_jobs_are_daily(stack: Stack) -> None:
    jobs = {job.job_id: job for job in build_jobs(job_dependencies(stack.services))}
    assert set(jobs) == {
        "executor-due-work",
        "stuck-requery",
        "dispute-requery",
        "kyc-requery",
        "settlement-reconcile",
        "psp-balance-check",
        "payout-run",
        "audit-seal",
        "database-backup",
        "idempotency-purge",
        "funds-release",
        "webhook-endpoint-health",
    }
    daily = ("settlement-reconcile", "psp-balance-check", "payout-run", "audit-seal")
    assert all(jobs[name].daily_at for name in (*daily, "database-backup"))
    # in that order through the night, the backup last so that it holds the day's seal
    times = [jobs[name].daily_at for name in (*daily, "database-backup")]
    assert times == sorted(times)


def test_the_payout_job_pays_sellers_above_the_minimum_once_a_day(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as deployed: its log line once failed the run at INFO
    rich, poor = seller("rich"), seller("poor")
    credit(stack, rich, ["25"])
    credit(stack, poor, ["3"])  # below PAYMENTS_PAYOUT_MINIMUM (10)
    job = job_by_id(job_dependencies(stack.services), "payout-run")
    now = datetime(2032, 3, 4, 2, 15, tzinfo=UTC)
    run = run_job(stack.services.pool, job, now=now)
    assert run is not None
    assert run.outcome == "ok"
    assert stack.services.application.find_payout(payout_id_for_run("2032-03-04", rich))
    assert stack.services.application.find_payout(payout_id_for_run("2032-03-04", poor)) is None
    assert run_job(stack.services.pool, job, now=now + timedelta(hours=1)) is None  # same day
    [line] = [r for r in caplog.records if r.getMessage() == "payout run"]
    assert line.__dict__["counts"]["created"] >= 1


def test_operational_jobs_run_and_the_seal_is_skipped_without_a_key(stack: Stack) -> None:
    now = datetime.now(UTC)
    for job_id, outcome in [
        ("executor-due-work", "ok"),
        ("stuck-requery", "ok"),
        ("idempotency-purge", "ok"),
        ("audit-seal", "skipped"),
        ("webhook-endpoint-health", "skipped"),  # PAYMENTS_DELIVERY_DISABLE_AFTER_DAYS unset
    ]:
        run = run_job(
            stack.services.pool, job_by_id(job_dependencies(stack.services), job_id), now=now
        )
        assert run is not None
        assert run.outcome == outcome, run.detail


def test_stuck_payout_gets_a_requery_queued(stack: Stack) -> None:
    account = seller("stuck")
    credit(stack, account, ["6"])
    placement = stack.services.payouts.request_payout(
        RequestPayout(f"stuck_{account}", account, 600)
    )
    uuid = placement.payout.id
    stack.executor.feeder.run_once()
    with stack.services.pool.connection() as conn:
        conn.execute(
            "UPDATE execution_queue SET enqueued_at = now() - interval '2 hours', "
            "due_at = now() + interval '1 day', kind = 'requery' WHERE aggregate_uuid = %s",
            (uuid,),
        )
    job = job_by_id(job_dependencies(stack.services), "stuck-requery")
    run = run_job(stack.services.pool, job, tick=f"test-{account}")
    assert run is not None
    assert run.detail.startswith(("1 ", "2 ", "3 "))
    with stack.services.pool.connection() as conn:
        row = conn.execute(
            "SELECT kind, due_at <= now() FROM execution_queue WHERE aggregate_uuid = %s", (uuid,)
        ).fetchone()
    assert row == ("requery", True)


def test_scheduler_jobs_lists_each_job_with_its_next_run_and_last_result(stack: Stack) -> None:
    result = CliRunner().invoke(main, ["scheduler", "jobs"], env=stack.env)
    assert result.exit_code == 0, result.output
    for job_id in ("payout-run", "audit-seal", "stuck-requery", "idempotency-purge"):
        assert job_id in result.output
    assert "skipped" in result.output  # the seal's last result
