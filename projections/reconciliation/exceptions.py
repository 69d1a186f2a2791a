"""Exceptions across runs, and the daily summary finance reads (DESIGN §8).

Now (`Now`): the exceptions, and what each run counts per class, from the
`reconciliation_exceptions` view, caught up with the log first; no read loads a run, whose
events hold all its file's lines. As of a past
instant (`Replayed`): every run replayed to then, as before. Both show a
finding through the same formatter and filter it by the same query, so they agree with each
other and with each run's own report.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from psycopg_pool import ConnectionPool

from payments.domain.reconciliation.findings import EXCEPTION_KINDS, OPEN_STATES
from payments.domain.reconciliation_run import (
    AUTO_FIXED,
    RESOLVED,
    Finding,
    ReconciliationRun,
)
from payments.projections.event_store import load_aggregates, originators_of
from payments.projections.followers.follower import Follower
from payments.projections.reconciliation.report import (
    SUMMARY_CLASSES,
    ClassRows,
    FindingAt,
    class_totals,
    finding_amount,
    format_minor,
    view_of,
)
from payments.projections.source import ApplicationEventSource
from payments.projections.views.reconciliation import ReconciliationExceptionsView, RunRow

STATES: dict[str, tuple[str, ...]] = {
    "open": OPEN_STATES,
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


def covers(run: ReconciliationRun, day: date) -> bool:
    return bool(run.period_start) and run.period_start <= day.isoformat() <= run.period_end


@dataclass(frozen=True, slots=True)
class RunTotals:
    """What a day's summary counts of one run: its lines and its counts per class."""

    run_id: str
    lines: int
    classes: ClassRows

    @classmethod
    def of(cls, run: ReconciliationRun) -> RunTotals:
        return cls(str(run.id), run.lines, class_totals(run))


def summary_of(
    covering: Sequence[RunTotals],
    day: date,
    backlog: Sequence[FindingAt],
    at: datetime,
    currency: str,
) -> dict[str, Any]:
    """The daily summary of the runs covering `day` and the open exceptions (`chosen`)."""
    totals = {name: {"count": 0, "amount_minor": 0, "open": 0} for name in SUMMARY_CLASSES}
    for run in covering:
        for name, row in run.classes.items():
            total = totals[name]
            total["count"] += row["count"]
            total["amount_minor"] += row["amount_minor"]
            total["open"] += row["open"]
    open_amount = sum(finding_amount(f.finding) for f in backlog)
    return {
        "day": day.isoformat(),
        "currency": currency,
        "runs": [run.run_id for run in covering],
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


class AcrossRuns(ABC):
    """What finance reads across runs: the exceptions a query wants, and a day's summary."""

    _open: list[FindingAt] | None = None

    @abstractmethod
    def exceptions(self, query: ExceptionQuery) -> list[FindingAt]:
        """What `chosen` picks of every run's findings."""

    @abstractmethod
    def covering(self, day: date) -> list[RunTotals]:
        """What the runs whose file covers `day` count, in the order they were recorded."""

    @abstractmethod
    def covering_rows(self, day: date) -> list[RunRow]:
        """`covering` as the console lists runs, without loading them where it can."""

    @abstractmethod
    def recent_rows(self, count: int) -> tuple[list[RunRow], int]:
        """The last `count` runs, oldest first, and how many runs there are."""

    def listed(self, query: ExceptionQuery, at: datetime) -> list[dict[str, Any]]:
        """The exceptions the query wants, oldest first, each with its age in days at `at`."""
        return [view_of(f, at) for f in self.exceptions(query)]

    def summary(self, day: date, at: datetime, currency: str) -> dict[str, Any]:
        """Counts and amounts per class of the runs whose file covers `day`, and the backlog
        of open exceptions across all runs (how many, how much, the oldest)."""
        if self._open is None:
            self._open = self.exceptions(ExceptionQuery(state="open"))
        return summary_of(self.covering(day), day, self._open, at, currency)


class Replayed(AcrossRuns):
    """Over runs replayed from their events (as they stood at a past instant)."""

    def __init__(self, runs: Sequence[ReconciliationRun]) -> None:
        self.runs = list(runs)

    def exceptions(self, query: ExceptionQuery) -> list[FindingAt]:
        return chosen(findings_of(self.runs), query)

    def covering(self, day: date) -> list[RunTotals]:
        return [RunTotals.of(run) for run in self.runs if covers(run, day)]

    def covering_rows(self, day: date) -> list[RunRow]:
        return [RunRow.of(run) for run in self.runs if covers(run, day)]

    def recent_rows(self, count: int) -> tuple[list[RunRow], int]:
        return [RunRow.of(run) for run in self.runs[-count:]], len(self.runs)


class Now(AcrossRuns):
    """Now: the exceptions, the runs' rows and their counts per class from the exceptions'
    view (caught up with the log when made, so that a resolution just recorded is read
    back); no run is loaded."""

    def __init__(self, application: Application[Any], pool: ConnectionPool) -> None:
        self.application, self.pool = application, pool
        self.view = ReconciliationExceptionsView(pool)
        Follower(self.view, ApplicationEventSource(application)).run_until_idle()

    def exceptions(self, query: ExceptionQuery) -> list[FindingAt]:
        if query.run_id is not None and not _is_uuid(query.run_id):
            return []
        states = None if query.state == "all" else STATES[query.state]
        found = self.view.exceptions(states, query.run_id, query.payment_order_id, query.payout_id)
        return chosen(found, query)

    def covering(self, day: date) -> list[RunTotals]:
        rows = self.view.runs_covering(day)
        classes = self.view.classes([row.run_id for row in rows])
        return [RunTotals(row.run_id, row.lines, classes[row.run_id]) for row in rows]

    def covering_rows(self, day: date) -> list[RunRow]:
        return self.view.runs_covering(day)

    def recent_rows(self, count: int) -> tuple[list[RunRow], int]:
        return self.view.recent_runs(count)


def across_runs(
    application: Application[Any], pool: ConnectionPool, as_of: datetime | None = None
) -> AcrossRuns:
    """The reads of now, or as of a past instant (every run replayed to then)."""
    if as_of is None:
        return Now(application, pool)
    return Replayed(load_runs(application, pool, as_of))


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True
