"""The `payments` command line: one command per role and per operator task.

Commands of other distributions (e.g. `payments bench`) join through the entry-point group
`payments.commands`, so this package never imports them.
"""

from __future__ import annotations

import functools
import logging
import signal
import sys
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import click

from payments import __version__
from payments.cli.audit import audit
from payments.cli.backup import backup_command, restore_command
from payments.cli.keys import keys
from payments.cli.privacy import privacy
from payments.cli.projections import projections
from payments.cli.reconcile import reconcile
from payments.cli.scheduler import scheduler
from payments.cli.settings import load_settings, resolve_database_url
from payments.runtime.config import ConfigError, Settings
from payments.runtime.database import redact, sessions_in_utc
from payments.runtime.logs import configure_logging
from payments.runtime.ports import CannotStart, require_free_port
from payments.runtime.secrets import require_https
from payments.runtime.serve import TlsFiles

log = logging.getLogger("payments.cli")


class _Commands(click.Group):
    """What cannot start (a database out of reach, a port in use) ends any command with its
    reason on one line (`Error: ...`, exit 1), not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except CannotStart as error:
            raise click.ClickException(str(error)) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="payments")
def main() -> None:
    """payments: an event-sourced payment system."""
    sessions_in_utc()  # before any command connects, in this process and its children
    # Ctrl-C stops every command, also one started where SIGINT is ignored (a script's
    # background job, nohup): Python would otherwise keep an inherited SIG_IGN.
    signal.signal(signal.SIGINT, signal.default_int_handler)


def tls_options(command: Callable[..., None]) -> Callable[..., None]:
    """--ssl-certfile and --ssl-keyfile (uvicorn's), both or neither."""
    for option in (
        click.option(
            "--ssl-keyfile",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            envvar="PAYMENTS_SSL_KEYFILE",
            help="PEM private key (with --ssl-certfile: serve HTTPS only).",
        ),
        click.option(
            "--ssl-certfile",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            envvar="PAYMENTS_SSL_CERTFILE",
            help="PEM certificate chain for HTTPS.",
        ),
    ):
        command = option(command)
    return command


def _tls(certfile: Path | None, keyfile: Path | None, settings: Settings) -> TlsFiles | None:
    if (certfile is None) != (keyfile is None):
        raise click.UsageError("give both --ssl-certfile and --ssl-keyfile, or neither")
    tls = TlsFiles(certfile, keyfile) if certfile and keyfile else None
    try:
        require_https(settings, tls=tls is not None)
    except ConfigError as error:
        raise click.ClickException(f"configuration: {error}") from None
    return tls


@main.command()
@click.option("--host", default=None, help="Interface to bind (default PAYMENTS_HOST).")
@click.option("--port", type=int, default=None, help="API port (default PAYMENTS_PORT, 8000).")
@click.option("--no-sandbox", is_flag=True, help="Do not start the PSP sandbox beside the API.")
@tls_options
def serve(
    host: str | None,
    port: int | None,
    no_sandbox: bool,
    ssl_certfile: Path | None,
    ssl_keyfile: Path | None,
) -> None:
    """Run the whole system in one process: API and every background role."""
    from payments.api.app import create_app
    from payments.runtime.roles import RoleFactory, child_role, executor_role
    from payments.runtime.scheduling import scheduler_role
    from payments.runtime.serve import run_everything

    settings = load_settings()
    configure_logging(settings.log_level)
    tls = _tls(ssl_certfile, ssl_keyfile, settings)
    host, port = host or settings.host, port or settings.port
    require_free_port(host, port, "the API", "PAYMENTS_PORT or --port")
    if not no_sandbox and not settings.psp_url:
        sandbox_port = settings.psp_sandbox_port
        if sandbox_port == port:
            raise click.UsageError(f"the API and the PSP sandbox cannot share port {port}")
        require_free_port("127.0.0.1", sandbox_port, "the PSP sandbox", "PAYMENTS_PSP_SANDBOX_PORT")
    database_url = resolve_database_url(settings)
    log.info("database", extra={"database": redact(database_url)})
    roles: list[RoleFactory] = [] if no_sandbox and not settings.psp_url else [executor_role]
    # Projections catch up in big CPU-bound batches: a child process keeps them off the
    # API's GIL (measured: ~30 % of ingest throughput when they shared the process).
    roles.append(child_role("projections", ["projections", "run", "--wait"]))
    roles.append(scheduler_role)
    run_everything(
        settings,
        database_url,
        host=host,
        port=port,
        with_sandbox=not no_sandbox,
        create_app=functools.partial(create_app, tls=tls is not None),
        roles=roles,
        tls=tls,
    )


@main.command()
@tls_options
def api(ssl_certfile: Path | None, ssl_keyfile: Path | None) -> None:
    """Run only the HTTP API (for production, one process per role)."""
    from payments.api.app import create_app
    from payments.runtime.serve import run_everything

    settings = load_settings()
    configure_logging(settings.log_level)
    tls = _tls(ssl_certfile, ssl_keyfile, settings)
    require_free_port(settings.host, settings.port, "the API", "PAYMENTS_PORT")
    database_url = resolve_database_url(settings)
    run_everything(
        settings,
        database_url,
        host=settings.host,
        port=settings.port,
        with_sandbox=False,
        create_app=functools.partial(create_app, tls=tls is not None),
        roles=(),
        tls=tls,
    )


@main.command("api-process", hidden=True)
@click.option("--fd", type=int, required=True, help="The listening socket to serve on.")
@click.option("--psp-url", default=None, help="The bundled sandbox's URL, when there is one.")
@tls_options
def api_process(
    fd: int, psp_url: str | None, ssl_certfile: Path | None, ssl_keyfile: Path | None
) -> None:
    """One of the API processes `payments serve` and `payments api` start when
    PAYMENTS_API_PROCESSES is above 1 (ADR 0020); not a command to run by hand."""
    from payments.api.app import create_app
    from payments.runtime.serve import serve_inherited_socket

    settings = load_settings()
    configure_logging(settings.log_level)
    if not settings.database_url:
        raise click.UsageError("an API process is started by its parent, which names the database")
    tls = _tls(ssl_certfile, ssl_keyfile, settings)
    serve_inherited_socket(
        settings,
        fd,
        create_app=functools.partial(create_app, tls=tls is not None),
        psp_url=psp_url,
        tls=tls,
    )


@main.command()
def worker() -> None:
    """Run the payment executor alone: follow new orders, charge them at PAYMENTS_PSP_URL;
    and send webhooks to merchants' endpoints."""
    import signal
    import threading

    from payments.runtime.roles import executor_role
    from payments.runtime.services import build_services

    settings = load_settings()
    configure_logging(settings.log_level)
    services = build_services(settings, resolve_database_url(settings))
    role = executor_role(services)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    role.start()
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        role.stop()
        services.close()


@main.group()
def dlq() -> None:
    """The dead-letter queue: orders parked after their last retry."""


@dlq.command("list")
@click.option("--payouts", is_flag=True, help="List dead-lettered payouts instead of orders.")
@click.option("--refunds", is_flag=True, help="List dead-lettered refunds instead of orders.")
def dlq_list(payouts: bool, refunds: bool) -> None:
    """List dead-lettered orders (or --payouts, --refunds) with their attempts and last error."""
    from rich.console import Console
    from rich.table import Table

    from payments.api.routes.dead_letters import parked
    from payments.runtime.services import build_services

    target, kind, id_column = _dead_letter_target(payouts, refunds)
    settings = load_settings()
    configure_logging("WARNING")
    services = build_services(settings, resolve_database_url(settings))
    try:
        table = Table(id_column, "attempts", "last error", "dead-lettered at")
        letters = parked(services, target)
        for d in letters:
            table.add_row(
                d.reference, str(d.attempts), d.last_error, d.dead_lettered_at.isoformat()
            )
        Console().print(table)
        click.echo(f"{len(letters)} dead-lettered {kind}(s)")
    finally:
        services.close()


def _dead_letter_target(payouts: bool, refunds: bool) -> tuple[str, str, str]:
    """(the execution queue's target, its noun, its id's name) for --payouts / --refunds."""
    from payments.projections.followers.execution_queue import CHARGE, PAYOUT, REFUND

    if payouts and refunds:
        raise click.UsageError("give --payouts or --refunds, not both")
    if payouts:
        return PAYOUT, "payout", "payout_id"
    if refunds:
        return REFUND, "refund", "refund_id"
    return CHARGE, "order", "payment_order_id"


@dlq.command("replay")
@click.argument("payment_order_id", required=False)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead-lettered order.")
@click.option("--reason", default="replayed by operator", show_default=True)
@click.option("--payouts", is_flag=True, help="The id is a payout_id; --all replays payouts.")
@click.option("--refunds", is_flag=True, help="The id is a refund_id; --all replays refunds.")
def dlq_replay(
    payment_order_id: str | None, replay_all: bool, reason: str, payouts: bool, refunds: bool
) -> None:
    """Send one dead-lettered order (or payout, refund, or --all) back to the executor."""
    from payments.api.routes.dead_letters import parked, replay
    from payments.domain.errors import DomainError
    from payments.runtime.services import build_services

    if bool(payment_order_id) == replay_all:
        raise click.UsageError("give one PAYMENT_ORDER_ID or --all")
    target, _, _ = _dead_letter_target(payouts, refunds)
    settings = load_settings()
    configure_logging("WARNING")
    services = build_services(settings, resolve_database_url(settings))
    try:
        ids = (
            [d.reference for d in parked(services, target)]
            if replay_all
            else [str(payment_order_id)]
        )
        result = replay(services, target, ids, reason, "cli")
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()
    click.echo(f"replayed {len(result.replayed)} order(s): {' '.join(result.replayed)}")


@main.command(
    "psp-sandbox",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def psp_sandbox(args: tuple[str, ...]) -> None:
    """Run the sandbox PSP alone (`payments psp-sandbox --help` for its options)."""
    from payments.psp.sandbox.__main__ import main as sandbox_main

    arguments = list(args)
    if "--db" not in arguments and "-h" not in arguments and "--help" not in arguments:
        settings = load_settings()
        directory = settings.data_dir / "psp-sandbox"
        directory.mkdir(parents=True, exist_ok=True)
        arguments += ["--db", str(directory / "psp-sandbox.sqlite3")]
    sandbox_main(arguments)


main.add_command(keys)
main.add_command(projections)
main.add_command(audit)
main.add_command(reconcile)
main.add_command(scheduler)
main.add_command(privacy)
main.add_command(backup_command)
main.add_command(restore_command)
for entry_point in entry_points(group="payments.commands"):
    main.add_command(entry_point.load(), entry_point.name)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
