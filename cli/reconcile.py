"""`payments reconcile`: reconcile a PSP settlement file, and work what reconciliation found.

payments reconcile FILE [--format F] [--dry-run] [--json] [--report-csv P] [--report-json P]
payments reconcile status [--days N]          each recent day: reconciled, failed (why), pending
payments reconcile summary [--day D]          the day's counts, amounts, oldest open exception
payments reconcile exceptions [--state S] ... exceptions across runs, oldest first
payments reconcile resolve RUN FINDING --action A --reason R [--by NAME]
payments reconcile balance [--json]           the PSP's balance against ours, per currency
"""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from payments.cli.settings import load_settings, resolve_database_url
from payments.psp.settlement import SettlementFormatError

if TYPE_CHECKING:
    from payments.runtime.services import Services

EXIT_BAD_FILE = 2
EXIT_DIFFERENCE = 3  # `reconcile balance`: the PSP's balance differs from ours
FORMATS = ("adyen", "stripe", "paypal")


class FileByDefault(click.Group):
    """`payments reconcile FILE ...` runs the `file` command; a known name runs its command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["file", *args]
        return super().parse_args(ctx, args)


@contextmanager
def services_for_cli() -> Iterator[Services]:
    from payments.runtime.logs import configure_logging
    from payments.runtime.services import build_services

    settings = load_settings()
    configure_logging("WARNING")
    services = build_services(settings, resolve_database_url(settings))
    try:
        yield services
    finally:
        services.close()


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*columns, title=title)
    for row in rows:
        table.add_row(*row)
    Console(width=200).print(table)


def print_summary(report: dict[str, Any], created: bool, dry_run: bool = False) -> None:
    what = "dry run: nothing recorded" if dry_run else "new run" if created else ""
    title = f"Reconciliation {report['run_id']} ({what or 'this file was already reconciled'})"
    columns = ["class", "count", f"amount ({report['currency']})", "open", "auto-fixed", "resolved"]
    rows = [
        [row["class"], str(row["count"]), row["amount"], str(row["open"]),
         str(row["auto_fixed"]), str(row["resolved"])]
        for row in report["classes"]
        if row["count"]
    ]  # fmt: skip
    _table(title, columns, rows)
    click.echo(
        f"{report['file_format']} file, period {report['period_start']} .. "
        f"{report['period_end']}, {report['lines']} lines, history through position "
        f"{report['through_position']}, {report['open_exceptions']} open exception(s)"
    )
    if report["ignored_columns"]:
        click.echo(f"columns not used: {', '.join(report['ignored_columns'])}")


@click.group(cls=FileByDefault)
def reconcile() -> None:
    """Reconcile PSP settlement files against our events, and work the exceptions."""


@reconcile.command("file", hidden=True)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--report-csv", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--report-json", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--window-days",
    type=click.IntRange(0, 365),
    default=None,
    help="Days a settlement may lag (default $PAYMENTS_RECONCILIATION_WINDOW_DAYS or 3).",
)
@click.option(
    "--as-of",
    type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d"]),
    default=None,
    help="Judge lateness as of this instant (default: now).",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    default=None,
    help="The file's layout (default: detected from its header).",
)
@click.option("--dry-run", is_flag=True, help="Classify and report; record nothing.")
def reconcile_file(
    file: Path,
    as_json: bool,
    report_csv: Path | None,
    report_json: Path | None,
    window_days: int | None,
    as_of: datetime | None,
    file_format: str | None,
    dry_run: bool,
) -> None:
    """Reconcile a PSP settlement FILE (Adyen, Stripe or PayPal) against our events.

    Re-running the same file shows the run already recorded. A file that cannot be read at
    all exits with code 2 and a message naming line and column; nothing is recorded.
    """
    from payments.projections.reconciliation import report
    from payments.runtime.config import ConfigError

    if as_of is not None and as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    with services_for_cli() as services:
        try:
            outcome = services.reconciler.reconcile_path(
                file, window_days=window_days, as_of=as_of, file_format=file_format,
                dry_run=dry_run,
            )  # fmt: skip
        except SettlementFormatError as error:
            click.echo(f"{file}: {error}; nothing was recorded", err=True)
            sys.exit(EXIT_BAD_FILE)
        except ConfigError as error:
            raise click.ClickException(f"configuration: {error}") from None
    run = outcome.run
    if report_csv is not None:
        report_csv.write_bytes(report.report_csv(run))
    if report_json is not None:
        report_json.write_bytes(report.report_json(run))
    summary = report.summary(run)
    if as_json:
        body = {**summary, "created": outcome.created, "dry_run": dry_run}
        click.echo(json.dumps(body, indent=2, sort_keys=True))
    else:
        print_summary(summary, outcome.created, dry_run)


@reconcile.command("status")
@click.option("--days", type=click.IntRange(1, 366), default=14, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def status(days: int, as_json: bool) -> None:
    """Each recent day up to yesterday: reconciled (its run), failed (why) or pending."""
    with services_for_cli() as services:
        today = datetime.now(UTC).date()
        statuses = services.reconciler.day_statuses(today, days)
        behind = services.reconciler.days_behind(today)
    if as_json:
        body = {"days_behind": behind, "days": [s.as_dict() for s in statuses]}
        click.echo(json.dumps(body, indent=2, sort_keys=True))
        return
    rows = [
        [s.day.isoformat(), s.state, s.run_id or "", str(s.attempts), s.detail] for s in statuses
    ]
    _table("Reconciled days", ["day", "state", "run", "attempts", "detail / why"], rows)
    click.echo(f"{behind} day(s) behind")


def _emit(body: Any, as_json: bool, show: Callable[[], None]) -> None:
    if as_json:
        click.echo(json.dumps(body, indent=2, sort_keys=True))
    else:
        show()


@reconcile.command("summary")
@click.option("--day", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Default: today.")
@click.option("--json", "as_json", is_flag=True)
def daily(day: datetime | None, as_json: bool) -> None:
    """The day's runs: counts and amounts per class; open exceptions across all runs."""
    from payments.projections.reconciliation.exceptions import across_runs

    now = datetime.now(UTC)
    with services_for_cli() as services:
        chosen: date = day.date() if day else now.date()
        reads = across_runs(services.application, services.pool)
        body = reads.summary(chosen, now, services.settings.currency)

    def show() -> None:
        rows = [[r["class"], str(r["count"]), r["amount"], str(r["open"])] for r in body["classes"]]
        _table(f"Reconciliation of {body['day']}", ["class", "count", "amount", "open"], rows)
        oldest = body["oldest_open_exception"]
        click.echo(f"{body['open_exceptions']} open exception(s), {body['open_amount']}")
        if oldest:
            click.echo(
                f"oldest: {oldest['run_id']}/{oldest['finding_id']} {oldest['kind']}, "
                f"{oldest['age_days']} day(s) old"
            )

    _emit(body, as_json, show)


