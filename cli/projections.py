"""`payments projections status|rebuild|run`: operate the order status, ledger and wallet views."""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import click

from payments.cli.settings import load_settings, resolve_database_url
from payments.projections.catalog import NAMES

BATCH_HELP = "Events per transaction while catching up."


def _services() -> Any:
    from payments.runtime.logs import configure_logging
    from payments.runtime.services import build_services

    settings = load_settings()
    configure_logging("WARNING" if settings.log_level == "INFO" else settings.log_level)
    return build_services(settings, resolve_database_url(settings))


def _names(names: tuple[str, ...], all_: bool) -> list[str]:
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise click.BadParameter(
            f"unknown projection(s) {', '.join(unknown)}; known: {', '.join(NAMES)}"
        )
    if all_ or not names:
        return list(NAMES)
    return list(names)


@click.group()
def projections() -> None:
    """The views fed by the event log: order_status, ledger, wallets."""


@projections.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(as_json: bool) -> None:
    """Position, lag (events and seconds) and state of each projection."""
    from rich.console import Console
    from rich.table import Table

    from payments.projections.catalog import projection_states

    services = _services()
    try:
        states = projection_states(services.application, services.pool)
    finally:
        services.close()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": s.name,
                        "state": s.state,
                        "position": s.position,
                        "head": s.head,
                        "lag_events": s.lag_events,
                        "lag_seconds": s.lag_seconds,
                        "runner": s.runner,
                        "poisoned_notification_id": s.poisoned_notification_id,
                        "poisoned_topic": s.poisoned_topic,
                        "poisoned_reason": s.poisoned_reason,
                        "poisoned_at": s.poisoned_at.isoformat() if s.poisoned_at else None,
                    }
                    for s in states
                ],
                indent=2,
            )
        )
        return
    table = Table("projection", "state", "position", "head", "lag (events)", "lag (s)", "runner")
    for s in states:
        colour = {"running": "green", "stopped": "yellow", "poisoned": "red"}[s.state]
        table.add_row(
            s.name,
            f"[{colour}]{s.state}[/]",
            str(s.position),
            str(s.head),
            str(s.lag_events),
            f"{s.lag_seconds:.1f}",
            s.runner or "-",
        )
    console = Console()
    console.print(table)
    for s in states:
        if s.state == "poisoned":
            console.print(
                f"[red]{s.name} is poisoned at notification {s.poisoned_notification_id} "
                f"({s.poisoned_topic}): {s.poisoned_reason}[/]"
            )


@projections.command()
@click.argument("names", nargs=-1)
@click.option("--all", "all_", is_flag=True, help="Rebuild every projection.")
@click.option("--batch-size", default=2000, show_default=True, help=BATCH_HELP)
def rebuild(names: tuple[str, ...], all_: bool, batch_size: int) -> None:
    """Rebuild NAME(s) from event zero into fresh tables, then swap them in atomically.

    The live view keeps serving (and its runner keeps running) meanwhile. Several views are
    rebuilt side by side from one reading of the log, then swapped in one after the other.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from payments.projections.rebuild import RebuildBusy, rebuild_all
    from payments.projections.source import ApplicationEventSource

    if not names and not all_:
        raise click.UsageError(f"name a projection ({', '.join(NAMES)}) or pass --all")
    chosen = _names(names, all_)
    services = _services()
    source = ApplicationEventSource(services.application)
    columns = (
        TextColumn("{task.description:13}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>14}"),
        TimeElapsedColumn(),
    )
    try:
        with Progress(*columns) as progress:
            task = progress.add_task("rebuilding", total=max(source.head(), 1), rate="")
            started = time.perf_counter()

            def report(position: int, head: int) -> None:
                rate = position / max(time.perf_counter() - started, 1e-9)
                progress.update(
                    task, completed=position, total=max(head, 1), rate=f"{rate:,.0f} ev/s"
                )

            try:
                results = rebuild_all(
                    services.pool, source, chosen, batch_size=batch_size, progress=report
                )
            except RebuildBusy as busy:
                raise click.ClickException(str(busy)) from None
            final = max(result.position for result in results)
            progress.update(task, completed=final, total=max(final, 1))
            for result in results:
                progress.console.print(
                    f"{result.name}: rebuilt to position {result.position}, "
                    f"{result.events_applied} events applied, swapped in after "
                    f"{result.seconds:.2f}s "
                    f"({result.position / max(result.seconds, 1e-9):,.0f} log events/s)"
                )
    except click.ClickException:
        raise
    except Exception as error:
        raise click.ClickException(f"rebuild failed: {type(error).__name__}: {error}") from None
    finally:
        source.close()
        services.close()


@projections.command()
@click.argument("names", nargs=-1)
@click.option("--batch-size", default=1000, show_default=True, help=BATCH_HELP)
@click.option(
    "--wait/--no-wait",
    default=False,
    show_default=True,
    help="If another process runs a projection, wait to take over instead of exiting.",
)
def run(names: tuple[str, ...], batch_size: int, wait: bool) -> None:
    """Run projections (default: all) in this process until Ctrl-C."""
    from payments.projections.service import ProjectionService
    from payments.runtime.logs import configure_logging

    chosen = _names(names, False)
    services = _services()
    configure_logging(load_settings().log_level)
    service = ProjectionService(
        services.application,
        services.pool,
        services.database_url,
        chosen,
        batch_size=batch_size,
        wait_for_lock=wait,
    )
    signal.signal(signal.SIGTERM, lambda *_: service.stop_event.set())
    service.start()
    try:
        while service.alive() and not service.stop_event.is_set():
            service.join(timeout=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
        services.close()
    if service.locked_out:
        raise click.ClickException(
            f"already running elsewhere: {', '.join(service.locked_out)} "
            "(one runner per projection; use --wait to stand by)"
        )
    if service.poisoned:
        raise click.ClickException(
            "; ".join(str(p) for p in service.poisoned.values())
            + " (see `payments projections status`)"
        )
