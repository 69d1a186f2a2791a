"""`payments keys create|list|revoke|rotate`: API keys, on the database, server up or not."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import click

from payments.cli.settings import load_settings, resolve_database_url
from payments.domain.api_key import Role
from payments.domain.errors import DomainError
from payments.runtime.logs import configure_logging
from payments.runtime.services import Services, build_services

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _services() -> Services:
    settings = load_settings()
    configure_logging("WARNING")
    return build_services(settings, resolve_database_url(settings))


def _grace(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise click.BadParameter("use a number and s, m, h or d, e.g. 24h", param_hint="--grace")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


@click.group()
def keys() -> None:
    """API keys: each has one role; the key is shown once, only its hash is kept."""


@keys.command("create")
@click.option(
    "--role", required=True, type=click.Choice([r.value for r in Role]), help="What it may do."
)
@click.option("--seller", "seller_account", default=None, help="The seller a seller key reads.")
@click.option("--name", default="", help="A label for lists and logs.")
@click.option("--json", "as_json", is_flag=True, help='Print {"key", "id", "role"} as JSON.')
def create(role: str, seller_account: str | None, name: str, as_json: bool) -> None:
    """Create a key and print it (the only time it is shown)."""
    services = _services()
    try:
        key, _ = services.issue_key(Role(role), seller_account, name, by="cli")
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()
    if as_json:
        click.echo(json.dumps({"key": key.text, "id": key.key_id, "role": role}))
        return
    click.echo(key.text)
    click.echo(f"id {key.key_id}, role {role}: store it now; it is not shown again.", err=True)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_keys(as_json: bool) -> None:
    """Every key: id, role, seller, name, created, revoked or expiring (never a secret)."""
    services = _services()
    try:
        rows = services.key_list()
    finally:
        services.close()
    if as_json:
        click.echo(json.dumps([row.as_json() for row in rows], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("id", "role", "seller", "name", "created (UTC)", "state")
    for row in rows:
        table.add_row(
            row.key_id,
            row.role,
            row.seller_account or "",
            row.name,
            row.created_at.strftime("%Y-%m-%d %H:%M"),
            row.state,
        )
    Console(width=160).print(table)


@keys.command("revoke")
@click.argument("key_id")
@click.option("--reason", default="revoked by operator", show_default=True)
def revoke(key_id: str, reason: str) -> None:
    """Revoke a key at once (within a few seconds in every process)."""
    services = _services()
    try:
        services.key_commands.revoke(key_id, by="cli", reason=reason)
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()
    click.echo(f"revoked {key_id}")


@keys.command("rotate")
@click.argument("key_id")
@click.option("--grace", default="24h", show_default=True, help="How long the old key works.")
@click.option("--json", "as_json", is_flag=True)
def rotate(key_id: str, grace: str, as_json: bool) -> None:
    """A new key with the same role; the old one keeps working for the grace period."""
    period = _grace(grace)
    services = _services()
    try:
        key, role = services.rotate_key(key_id, period, by="cli")
    except DomainError as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()
    if as_json:
        click.echo(json.dumps({"key": key.text, "id": key.key_id, "role": role.value}))
        return
    click.echo(key.text)
    click.echo(f"id {key.key_id} replaces {key_id}, which works for {grace} more.", err=True)