@reconcile.command("exceptions")
@click.option(
    "--state", type=click.Choice(["open", "auto_fixed", "resolved", "all"]), default="open"
)
@click.option("--kind", default=None)
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--limit", type=click.IntRange(1, 10_000), default=100)
@click.option("--json", "as_json", is_flag=True)
def exceptions(
    state: str,
    kind: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    as_json: bool,
) -> None:
    """Exceptions across every run, oldest first, with their age."""
    from payments.projections.reconciliation.exceptions import ExceptionQuery, across_runs

    query = ExceptionQuery(
        state, kind, since=since.date() if since else None, until=until.date() if until else None
    )
    with services_for_cli() as services:
        found = across_runs(services.application, services.pool).listed(query, datetime.now(UTC))

    def show() -> None:
        rows = [
            [f"{v['run_id']}/{v['finding_id']}", v["kind"], v["state"], str(v["age_days"] or ""),
             v["psp_amount"] or v["expected_amount"], v["detail"]]
            for v in found[:limit]
        ]  # fmt: skip
        _table("Exceptions", ["run/finding", "class", "state", "age", "amount", "detail"], rows)
        click.echo(f"{len(found)} in all")

    _emit({"total": len(found), "exceptions": found[:limit]}, as_json, show)


@reconcile.command("resolve")
@click.argument("run_id")
@click.argument("finding_id")
@click.option(
    "--action",
    type=click.Choice(["accept_psp", "write_off", "accept_ours", "mark_duplicate", "investigated"]),
    required=True,
)
@click.option("--reason", required=True, help="Why (a ticket, a word from the PSP...).")
@click.option("--by", "resolved_by", default=None, help="Who decides (default: your user name).")
def resolve(
    run_id: str, finding_id: str, action: str, reason: str, resolved_by: str | None
) -> None:
    """Record a decision on an open exception; accept_psp and write_off post its adjustment."""
    from payments.domain.errors import DomainError
    from payments.projections.reconciliation.report import finding_view

    with services_for_cli() as services:
        try:
            run = services.reconciliations.resolve(
                run_id, finding_id, action, reason, resolved_by or getpass.getuser()
            )
        except DomainError as error:
            raise click.ClickException(str(error)) from None
    view = finding_view(run, run.findings[finding_id])
    click.echo(json.dumps(view, indent=2, sort_keys=True))


@reconcile.command("balance")
@click.option("--json", "as_json", is_flag=True)
def balance(as_json: bool) -> None:
    """The PSP's available balance against ours (psp_balance + bank + lines not reconciled
    yet), per currency: both figures and the difference. Exits 3 on a difference.

    Without PAYMENTS_PSP_URL, in sandbox mode, it asks the sandbox that `payments serve`
    bundles (on PAYMENTS_PSP_SANDBOX_PORT)."""
    from payments.domain.money import format_minor
    from payments.psp.answers import BalanceUnavailable
    from payments.psp.reconcile.balance import NoPspConfigured

    with services_for_cli() as services:
        settings = services.settings
        if services.psp_url is None and settings.mode == "sandbox":
            services.psp_url = f"http://127.0.0.1:{settings.psp_sandbox_port}"
        try:
            check = services.check_psp_balance()
        except (BalanceUnavailable, NoPspConfigured) as error:
            raise click.ClickException(str(error)) from None
    body = check.as_dict()

    def show() -> None:
        rows = [
            [c.currency, format_minor(c.psp_available_minor, c.currency),
             format_minor(c.psp_pending_minor, c.currency), format_minor(c.ours_minor, c.currency),
             format_minor(c.psp_balance_minor, c.currency), format_minor(c.bank_minor, c.currency),
             format_minor(c.not_reconciled_minor, c.currency),
             format_minor(c.unsettled_minor, c.currency),
             format_minor(c.difference_minor, c.currency)]
            for c in check.currencies
        ]  # fmt: skip
        columns = ["currency", "PSP available", "PSP pending", "ours", "psp_balance", "bank",
                   "not reconciled", "unsettled", "difference"]  # fmt: skip
        _table(f"PSP balance at {body['checked_at']}", columns, rows)
        for day, why in body["days_unavailable"].items():
            click.echo(f"{day}: file not had, its lines not counted ({why})")
        click.echo("balanced" if check.balanced else "DIFFERENCE: see docs/operations.md")

    _emit(body, as_json, show)
    if not check.balanced:
        sys.exit(EXIT_DIFFERENCE)
