"""Reconciliation for the API, the command line and the scheduler (DESIGN §8).

`Reconciler.reconcile_path` reconciles a settlement file on disk; `fetch_and_reconcile`
downloads a day's file through the PSP client first; `backfill` does that for every day of
the look-back window not reconciled yet (the scheduler's job, on start and every day), and
records each day's outcome (psp/reconcile/days.py). The rules are in domain/reconciliation/,
the orchestration of one file in psp/reconcile/engine.py.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from payments.domain.reconciliation_commands import ReconciliationCommands
from payments.projections.reconciliation.report import summary
from payments.psp.answers import PspLookup, SettlementUnavailable
from payments.psp.reconcile.days import DayBook, DayStatus
from payments.psp.reconcile.engine import ReconcileOptions, RunOutcome, reconcile_file
from payments.psp.settlement import ReadOptions, SettlementFormat, SettlementFormatError

log = logging.getLogger("payments.reconcile")


class SettlementPsp(Protocol):
    """What reconciliation needs of the PSP: the day's file, and look-ups with amounts."""

    def fetch_settlement(self, day: date, out: BinaryIO) -> str: ...

    def look_up_charge(self, reference: str) -> PspLookup: ...


@dataclass(frozen=True)
class BackfillReport:
    reconciled: list[date] = field(default_factory=list)
    failed: dict[date, str] = field(default_factory=dict)

    def __str__(self) -> str:
        done = ", ".join(day.isoformat() for day in self.reconciled) or "none"
        text = f"reconciled: {done}"
        if self.failed:
            text += "; failed: " + "; ".join(
                f"{d.isoformat()} ({w})" for d, w in self.failed.items()
            )
        return text


@dataclass(frozen=True)
class Reconciler:
    commands: ReconciliationCommands
    currency: str
    window_days: int
    client: SettlementPsp | None = None  # None: no PSP configured, files come by hand only
    tolerance_minor: int = 0
    days: DayBook | None = None  # None: days are not tracked (tests in memory)
    backfill_days: int = 31
    read_options: ReadOptions = field(default_factory=ReadOptions)

    def reconcile_path(
        self,
        path: Path,
        *,
        file_sha: str | None = None,
        window_days: int | None = None,
        as_of: datetime | None = None,
        file_format: SettlementFormat | str | None = None,
        dry_run: bool = False,
        through: int | None = None,
    ) -> RunOutcome:
        """Reconcile a settlement file; SettlementFormatError for a file that cannot be read."""
        options = ReconcileOptions(
            currency=self.currency,
            window_days=self.window_days if window_days is None else window_days,
            as_of=as_of,
            tolerance_minor=self.tolerance_minor,
            file_format=file_format,
            dry_run=dry_run,
            through=through,
            read_options=self.read_options,
        )
        return reconcile_file(self.commands, path, options, file_sha=file_sha, client=self.client)

    def reconcile_psp_file(self, day: date, *, dry_run: bool = False) -> RunOutcome:
        """Download the day's settlement file from the PSP and reconcile it (record nothing
        when `dry_run`); SettlementUnavailable without a PSP."""
        if self.client is None:
            raise SettlementUnavailable("no PSP configured: set PAYMENTS_PSP_URL")
        with tempfile.TemporaryDirectory(prefix="payments-settlement-") as directory:
            path = Path(directory) / f"{day.isoformat()}.csv"
            with path.open("wb") as out:
                file_sha = self.client.fetch_settlement(day, out)
            return self.reconcile_path(path, file_sha=file_sha, dry_run=dry_run)

    def fetch_and_reconcile(self, day: date) -> dict[str, Any]:
        """Download the day's settlement file from the PSP and reconcile it; the run's summary.

        Idempotent: the same file again returns the run already recorded ("created": false).
        The day's outcome is recorded, a failure with its reason (and raised again).
        """
        try:
            outcome = self.reconcile_psp_file(day)
        except Exception as error:  # recorded with its reason, whatever it was; raised again
            why = f"{type(error).__name__}: {error}"
            log.warning(
                "settlement file of the day could not be reconciled",
                extra={"day": day.isoformat(), "reason": why},
            )
            if self.days is not None:
                self.days.failed(day, why)
            raise
        report = {**summary(outcome.run), "created": outcome.created}
        if self.days is not None:
            detail = f"{report['lines']} lines, {report['open_exceptions']} open exception(s)"
            self.days.reconciled(day, str(outcome.run.id), detail)
        return report

    def first_day(self) -> date | None:
        """The day of the first event in the log: nothing before it can need reconciling."""
        recorder: Any = self.commands.application.recorder
        first = recorder.select_notifications(start=1, limit=1)
        if not first:
            return None
        event: Any = self.commands.application.mapper.to_domain_event(first[0])
        stamp: datetime = event.timestamp
        return stamp.date()

    def window(self, today: date) -> tuple[date, date] | None:
        """The days that must be reconciled by now: from the first event's day (or the start
        of the look-back window, if later) to yesterday. None before the first event."""
        first = self.first_day()
        if first is None:
            return None
        start = max(first, today - timedelta(days=self.backfill_days))
        return start, today - timedelta(days=1)

    def day_statuses(self, today: date, days: int) -> list[DayStatus]:
        """The last `days` days up to yesterday (none before the first event), newest first."""
        window = self.window(today)
        if window is None or self.days is None:
            return []
        last = window[1]
        return self.days.statuses(max(window[0], last - timedelta(days=days - 1)), last)

    def days_behind(self, today: date) -> int:
        """Days of the window not reconciled yet (0: up to date)."""
        window = self.window(today)
        if window is None or self.days is None:
            return 0
        return len(self.days.due(*window))

    def backfill(self, today: date) -> BackfillReport:
        """Reconcile every day of the window not reconciled yet, oldest first; a day whose file
        cannot be had is recorded as failed (and logged) and tried again next time."""
        report = BackfillReport()
        window = self.window(today)
        if window is None or self.days is None:
            return report
        for day in self.days.due(*window):
            try:
                self.fetch_and_reconcile(day)
            except (SettlementUnavailable, SettlementFormatError) as error:
                report.failed[day] = str(error)
                continue
            report.reconciled.append(day)
        return report
