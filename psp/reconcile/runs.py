"""Reconciliation for the API, the command line and the scheduler (DESIGN §8).

`Reconciler.reconcile_path` reconciles a settlement file on disk; `fetch_and_reconcile`
downloads a day's file through the PSP client first (the scheduler's daily job). The
classification is in psp/reconcile/engine.py, the commands in domain/reconciliation_commands.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from payments.domain.reconciliation_commands import ReconciliationCommands
from payments.projections.reconciliation.report import summary
from payments.psp.client import PspClient, SettlementUnavailable
from payments.psp.reconcile.engine import ReconcileOptions, RunOutcome, reconcile_file


@dataclass(frozen=True)
class Reconciler:
    commands: ReconciliationCommands
    currency: str
    window_days: int
    client: PspClient | None = None  # None: no PSP configured, files come by hand only

    def reconcile_path(
        self,
        path: Path,
        *,
        file_sha: str | None = None,
        window_days: int | None = None,
        as_of: datetime | None = None,
    ) -> RunOutcome:
        """Reconcile a settlement file; SettlementFormatError for a file that cannot be read."""
        options = ReconcileOptions(
            currency=self.currency,
            window_days=self.window_days if window_days is None else window_days,
            as_of=as_of,
        )
        return reconcile_file(self.commands, path, options, file_sha=file_sha)

    def fetch_and_reconcile(self, day: date) -> dict[str, Any]:
        """Download the day's settlement file from the PSP and reconcile it; the run's summary.

        Idempotent: the same file again returns the run already recorded ("created": false).
        """
        if self.client is None:
            raise SettlementUnavailable("no PSP configured: set PAYMENTS_PSP_URL")
        with tempfile.TemporaryDirectory(prefix="payments-settlement-") as directory:
            path = Path(directory) / f"{day.isoformat()}.csv"
            with path.open("wb") as out:
                file_sha = self.client.fetch_settlement(day, out)
            outcome = self.reconcile_path(path, file_sha=file_sha)
        return {**summary(outcome.run), "created": outcome.created}
