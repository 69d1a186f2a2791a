"""`payments privacy ...`: erase a buyer's personal data, read a checkout's (docs/security.md)."""

from __future__ import annotations

import getpass
import json

import click
import msgspec

from payments.cli.settings import load_settings, resolve_database_url


def _operator() -> str:
    """Who runs the command, as the erasure record names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in this environment
        return "cli"


@click.group()
def privacy() -> None:
    """Personal data: erase a buyer's for good, or read a checkout's buyer_info."""


@privacy.command()
@click.option("--buyer", "buyer_id", help="The buyer_info.buyer_id whose data to erase.")
@click.option("--checkout", "checkout_id", help="A checkout placed without a buyer_id.")
@click.option("--json", "as_json", is_flag=True, help="Print the erasure as JSON.")
def erase(buyer_id: str | None, checkout_id: str | None, as_json: bool) -> None:
    """Erase the keys of a buyer's (or a checkout's) personal data: every buyer_info sealed
    under them becomes unreadable for good, and an Erasure event records it. Orders, the
    ledger, reconciliation and the audit chain stay as they are. Exit 1 when no key was
    ever made for it."""
    from payments.api.routes.privacy import ErasureRequest, erasure_body, subject_of_request
    from payments.domain.errors import InvalidCommand
    from payments.runtime.logs import configure_logging
    from payments.runtime.privacy import erase_subject
    from payments.runtime.services import build_services

    try:
        given = {"buyer_id": buyer_id, "checkout_id": checkout_id}
        subject = subject_of_request(msgspec.convert(given, ErasureRequest))
    except InvalidCommand:
        raise click.UsageError("give exactly one of --buyer or --checkout") from None
    except msgspec.ValidationError as error:
        message = str(error).replace("`$.buyer_id`", "--buyer")
        raise click.UsageError(message.replace("`$.checkout_id`", "--checkout")) from None
    settings = load_settings()
    configure_logging("WARNING")
    services = build_services(settings, resolve_database_url(settings))
    try:
        outcome = erase_subject(services.personal_data, services.erasures, subject, _operator())
    finally:
        services.close()
    if outcome is None:
        raise click.ClickException("no personal data is held for it: no key was ever made")
    body = erasure_body(outcome.erasure)
    if as_json:
        click.echo(msgspec.json.encode(body).decode())
        return
    verb = "erased" if outcome.erased_now else "already erased"
    click.echo(
        f"{verb}: {body.keys_erased} key(s), erasure {body.erasure_id} at "
        f"{body.erased_at.isoformat()} by {body.requested_by}"
    )


@privacy.command()
@click.option("--checkout", "checkout_id", required=True, help="The checkout to read.")
def show(checkout_id: str) -> None:
    """Print a checkout's buyer_info as JSON, or why it cannot be read (state: erased)."""
    from payments.api.routes.privacy import buyer_info_body
    from payments.domain.errors import NotFound
    from payments.runtime.logs import configure_logging
    from payments.runtime.privacy import read_buyer_info
    from payments.runtime.services import build_services

    settings = load_settings()
    configure_logging("WARNING")
    services = build_services(settings, resolve_database_url(settings))
    try:
        checkout, reading = read_buyer_info(
            services.application, services.personal_data, checkout_id
        )
    except NotFound as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()
    body = msgspec.to_builtins(buyer_info_body(checkout.checkout_id, reading))
    click.echo(json.dumps(body, indent=2, sort_keys=True))
