"""What every `payments` command starts from: validated settings and the database URL."""

from __future__ import annotations

import logging

import click

from payments.runtime.config import ConfigError, Settings
from payments.runtime.database import embedded_max_connections, start_embedded_postgres
from payments.runtime.secrets import with_secrets

log = logging.getLogger("payments.cli")


def load_settings() -> Settings:
    """PAYMENTS_* settings with every secret resolved (runtime/secrets.py)."""
    try:
        settings = Settings.from_env()
        try:
            return with_secrets(settings)
        except OSError as error:  # the sandbox's secrets are kept in the data directory
            raise click.ClickException(
                f"cannot write the data directory {settings.data_dir} (PAYMENTS_DATA_DIR):"
                f" {error.strerror or error}: {error.filename}"
            ) from None
    except ConfigError as error:
        raise click.ClickException(f"configuration: {error}") from None


def resolve_database_url(settings: Settings) -> str:
    """PAYMENTS_DATABASE_URL when set, else the embedded PostgreSQL in PAYMENTS_DATA_DIR."""
    if settings.database_url:
        return settings.database_url
    # A server that will not start raises CannotStart: the command line's group says it
    url = start_embedded_postgres(
        settings.data_dir,
        max_connections=embedded_max_connections(settings.api_processes, settings.db_pool_size),
    )
    log.info("embedded postgres ready", extra={"data_dir": str(settings.data_dir)})
    return url
