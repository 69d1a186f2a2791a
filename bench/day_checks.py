"""The day scenario's checks at any size, in O(n) with batched round trips.

Orders are read a thousand at a time (`load_aggregates`: one query each), the PSP's charges
counted in one query of the sandbox's own store (read-only), every view verified against a
rebuild (`payments audit verify`); then what the day cost: peak memory of each process and
the database's size.
"""

from __future__ import annotations

import resource
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from psycopg_pool import ConnectionPool

from payments.domain.ids import payment_order_uuid
from payments.domain.payment_order import TERMINAL, PaymentOrder
from payments.projections.audit.verify import verify_all
from payments.projections.catalog import live_view
from payments.projections.event_store import load_aggregates
from payments.projections.pg import PostgresView
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services

CHUNK = 1_000
MIB = 1024 * 1024


def orders(services: Services, order_ids: Sequence[str]) -> Iterator[tuple[str, Any]]:
    """(order id, its PaymentOrder or None if absent), a chunk per query."""
    for start in range(0, len(order_ids), CHUNK):
        chunk = order_ids[start : start + CHUNK]
        uuids = [payment_order_uuid(order_id) for order_id in chunk]
        loaded = load_aggregates(services.application, services.pool, uuids)
        for order_id, order_uuid in zip(chunk, uuids, strict=True):
            yield order_id, loaded.get(order_uuid)


def is_open(order: PaymentOrder | None) -> bool:
    """Neither terminal nor dead-lettered (an order that is not there is open)."""
    if order is None:
        return True
    return order.status not in TERMINAL and not getattr(order, "dead_lettered", False)


def checkouts_left_undone(services: Services) -> tuple[int, int]:
    """(checkouts whose every order ended, SUCCESS or FAILED; those among them not marked
    done): what the execution feed's completion would have missed, in one query of the
    order status view, which holds both. The ended orders are counted per checkout once and
    joined, on tables just analyzed: a subquery per checkout, planned on the statistics of
    tables the day had just filled (autovacuum not yet by), scanned the whole order table for
    each checkout (a 100,000-order day's checks ran for minutes instead of seconds)."""
    view = live_view(services.pool, "order_status")
    assert isinstance(view, PostgresView)
    checkouts, statuses = view.t("checkouts"), view.t("order_status")
    query = f"""
        SELECT count(*), count(*) FILTER (WHERE NOT c.is_payment_done)
        FROM {checkouts} c
        JOIN (
            SELECT checkout_id, count(*) AS ended FROM {statuses}
            WHERE status IN ('SUCCESS', 'FAILED') GROUP BY checkout_id
        ) o ON o.checkout_id = c.checkout_id
        WHERE cardinality(c.payment_order_ids) = o.ended
    """
    with services.pool.connection() as conn:
        conn.execute(f"ANALYZE {checkouts}, {statuses}")
        row = conn.execute(query).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def charge_counts(sandbox_db: Path, references: set[str]) -> dict[str, int]:
    """How many of our orders the sandbox charged, and charged more than once."""
    charged = twice = 0
    with closing(sqlite3.connect(f"file:{sandbox_db}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT reference, count(*) FROM charges GROUP BY reference")
        for reference, count in rows:
            if reference in references:
                charged += 1
                twice += count > 1
    return {"orders_charged": charged, "orders_with_2_plus_charges": twice}


def verify_views(services: Services, source: ApplicationEventSource) -> dict[str, Any]:
    """Every view rebuilt from event zero and diffed with the live one, row for row."""
    results = verify_all(services.pool, source)
    return {
        "identical": all(result.identical for result in results),
        "rows_compared": sum(result.rows_compared for result in results),
        "rows_differing": {r.name: r.rows_differing for r in results if not r.identical},
        "events_scanned": max((result.events_scanned for result in results), default=0),
    }


def peak_rss_mib(pid: int) -> float | None:
    """A live process's peak resident memory (VmHWM), None when it cannot be read."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return None


def own_peak_rss_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def database_facts(pool: ConnectionPool) -> dict[str, Any]:
    """The database's size, and the largest peak memory of its server processes (backends
    include the shared buffers they touched), when the server runs on this machine."""
    with pool.connection() as conn:
        row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        query = "SELECT pid FROM pg_stat_activity WHERE pid IS NOT NULL"
        pids = [r[0] for r in conn.execute(query)]
    peaks = [peak for pid in pids if (peak := peak_rss_mib(int(pid))) is not None]
    return {
        "database_mib": round(int(row[0]) / MIB, 1) if row else None,
        "postgres_backend_peak_mib": max(peaks, default=None),
    }
