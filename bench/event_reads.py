"""The webhooks scenario's reads of GET /events (projections/public_events.py), on its log.

The whole log after the endpoint's position is listed page by page (200 a page, as a
receiver catching up would), against baselines on the same rows in the same run: the same
notifications read alone (the recorder's query with the public topics, nothing decoded)
and read and decoded (the events, with no envelopes and no created events loaded); each way
twice, alternated, so that their spread shows the machine's noise. Then one page of a type
the log does not hold: the most a page reads (a window of the log), timed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from payments.bench.harness import Table, ratio
from payments.projections.public_events import WINDOW, public_events, topics_of
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services

PAGE = 200
ROUNDS = 2


def measure_event_reads(services: Services, after: int) -> dict[str, Any]:
    """Events per second listed by each way, ROUNDS times alternated, and a rare type's page."""
    app, pool = services.application, services.pool
    source = ApplicationEventSource(app)
    topics = topics_of(None)

    def listed() -> int:
        count, cursor, more = 0, after, True
        while more:
            page = public_events(app, pool, source, after=cursor, limit=PAGE)
            count, cursor, more = count + len(page.events), page.next_after, page.more
        return count

    def read(decode: bool) -> Callable[[], int]:
        def run() -> int:
            count, cursor, head = 0, after, source.head()
            while cursor < head:
                batch = source.read(cursor, head, PAGE, topics)
                if not batch:
                    break
                for notification in batch if decode else ():
                    source.decode(notification)
                count, cursor = count + len(batch), batch[-1].id
            return count

        return run

    ways: dict[str, Callable[[], int]] = {
        "listed": listed,
        "read": read(decode=False),
        "decoded": read(decode=True),
    }
    figures: dict[str, Any] = {f"{name}_per_s": [] for name in ways}
    for _ in range(ROUNDS):
        for name, way in ways.items():
            started = time.perf_counter()
            count = way()
            figures[f"{name}_per_s"].append(count / (time.perf_counter() - started))
            figures[f"{name}_count"] = count
    started = time.perf_counter()
    rare = public_events(app, pool, source, after=after, limit=PAGE, event_type="dispute.won")
    figures["rare_page_ms"] = (time.perf_counter() - started) * 1000
    figures["rare_page_positions"] = rare.next_after - after
    figures["rare_page_items"] = len(rare.events)
    return figures


def event_reads_table(figures: dict[str, Any]) -> Table:
    table = Table(
        f"webhooks: GET /events read back, {figures['listed_count']:,} events, {PAGE} a page "
        f"({ROUNDS} rounds alternated)",
        ["way", "events/s", "listed ÷ this"],
    )
    listed = figures["listed_per_s"]
    for name, label in (
        ("listed", "listed (public_events: decoded, created events loaded, envelopes)"),
        ("decoded", "the same notifications read and decoded"),
        ("read", "the same notifications read alone"),
    ):
        rates = figures[f"{name}_per_s"]
        table.add(
            label,
            " / ".join(f"{r:,.0f}" for r in rates),
            " / ".join(str(ratio(a, b)) for a, b in zip(listed, rates, strict=True)),
        )
    table.add(
        f"one page of a type the log lacks ({figures['rare_page_positions']:,} positions, "
        f"at most {WINDOW:,})",
        f"{figures['rare_page_ms']:.1f} ms",
        "",
    )
    return table
