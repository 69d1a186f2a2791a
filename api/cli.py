"""The `payments` command line: the composition root that starts each role."""

from __future__ import annotations

import logging
import sys

import click

from api.config import ConfigError, Settings
from api.database import DatabaseUnavailable, redact, start_embedded_postgres
from api.logs import configure_logging

log = logging.getLogger("payments.cli")


def load_settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(f"configuration: {error}") from None


def resolve_database_url(settings: Settings) -> str:
    """PAYMENTS_DATABASE_URL when set, else the embedded PostgreSQL in PAYMENTS_DATA_DIR."""
    if settings.database_url:
        return settings.database_url
    try:
        url = start_embedded_postgres(settings.data_dir)
    except DatabaseUnavailable as error:
        raise click.ClickException(str(error)) from None
    log.info("embedded postgres ready", extra={"data_dir": str(settings.data_dir)})
    return url


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """payments: an event-sourced payment system."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default PAYMENTS_HOST).")
@click.option("--port", type=int, default=None, help="API port (default PAYMENTS_PORT, 8000).")
@click.option("--no-sandbox", is_flag=True, help="Do not start the PSP sandbox beside the API.")
def serve(host: str | None, port: int | None, no_sandbox: bool) -> None:
    """Run the whole system in one process: API and every background role."""
    from api.serve import run_everything

    settings = load_settings()
    configure_logging(settings.log_level)
    database_url = resolve_database_url(settings)
    log.info("database", extra={"database": redact(database_url)})
    run_everything(
        settings,
        database_url,
        host=host or settings.host,
        port=port or settings.port,
        with_sandbox=not no_sandbox,
    )


@main.command()
def api() -> None:
    """Run only the HTTP API (for production, one process per role)."""
    from api.serve import run_everything

    settings = load_settings()
    configure_logging(settings.log_level)
    database_url = resolve_database_url(settings)
    run_everything(
        settings,
        database_url,
        host=settings.host,
        port=settings.port,
        with_sandbox=False,
        roles=(),
    )


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
