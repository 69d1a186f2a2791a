"""`payments audit ...`: seal and check the event log; replay as of an instant; verify the
views against history; export the journal (docs/audit.md)."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from payments.cli.settings import load_settings, resolve_database_url
from payments.projections.audit.seal import AuditKeyMissing, EventLogSeal, Seal, require_audit_key
from payments.projections.audit.seal_checks import check_and_record


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
    from payments.runtime.logs import configure_logging
    from payments.runtime.services import build_services

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
    """Finance audit: as-of replays, verify, a sealed event log, journal export."""


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
        result = check_and_record(sealer, "cli").result  # the console shows the last check
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


# --- replay, verify, export ----------------------------------------------------------------


def _services() -> Any:
    from payments.runtime.logs import configure_logging
    from payments.runtime.services import build_services

    settings = load_settings()
    configure_logging("WARNING")
    return build_services(settings, resolve_database_url(settings))


def _instant(option: str, text: str, *, allow_future: bool = False) -> datetime:
    from payments.projections.audit.instants import InstantError, parse_instant

    try:
        return parse_instant(text, allow_future=allow_future)
    except InstantError as error:
        raise click.BadParameter(f"{text!r} {error}", param_hint=option) from None


def _money(minor: int, currency: str) -> str:
    from payments.domain.money import format_minor

    return format_minor(minor, currency)


def _replay_report(
    services: Any, instant: datetime, order: str | None, account: str | None, wallet: str | None
) -> dict[str, Any]:
    import msgspec

    from payments.api.as_of import read_order_as_of
    from payments.api.problems import ProblemError
    from payments.projections.audit import as_of as history
    from payments.projections.audit.instants import format_instant

    pool, app = services.pool, services.application
    report: dict[str, Any] = {"as_of": format_instant(instant)}
    if order is not None:
        try:
            report["order"] = msgspec.to_builtins(read_order_as_of(services, order, instant))
        except ProblemError as error:
            raise click.ClickException(error.problem.detail) from None
    if account is not None:
        balance, state = history.account_as_of(pool, app, account, instant)
        if balance is None:
            raise click.ClickException(f"ledger account {account!r} has no entries by then")
        report["account"] = _balance_json(balance)
        report["position"] = state.head
    if wallet is not None:
        found = history.wallet_as_of(pool, app, wallet, instant)
        if found is None:
            raise click.ClickException(f"wallet of seller {wallet!r} has no credits by then")
        report["wallet"] = {
            "seller_account": found.seller_account,
            "currency": found.currency,
            "pending": _money(found.pending_minor, found.currency),
            "available": _money(found.available_minor, found.currency),
            "in_transit": _money(found.in_transit_minor, found.currency),
            "paid_out": _money(found.paid_out_minor, found.currency),
            "balance": _money(found.balance_minor, found.currency),
            "credit_count": found.credit_count,
            "updated_at": format_instant(found.updated_at),
            "position": found.position,
        }
    if order is None and account is None and wallet is None:
        trial, state = history.trial_balance_as_of(pool, app, instant)
        currency = services.settings.currency
        report["trial_balance"] = {
            "currency": currency,
            "accounts": [_balance_json(b) for b in trial.accounts],
            "total": _money(trial.total_minor, currency),
            "balanced": trial.total_minor == 0,
        }
        report["position"] = state.head
    return report


def _balance_json(balance: Any) -> dict[str, Any]:
    return {
        "account": balance.account,
        "currency": balance.currency,
        "balance": _money(balance.balance_minor, balance.currency),
        "debit_total": _money(balance.debit_minor, balance.currency),
        "credit_total": _money(balance.credit_minor, balance.currency),
        "entry_count": balance.entry_count,
    }


@audit.command()
@click.option("--as-of", "as_of", required=True, help="RFC 3339 instant with offset.")
@click.option("--order", default=None, help="A payment_order_id: the order as of then.")
@click.option("--account", default=None, help="A ledger account, e.g. seller:seller_a.")
@click.option("--wallet", default=None, help="A seller account: the wallet as of then.")
def replay(as_of: str, order: str | None, account: str | None, wallet: str | None) -> None:
    """Print as JSON an order, account or wallet (default: the trial balance) as of an instant."""
    from payments.projections.audit.instants import AsOfUnavailable

    instant = _instant("--as-of", as_of)
    services = _services()
    try:
        report = _replay_report(services, instant, order, account, wallet)
    except AsOfUnavailable as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()
    click.echo(json.dumps(report, indent=2, default=str))


@audit.command()
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.argument("names", nargs=-1)
def verify(as_json: bool, names: tuple[str, ...]) -> None:
    """Rebuild every view (or NAMES) from event zero into scratch tables and diff them with the
    live views, row for row. Exit 0 when identical, 1 on any drift."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from payments.projections.audit.verify import result_json, verify_all
    from payments.projections.catalog import NAMES
    from payments.projections.rebuild import RebuildBusy
    from payments.projections.source import ApplicationEventSource

    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise click.BadParameter(f"unknown projection(s) {', '.join(unknown)}; known: {NAMES}")
    services = _services()
    source = ApplicationEventSource(services.application)
    console = Console(stderr=as_json)
    results = []
    try:
        with Progress(
            TextColumn("{task.description:13}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=as_json,
        ) as progress:
            task = progress.add_task("rebuilding", total=max(source.head(), 1))

            def report(position: int, head: int) -> None:
                progress.update(task, completed=position, total=max(head, 1))

            results = verify_all(services.pool, source, names or NAMES, progress=report)
    except RebuildBusy as busy:
        raise click.ClickException(str(busy)) from None
    finally:
        source.close()
        services.close()
    drift = any(not r.identical for r in results)
    if as_json:
        click.echo(json.dumps([result_json(r) for r in results], indent=2, default=str))
    else:
        _print_verification(console, results)
    sys.exit(1 if drift else 0)


def _print_verification(console: Any, results: list[Any]) -> None:
    from rich.table import Table

    table = Table("projection", "position", "rows compared", "rows differing", "events/s", "")
    for r in results:
        verdict = "[green]identical[/]" if r.identical else "[red]DRIFT[/]"
        table.add_row(
            r.name,
            str(r.position),
            str(r.rows_compared),
            str(r.rows_differing),
            f"{r.events_per_second:,.0f}",
            verdict,
        )
    console.print(table)
    for r in results:
        for t in r.tables:
            if t.only_live == 0 and t.only_rebuilt == 0:
                continue
            console.print(
                f"[red]{r.name}.{t.table}[/]: {t.only_live} live row(s) not in the rebuild, "
                f"{t.only_rebuilt} rebuilt row(s) not live; first differences:"
            )
            for d in t.first_differences:
                key = ", ".join(f"{k}={v}" for k, v in d.key.items())
                if d.live is None:
                    console.print(
                        f"  {key}: missing from the live view", markup=False, soft_wrap=True
                    )
                elif d.rebuilt is None:
                    console.print(f"  {key}: in the live view only", markup=False, soft_wrap=True)
                else:
                    changes = "; ".join(
                        f"{c}: live {d.live[c]!r}, history says {d.rebuilt.get(c)!r}"
                        for c in d.changed_columns
                    )
                    console.print(f"  {key}: {changes}", markup=False, soft_wrap=True)


@audit.command()
@click.option("--from", "start", required=True, help="Start of the period (inclusive).")
@click.option("--to", "end", required=True, help="End of the period (exclusive), not future.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
def export(start: str, end: str, fmt: str, out: Path | None) -> None:
    """Export the journal (every ledger entry of events recorded in [FROM, TO)) as CSV or JSON.

    Same log and period give byte-identical files."""
    from payments.projections.audit.instants import AsOfUnavailable
    from payments.projections.audit.journal_export import journal, to_csv, to_json

    first = _instant("--from", start)
    last = _instant("--to", end)
    if last <= first:
        raise click.BadParameter("must be after --from", param_hint="--to")
    services = _services()
    try:
        rows = journal(services.pool, services.application, first, last)
    except AsOfUnavailable as error:
        raise click.ClickException(str(error)) from None
    finally:
        services.close()
    data = to_csv(rows) if fmt == "csv" else to_json(rows, first, last)
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        out.write_bytes(data)
        click.echo(f"wrote {len(rows)} entries to {out}", err=True)
