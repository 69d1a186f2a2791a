"""`payments audit ...`: seal the event log, check it, show its head."""

from __future__ import annotations

import json
import sys

import click

from projections.seal import AuditKeyMissing, EventLogSeal, Seal, require_audit_key


def _seal_json(seal: Seal) -> dict[str, object]:
    return {
        "seal_id": seal.seal_id,
        "from_position": seal.from_position,
        "to_position": seal.to_position,
        "event_count": seal.event_count,
        "chain_head": seal.chain_head.hex(),
        "sealed_at": seal.sealed_at.isoformat(),
        "signature": seal.signature.hex(),
    }


def _open_seal() -> tuple[EventLogSeal, object]:
    from api.cli import load_settings, resolve_database_url
    from api.logs import configure_logging
    from api.services import build_services

    settings = load_settings()
    configure_logging("WARNING")
    try:
        require_audit_key(settings.audit_key)
    except AuditKeyMissing as error:
        raise click.ClickException(str(error)) from None
    services = build_services(settings, resolve_database_url(settings))
    return EventLogSeal(services.pool, settings.audit_key), services


@click.group()
def audit() -> None:
    """Finance audit: a tamper-evident, sealed event log."""


@audit.command()
def seal() -> None:
    """Extend the hash chain over new events and record a signed seal (idempotent)."""
    sealer, services = _open_seal()
    try:
        sealed = sealer.seal()
    finally:
        services.close()  # type: ignore[attr-defined]
    if sealed is None:
        click.echo("nothing to seal: every stored event is already sealed")
        return
    click.echo(json.dumps(_seal_json(sealed), indent=2))
    click.echo(
        "Keep the chain head outside the database (print it, sign it, store it elsewhere).",
        err=True,
    )


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def check(as_json: bool) -> None:
    """Recompute the chain over sealed history; exit 1 naming the first broken position."""
    sealer, services = _open_seal()
    try:
        result = sealer.check()
        unsealed = sealer.unsealed_events()
        head = sealer.head()
    finally:
        services.close()  # type: ignore[attr-defined]
    report = {
        "ok": result.ok,
        "seals_checked": result.seals_checked,
        "events_checked": result.events_checked,
        "first_broken_position": result.first_broken_position,
        "reason": result.reason,
        "unsealed_events": unsealed,
        "chain_head": head.chain_head.hex() if head else None,
    }
    if as_json:
        click.echo(json.dumps(report, indent=2))
    elif result.ok:
        click.echo(
            f"OK: {result.events_checked} events in {result.seals_checked} seal(s) match their "
            f"chain; head {report['chain_head']}; {unsealed} event(s) not sealed yet"
        )
    else:
        click.echo(f"BROKEN at position {result.first_broken_position}: {result.reason}", err=True)
    if not result.ok:
        sys.exit(1)
