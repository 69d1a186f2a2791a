"""The scheduled jobs for operators and finance: each job's schedule, next run, latest run
and whether it fails now, as `payments scheduler jobs` shows them (docs/operations.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal, cast

import msgspec
from litestar import Controller, get

from payments.api.auth import access
from payments.api.openapi import spec
from payments.api.parameters import ServicesDep
from payments.domain.api_key import Role
from payments.runtime.scheduling import JobState, job_states
from payments.runtime.services import Services

Outcome = Literal["running", "ok", "failed", "skipped"]  # scheduler_runs' CHECK constraint


class JobRunView(msgspec.Struct, frozen=True, kw_only=True):
    tick: str  # the slot it ran for: the UTC day of a daily job, or the interval's number
    runner: str  # host:pid of the process that ran it
    started_at: datetime
    finished_at: datetime | None  # None while it runs
    outcome: Outcome
    detail: str


class JobView(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    description: str
    schedule: str  # "every 60 s" or "daily at 02:45 UTC"
    next_run_at: datetime | None
    last_run: JobRunView | None  # None: it never ran (or its runs were purged, after 30 days)
    last_success_at: datetime | None
    failing: bool  # its latest run that did not skip failed


class JobList(msgspec.Struct, frozen=True):
    jobs: list[JobView]


def job_view(state: JobState) -> JobView:
    run = state.last_run
    return JobView(
        job_id=state.job.job_id,
        description=state.job.description,
        schedule=state.job.schedule,
        next_run_at=state.next_run,
        last_run=None
        if run is None
        else JobRunView(
            tick=run.tick,
            runner=run.runner,
            started_at=run.started_at,
            finished_at=run.finished_at,
            outcome=cast(Outcome, run.outcome),
            detail=run.detail,
        ),
        last_success_at=state.health.last_success if state.health else None,
        failing=state.health.failing if state.health else False,
    )


def list_jobs(services: Services) -> JobList:
    return JobList([job_view(state) for state in job_states(services, datetime.now(UTC))])


class SchedulerController(Controller):
    path = "/scheduler"
    tags = ["operations"]

    @get(
        "/jobs",
        **spec("listScheduledJobs", "Each scheduled job: its schedule, next and latest run"),
        description=(
            "The daily finance routine (settlement reconcile, PSP balance check, payout run,"
            " seal, backup) and the frequent jobs. `failing`: the latest run that did not skip"
            " failed; `last_run.detail` says why."
        ),
        **access(Role.OPERATOR, Role.FINANCE),
    )
    def jobs(self, services: ServicesDep) -> JobList:
        return list_jobs(services)
