"""`payments reconcile FILE`: reconcile a PSP settlement file, print the summary, write reports."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from payments.cli.settings import load_settings, resolve_database_url
from payments.psp.settlement import SettlementFormatError

EXIT_BAD_FILE = 2


def print_summary(report: dict[str, Any], created: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    title = (
        f"Reconciliation {report['run_id']} "
        f"({'new run' if created else 'this file was already reconciled'})"
    )
    table = Table(
        "class",
        "count",
        f"amount ({report['currency']})",
        "open",
        "auto-fixed",
        "resolved",
        title=title,
    )
    for row in report["classes"]:
        if row["count"]:
            table.add_row(
                row["class"],
                str(row["count"]),
                row["amount"],
                str(row["open"]),
                str(row["auto_fixed"]),
                str(row["resolved"]),
            )
    console.print(table)
    console.print(
        f"period {report['period_start']} .. {report['period_end']}, {report['lines']} lines, "
        f"history through position {report['through_position']}, "
        f"{report['open_exceptions']} open exception(s)"
    )


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "--report-csv",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the full report as CSV here.",
)
@click.option(
    "--report-json",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the full report as JSON here.",
)
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
def reconcile(
    file: Path,
    as_json: bool,
    report_csv: Path | None,
    report_json: Path | None,
    window_days: int | None,
    as_of: datetime | None,
) -> None:
    """Reconcile a PSP settlement FILE (Adyen settlement details CSV) against our events.

    Re-running the same file shows the run already recorded. A bad file exits with code 2
    and a message naming line and column; nothing is recorded.
    """
    from payments.projections.reconciliation import report
    from payments.runtime.config import ConfigError
    from payments.runtime.logs import configure_logging
    from payments.runtime.services import build_services

    settings = load_settings()
    configure_logging("WARNING")
    if as_of is not None and as_of.tzinfo is None:
        from datetime import UTC

        as_of = as_of.replace(tzinfo=UTC)
    services = build_services(settings, resolve_database_url(settings))
    try:
        outcome = services.reconciler.reconcile_path(file, window_days=window_days, as_of=as_of)
    except SettlementFormatError as error:
        click.echo(f"{file}: {error}; nothing was recorded", err=True)
        sys.exit(EXIT_BAD_FILE)
    except ConfigError as error:
        raise click.ClickException(f"configuration: {error}") from None
    finally:
        services.close()
    run = outcome.run
    if report_csv is not None:
        report_csv.write_bytes(report.report_csv(run))
    if report_json is not None:
        report_json.write_bytes(report.report_json(run))
    summary = report.summary(run)
    if as_json:
        click.echo(json.dumps({**summary, "created": outcome.created}, indent=2, sort_keys=True))
    else:
        print_summary(summary, outcome.created)
