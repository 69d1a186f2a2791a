"""`payments backup FILE` and `payments restore FILE`: the deployment's database to one file
and back, embedded server or server URL alike (runtime/backup.py, docs/operations.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
import psycopg
from rich.console import Console

from payments.cli.settings import load_settings, resolve_database_url
from payments.runtime.backup import BackupFailed, Summary, backup, restore
from payments.runtime.config import Settings


def _carry(
    doing: str, file: Path, action: Callable[[str, Path], Summary]
) -> tuple[Settings, str, Summary]:
    """Run `action` on this deployment's database and `file` under a status line; a
    refusal ends the command on one line."""
    settings = load_settings()
    database_url = resolve_database_url(settings)
    with Console(stderr=True).status(f"{doing} {file}"):
        try:
            return settings, database_url, action(database_url, file)
        except BackupFailed as error:
            raise click.ClickException(str(error)) from None


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Write the whole database to FILE (a new file), consistent as of one instant, while
    the deployment runs. Keep the secrets apart from it (docs/operations.md)."""
    _, _, summary = _carry("pg_dump to", file, backup)
    click.echo(f"backup written to {file}: {summary}")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def restore_command(file: Path) -> None:
    """Restore a backup FILE into this deployment's database, which must be empty and
    unused (a new PAYMENTS_DATA_DIR, or a new database). All of it or nothing."""
    from psycopg_pool import ConnectionPool

    from payments.projections.audit.seal import EventLogSeal

    settings, database_url, summary = _carry("pg_restore from", file, restore)
    click.echo(f"restored from {file}: {summary}")
    if settings.audit_key is None:
        return
    try:
        with ConnectionPool(database_url, min_size=1, max_size=1) as pool:
            signed = EventLogSeal(pool, settings.audit_key).signs_like_this_key()
    except psycopg.errors.UndefinedTable:  # a backup of a database no deployment ever used
        return
    if not signed:
        click.echo(
            "warning: the restored seals were signed with another audit key, so every"
            " `payments audit check` will fail: use the backed-up deployment's key"
            " (its PAYMENTS_AUDIT_KEY, or its $PAYMENTS_DATA_DIR/secrets/audit_key copied over"
            " this deployment's)",
            err=True,
        )
