"""Scheduled jobs: the daily finance routine and the frequent jobs, each with its schedule,
next run, latest run and whether it fails now. The same `list_jobs()` and roles as
GET /scheduler/jobs (operator, finance)."""

from __future__ import annotations

from litestar import get
from litestar.response import Template

from payments.api.console.pages import CallerDep, Page, ServicesDep, render
from payments.api.routes.scheduler import list_jobs
from payments.domain.api_key import Role

PAGE = Page.of("/console/jobs", "Scheduled jobs", Role.OPERATOR, Role.FINANCE)


@get("/jobs", sync_to_thread=True, **PAGE.access)
def jobs_page(caller: CallerDep, services: ServicesDep) -> Template:
    jobs = list_jobs(services).jobs
    failing = [job.job_id for job in jobs if job.failing]
    return render("jobs.html", caller, PAGE, jobs=jobs, failing=failing)


HANDLERS = [jobs_page]
