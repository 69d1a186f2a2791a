"""The reconcile scenario's reads across runs, timed against the replay they replace.

After the reconciliation, what finance reads every day (the open exceptions, the daily
summary) is read twice on the same database: by replaying every run from its events (what
every read did before the exceptions' view, and what an as-of read still does), and from the
`reconciliation_exceptions` view. One run of the scenario's size is on the log, so the
replay's time is that of one daily file; a deployment's year of daily runs multiplies it,
while the view reads the exceptions alone and a summary each run's counts per class.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from payments.bench.harness import Table
from payments.projections.reconciliation.exceptions import (
    AcrossRuns,
    ExceptionQuery,
    Now,
    Replayed,
    load_runs,
)
from payments.runtime.services import Services

REPEATS = 5


def _seconds(read: Callable[[AcrossRuns], object], reads: Callable[[], AcrossRuns]) -> float:
    started = time.perf_counter()
    read(reads())
    return time.perf_counter() - started


def measure_reads(services: Services) -> dict[str, Any]:
    """Median seconds of each read, replayed and from the view, alternated."""
    app, pool, currency = services.application, services.pool, services.settings.currency
    at = datetime.now(UTC)
    Now(app, pool)  # the view caught up first: the projections process keeps it current
    ways: dict[str, Callable[[], AcrossRuns]] = {
        "replayed": lambda: Replayed(load_runs(app, pool)),
        "view": lambda: Now(app, pool),
    }
    open_exceptions = ExceptionQuery(state="open")
    reads: dict[str, Callable[[AcrossRuns], object]] = {
        "exceptions": lambda across: across.listed(open_exceptions, at),
        "summary": lambda across: across.summary(at.date(), at, currency),
    }
    times: dict[str, list[float]] = {f"{r}_{w}_s": [] for r in reads for w in ways}
    for _ in range(REPEATS):
        for read_name, read in reads.items():
            for way_name, way in ways.items():
                times[f"{read_name}_{way_name}_s"].append(_seconds(read, way))
    figures: dict[str, Any] = {"runs": len(load_runs(app, pool))}
    figures.update({name: statistics.median(found) for name, found in times.items()})
    return figures


def reads_table(figures: dict[str, Any], lines: int) -> Table:
    table = Table(
        f"reconcile: reads across runs, {figures['runs']} run(s) of {lines:,} lines "
        f"(median of {REPEATS})",
        ["read", "every run replayed s", "the view s", "replayed ÷ view"],
    )
    for name in ("exceptions", "summary"):
        replayed, view = figures[f"{name}_replayed_s"], figures[f"{name}_view_s"]
        table.add(name, round(replayed, 4), round(view, 4), round(replayed / view, 1))
    return table
