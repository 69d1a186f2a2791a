"""The webhooks scenario's reads of GET /events/{event_id} (projections/public_events.py), on
its log.

The view `public_event_ids` is built in a scratch schema up to LAG events short of the log's
head (timed: the events it indexes per second, what it adds to the projections' work); then
SAMPLE events are looked up by their ids from the view's rows, and SAMPLE among the last LAG
(the view has not applied them: the log after its position is looked through), each against
the same event listed as a page of one at its position (the read GET /events makes), in the
same run, alternated.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from payments.bench.harness import Table, ratio
from payments.projections.public_events import public_event, public_events
from payments.projections.rebuild import drop_scratch, empty_scratch_view
from payments.projections.runner import ProjectionRunner
from payments.projections.source import ApplicationEventSource
from payments.projections.views.public_event_ids import NAME, PublicEventIdsView
from payments.runtime.services import Services

LAG = 1_000  # positions the view is left behind the head
SAMPLE = 200  # events looked up each way


def measure_event_lookups(services: Services, after: int) -> dict[str, Any]:
    app, pool = services.application, services.pool
    source = ApplicationEventSource(app)
    head = source.head()
    lag = min(LAG, max(1, (head - after) // 2))  # a small log (--quick): half of it
    view = empty_scratch_view(pool, NAME)
    assert isinstance(view, PublicEventIdsView)
    try:
        started = time.perf_counter()
        indexed = ProjectionRunner(view, source, batch_size=2000).catch_up(head - lag)
        figures: dict[str, Any] = {
            "indexed_events": indexed,
            "index_per_s": indexed / (time.perf_counter() - started),
            "lag": lag,
        }
        rng = random.Random(0)
        applied = _events(app, pool, source, after, head - lag)
        behind = _events(app, pool, source, head - lag, head)
        for name, events in (("applied", applied), ("behind", behind)):
            sample = rng.sample(events, min(SAMPLE, len(events)))
            by_id, by_position = _timed_pairs(
                lambda e: public_event(app, pool, source, e["id"], index=view),
                lambda e: public_events(app, pool, source, after=e["position"] - 1, limit=1),
                sample,
            )
            figures[name] = {"by_id_ms": by_id, "page_of_one_ms": by_position}
            figures[f"{name}_count"] = len(sample)
        return figures
    finally:
        drop_scratch(pool, NAME)


def _events(app: Any, pool: Any, source: Any, after: int, through: int) -> list[dict[str, Any]]:
    """The public events in (after, through]."""
    found: list[dict[str, Any]] = []
    while after < through:
        page = public_events(app, pool, source, after=after, limit=200, window=through - after)
        found += page.events
        if page.next_after <= after:
            break
        after = page.next_after
    return found


def _timed_pairs(
    by_id: Callable[[dict[str, Any]], Any],
    by_position: Callable[[dict[str, Any]], Any],
    sample: list[dict[str, Any]],
) -> tuple[list[float], list[float]]:
    """Milliseconds each way, event by event, alternated; each answer checked."""
    id_ms: list[float] = []
    position_ms: list[float] = []
    for event in sample:
        started = time.perf_counter()
        assert by_id(event) == event
        id_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        assert by_position(event).events == [event]
        position_ms.append((time.perf_counter() - started) * 1000)
    return id_ms, position_ms


def event_lookups_table(figures: dict[str, Any]) -> Table:
    table = Table(
        f"webhooks: GET /events/{{event_id}}, up to {SAMPLE} events each way; the view built at "
        f"{figures['index_per_s']:,.0f} events/s ({figures['indexed_events']:,} events)",
        ["found", "by id p50 / p99 ms", "a page of one p50 / p99 ms", "by id ÷ page (p50)"],
    )
    for name, label in (
        ("applied", "in the view's rows"),
        ("behind", f"among the {figures['lag']:,} positions the view has not applied"),
    ):
        by_id, page = figures[name]["by_id_ms"], figures[name]["page_of_one_ms"]
        table.add(
            label,
            f"{_p(by_id, 50):.2f} / {_p(by_id, 99):.2f}",
            f"{_p(page, 50):.2f} / {_p(page, 99):.2f}",
            ratio(_p(by_id, 50), _p(page, 50)),
        )
    return table


def _p(values: list[float], percent: int) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]
