"""`payments backup FILE` and `payments restore FILE`: the deployment's database to one file
and back, embedded server or server URL alike (runtime/backup.py, docs/operations.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click
import psycopg
from psycopg_pool import ConnectionPool
from rich.console import Console

from payments.cli.settings import load_settings, resolve_database_url
from payments.projections.audit.seal import EventLogSeal
from payments.runtime.backup import BackupFailed, Summary, backup, restore, scratch_database
from payments.runtime.config import Settings

Done = TypeVar("Done")


def _carry(
    doing: str, file: Path, action: Callable[[Settings, str, Path], Done]
) -> tuple[Settings, str, Done]:
    """Run `action` with this deployment's settings, database and `file` under a status
    line; a refusal ends the command on one line."""
    settings = load_settings()
    database_url = resolve_database_url(settings)
    with Console(stderr=True).status(f"{doing} {file}"):
        try:
            return settings, database_url, action(settings, database_url, file)
        except BackupFailed as error:
            raise click.ClickException(str(error)) from None


@click.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Write the whole database to FILE (a new file), consistent as of one instant, while
    the deployment runs. Keep the secrets apart from it (docs/operations.md)."""
    _, _, summary = _carry("pg_dump to", file, lambda _, url, out: backup(url, out))
    click.echo(f"backup written to {file}: {summary}")


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--check",
    is_flag=True,
    help="Restore FILE into a new database beside this deployment's, check its seals, drop it;"
    " the deployment's own database is not touched.",
)
def restore_command(file: Path, check: bool) -> None:
    """Restore a backup FILE into this deployment's database, which must be empty and
    unused (a new PAYMENTS_DATA_DIR, or a new database). All of it or nothing."""
    if check:
        _check(file)
        return
    settings, database_url, summary = _carry(
        "pg_restore from", file, lambda _, url, archive: restore(url, archive)
    )
    click.echo(f"restored from {file}: {summary}")
    if settings.audit_key is not None and _seals_of(database_url, settings.audit_key) == "other":
        click.echo(
            "warning: the restored seals were signed with another audit key, so every"
            " `payments audit check` will fail: use the backed-up deployment's key"
            " (its PAYMENTS_AUDIT_KEY, or its $PAYMENTS_DATA_DIR/secrets/audit_key copied over"
            " this deployment's)",
            err=True,
        )


def _seals_of(database_url: str, audit_key: str) -> str:
    """Who signed the database's seals: "this" key, an "other", or "none" (no seal table:
    no deployment ever used the database)."""
    try:
        with ConnectionPool(database_url, min_size=1, max_size=1) as pool:
            signed = EventLogSeal(pool, audit_key).signs_like_this_key()
    except psycopg.errors.UndefinedTable:
        return "none"
    return "this" if signed else "other"


def _check(file: Path) -> None:
    """Restore into a scratch database, check the whole sealed chain there, drop it."""
    _, _, (summary, seals) = _carry("checking", file, _restore_and_check)
    click.echo(f"{file} restores: {summary}; {seals}; the scratch database is dropped")


def _restore_and_check(settings: Settings, database_url: str, archive: Path) -> tuple[Summary, str]:
    key = settings.audit_key
    with scratch_database(database_url) as scratch:
        summary = restore(scratch, archive)
        if key is None or _seals_of(scratch, key) == "none":
            return summary, "no seals to check"
        with ConnectionPool(scratch, min_size=1, max_size=1) as pool:
            result = EventLogSeal(pool, key).check()
    if not result.ok:
        hint = (
            " (or it was sealed with another audit key)"
            if "signature" in str(result.reason)
            else ""
        )
        raise BackupFailed(
            f"{archive} restores ({summary}) but its sealed history does not check:"
            f" BROKEN at position {result.first_broken_position}: {result.reason}{hint}"
        )
    checked = f"{result.events_checked:,} event(s) in {result.seals_checked} seal(s) check"
    return summary, checked
