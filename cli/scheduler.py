"""`payments scheduler`: run the jobs in a process of their own, list them, run one now."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime

import click

from payments.cli.settings import load_settings, resolve_database_url
from payments.runtime.logs import configure_logging


@click.group(invoke_without_command=True)
@click.pass_context
def scheduler(ctx: click.Context) -> None:
    """Run the scheduler until Ctrl-C / SIGTERM (safe beside other scheduler processes)."""
    if ctx.invoked_subcommand is not None:
        return
    from payments.runtime.scheduling import job_dependencies
    from payments.runtime.services import build_services
    from payments.scheduler.jobs import build_scheduler

    settings = load_settings()
    configure_logging(settings.log_level)
    services = build_services(settings, resolve_database_url(settings))
    job_scheduler = build_scheduler(job_dependencies(services))
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    job_scheduler.start()
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        job_scheduler.stop()
        services.close()


@scheduler.command("jobs")
def list_jobs() -> None:
    """Each job with its schedule, next run time, last result and last success; exit 1 when
    a job fails now (its latest run that did not skip failed)."""
    from rich.console import Console
    from rich.table import Table

    from payments.runtime.scheduling import job_states
    from payments.runtime.services import build_services

    def when(instant: datetime | None) -> str:
        return instant.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if instant else "never"

    settings = load_settings()
    configure_logging("WARNING")
    services = build_services(settings, resolve_database_url(settings))
    try:
        states = job_states(services, datetime.now(UTC))
    finally:
        services.close()
    table = Table(
        "job", "schedule", "next run (UTC)", "last run", "result", "last success", "detail"
    )
    for state in states:
        run, failing = state.last_run, state.health is not None and state.health.failing
        table.add_row(
            state.job.job_id,
            state.job.schedule,
            when(state.next_run),
            when(run.started_at if run else None),
            (run.outcome if run else "-")
            + (" (failing)" if failing and run and run.outcome != "failed" else ""),
            when(state.health.last_success if state.health else None),
            run.detail if run else "",
            style="red" if failing else None,
        )
    Console(width=200).print(table)
    names = [s.job.job_id for s in states if s.health is not None and s.health.failing]
    if names:
        raise click.ClickException(f"failing now: {', '.join(names)}")


@scheduler.command("run")
@click.argument("job_id")
def run_now(job_id: str) -> None:
    """Run one job now, once (recorded like a scheduled run, with tick manual-<time>)."""
    from payments.runtime.scheduling import job_dependencies
    from payments.runtime.services import build_services
    from payments.scheduler.jobs import job_by_id
    from payments.scheduler.runner import run_job

    settings = load_settings()
    configure_logging("WARNING")
    services = build_services(settings, resolve_database_url(settings))
    try:
        try:
            job = job_by_id(job_dependencies(services), job_id)
        except KeyError as error:
            raise click.ClickException(str(error.args[0])) from None
        now = datetime.now(UTC)
        result = run_job(services.pool, job, now=now, tick=f"manual-{now.isoformat()}")
        if result is None:
            raise click.ClickException(f"{job_id} is running in another process; try later")
        click.echo(f"{job_id}: {result.outcome}: {result.detail}")
        if result.outcome == "failed":
            raise SystemExit(1)
    finally:
        services.close()
