"""Reconciliation for the API, the command line and the scheduler (DESIGN §8).

`reconcile_path` reconciles a settlement file on disk; `fetch_and_reconcile` downloads a day's
file from the PSP first (the scheduler's daily job); `resolve_exception` records an operator's
decision. The work itself is in psp/reconcile/.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from eventsourcing.persistence import IntegrityError

from payments.domain.errors import NotFound
from payments.domain.reconciliation_run import ReconciliationRun
from payments.psp.reconcile.engine import ReconcileOptions, RunOutcome, get_run, reconcile_file
from payments.psp.reconcile.report import finding_view, summary
from payments.runtime.config import ConfigError
from payments.runtime.services import Services

DEFAULT_WINDOW_DAYS = 3
WINDOW_VARIABLE = "PAYMENTS_RECONCILIATION_WINDOW_DAYS"


class SettlementFetchError(RuntimeError):
    """The PSP did not hand over the day's settlement file."""


def window_days_from_env(env: Mapping[str, str] | None = None) -> int:
    """PAYMENTS_RECONCILIATION_WINDOW_DAYS (default 3): how long a settlement may lag."""
    text = (os.environ if env is None else env).get(WINDOW_VARIABLE, "")
    if not text:
        return DEFAULT_WINDOW_DAYS
    if not text.isdigit() or not 0 <= int(text) <= 365:
        raise ConfigError(f"{WINDOW_VARIABLE}={text!r}: use whole days between 0 and 365")
    return int(text)


def reconcile_path(
    services: Services,
    path: Path,
    *,
    file_sha: str | None = None,
    window_days: int | None = None,
    as_of: datetime | None = None,
) -> RunOutcome:
    """Reconcile a settlement file; raises psp.settlement.SettlementFormatError for a bad one."""
    options = ReconcileOptions(
        currency=services.settings.currency,
        window_days=window_days_from_env() if window_days is None else window_days,
        as_of=as_of,
    )
    return reconcile_file(services.application, services.orders, path, options, file_sha=file_sha)


def fetch_and_reconcile(services: Services, day: date) -> dict[str, Any]:
    """Download GET {psp_url}/v1/settlements/{day}.csv and reconcile it; the run's summary.

    Idempotent: the same file again returns the run already recorded ("created": false).
    """
    if not services.psp_url:
        raise SettlementFetchError("no PSP configured: set PAYMENTS_PSP_URL")
    url = f"{services.psp_url.rstrip('/')}/v1/settlements/{day.isoformat()}.csv"
    with tempfile.TemporaryDirectory(prefix="payments-settlement-") as directory:
        path = Path(directory) / f"{day.isoformat()}.csv"
        digest = hashlib.sha256()
        try:
            with httpx.stream("GET", url, timeout=60.0) as response:
                if response.status_code != 200:
                    raise SettlementFetchError(f"GET {url} answered {response.status_code}")
                with path.open("wb") as out:
                    for block in response.iter_bytes(1 << 20):
                        digest.update(block)
                        out.write(block)
        except httpx.HTTPError as error:
            raise SettlementFetchError(f"GET {url} failed: {error}") from None
        outcome = reconcile_path(services, path, file_sha=digest.hexdigest())
    return {**summary(outcome.run), "created": outcome.created}


def load_run(services: Services, run_id: str) -> ReconciliationRun:
    try:
        aggregate_id = UUID(run_id)
    except ValueError:
        raise NotFound(f"reconciliation run {run_id!r} not found") from None
    found = get_run(services.application, aggregate_id)
    if found is None:
        raise NotFound(f"reconciliation run {run_id!r} not found")
    return found


def resolve_exception(
    services: Services, run_id: str, finding_id: str, action: str, reason: str, attempts: int = 5
) -> dict[str, Any]:
    """Record an operator's decision on one open exception (a second one is refused)."""
    for attempt in range(attempts):
        run = load_run(services, run_id)
        run.resolve(finding_id, action, reason)
        try:
            services.application.save(run)
        except IntegrityError:  # written meanwhile: decide again on fresh state
            if attempt == attempts - 1:
                raise
            continue
        return finding_view(run, run.findings[finding_id])
    raise AssertionError("unreachable")
