"""Exceptions across runs, and the daily summary finance reads (DESIGN §8).

Both are read from the runs themselves (loaded from the log in one query), so they agree
with each run's own report. Reading every run costs a scan of the log for the runs' ids; a
view of its own would be the next step for a deployment with years of daily runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from payments.domain.reconciliation.findings import EXCEPTION_KINDS
from payments.domain.reconciliation_run import (
    AUTO_FIX,
    AUTO_FIXED,
    OPEN,
    RESOLVED,
    Finding,
    ReconciliationRun,
)
from payments.projections.event_store import load_aggregates, originators_of
from payments.projections.reconciliation.report import (
    SUMMARY_CLASSES,
    FindingAt,
    class_totals,
    finding_amount,
    format_minor,
    view_of,
)

STATES: dict[str, tuple[str, ...]] = {
    "open": (OPEN, AUTO_FIX),
    "auto_fixed": (AUTO_FIXED,),
    "resolved": (RESOLVED,),
}


def load_runs(
    application: Application[Any], pool: ConnectionPool, as_of: datetime | None = None
) -> list[ReconciliationRun]:
    """Every run, in the order they were recorded; with `as_of`, those recorded by then, each
    as it stood then (replayed from its events: resolutions made later are not made yet)."""
    recorder: Any = application.recorder
    head = int(recorder.max_notification_id() or 0)
    ids = originators_of(application, str(ReconciliationRun.Created.TOPIC), head)
    loaded = load_aggregates(application, pool, ids, as_of)
    return [loaded[run_id] for run_id in ids if run_id in loaded]


@dataclass(frozen=True, slots=True)
class ExceptionQuery:
    state: str = "open"  # open, auto_fixed, resolved or all
    kind: str | None = None
    run_id: str | None = None
    payment_order_id: str | None = None
    payout_id: str | None = None
    since: date | None = None  # the matter began on or after this day
    until: date | None = None  # ... and on or before this one

    def wants(self, found: FindingAt) -> bool:
        finding = found.finding
        if finding.kind not in EXCEPTION_KINDS:
            return False
        if self.state != "all" and found.state not in STATES[self.state]:
            return False
        if self.kind is not None and finding.kind != self.kind:
            return False
        if self.run_id is not None and found.run_id != self.run_id:
            return False
        if self.payment_order_id is not None and finding.payment_order_id != self.payment_order_id:
            return False
        if self.payout_id is not None and finding.payout_id != self.payout_id:
            return False
        day = _day(finding)
        if self.since is not None and (day is None or day < self.since):
            return False
        return self.until is None or (day is not None and day <= self.until)


def _day(finding: Finding) -> date | None:
    return None if finding.since is None else datetime.fromisoformat(finding.since).date()


def findings_of(runs: Sequence[ReconciliationRun]) -> list[FindingAt]:
    """Every finding of the runs with what its run knows of it, the runs in their order."""
    return [
        FindingAt.of(run, finding, position)
        for position, run in enumerate(runs)
        for finding in run.findings.values()
    ]


def chosen(found: Iterable[FindingAt], query: ExceptionQuery) -> list[FindingAt]:
    """The exceptions the query wants, oldest first: by when the matter began, then by run
    and line."""
    return sorted(
        (f for f in found if query.wants(f)),
        key=lambda f: (
            f.finding.since or "9999",
            f.run_position,
            f.finding.line or 0,
            f.finding.finding_id,
        ),
    )


def list_exceptions(
    runs: Sequence[ReconciliationRun], query: ExceptionQuery, at: datetime
) -> list[dict[str, Any]]:
    """The exceptions the query wants, oldest first, each with its age in days at `at`."""
    return [view_of(f, at) for f in chosen(findings_of(runs), query)]


def covers(run: ReconciliationRun, day: date) -> bool:
    return bool(run.period_start) and run.period_start <= day.isoformat() <= run.period_end


def daily_summary(
    runs: Sequence[ReconciliationRun], day: date, at: datetime, currency: str
) -> dict[str, Any]:
    """Counts and amounts per class of the runs whose file covers `day`, and the backlog of
    open exceptions across all runs (how many, how much, the oldest)."""
    backlog = chosen(findings_of(runs), ExceptionQuery(state="open"))
    return summary_of([run for run in runs if covers(run, day)], day, backlog, at, currency)


def summary_of(
    covering: Sequence[ReconciliationRun],
    day: date,
    backlog: Sequence[FindingAt],
    at: datetime,
    currency: str,
) -> dict[str, Any]:
    """The daily summary of the runs covering `day` and the open exceptions (`chosen`)."""
    totals = {name: {"count": 0, "amount_minor": 0, "open": 0} for name in SUMMARY_CLASSES}
    for run in covering:
        for name, row in class_totals(run).items():
            total = totals[name]
            total["count"] += row["count"]
            total["amount_minor"] += row["amount_minor"]
            total["open"] += row["open"]
    open_amount = sum(finding_amount(f.finding) for f in backlog)
    return {
        "day": day.isoformat(),
        "currency": currency,
        "runs": [str(run.id) for run in covering],
        "lines": sum(run.lines for run in covering),
        "classes": [
            {
                "class": name,
                "count": total["count"],
                "amount": format_minor(total["amount_minor"], currency),
                "open": total["open"],
            }
            for name, total in totals.items()
            if total["count"]
        ],
        "open_exceptions": len(backlog),
        "open_amount": format_minor(open_amount, currency),
        "oldest_open_exception": view_of(backlog[0], at) if backlog else None,
    }
