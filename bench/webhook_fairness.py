"""The webhooks scenario's fairness half: a fast endpoint's deliveries beside a slow one's.

A second receiver answers each POST after `slow_ms`; a second endpoint posts to it. The sender
runs as the worker runs it (`run_forever` in a thread, the deployment's default share: half
the threads for one endpoint) at `concurrency`, until every delivery of the fast endpoint is
recorded delivered. Once with only the fast endpoint's deliveries due (the baseline), once
with the slow endpoint's due as well, made due first so that they are the earliest. The ratio
of the fast endpoint's rates says how much the slow one took from it: a sender that waited
for its slowest POST before claiming again would have made the fast one's rate that of the
slow one.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import psycopg

from payments.bench import harness
from payments.bench.webhook_sending import Receiver, Run
from payments.projections.followers.webhook_deliveries import NewDelivery, insert_deliveries
from payments.runtime.config import Settings
from payments.runtime.services import Services
from payments.runtime.webhooks import Webhooks

POLL_S = 0.02


def slow_endpoint(services: Services, receiver: Receiver, event_type: str) -> str:
    """A second endpoint, posting to the slow receiver, its subscription made by the feed."""
    endpoint, _, _ = services.webhooks.register(
        "bench-slow", receiver.url, [event_type], "the benchmark's slow receiver", "bench"
    )
    services.webhooks.feed.run_until_idle()
    return endpoint.endpoint_id


def _due(services: Services, batches: list[list[NewDelivery]]) -> None:
    """The table emptied, then each batch made due in a transaction of its own, in turn (the
    first batch due earliest), and the table analysed."""
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE webhook_deliveries")
    for batch in batches:
        with services.pool.connection() as conn, conn.transaction():
            insert_deliveries(conn, batch)
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE webhook_deliveries")


def _delivered(services: Services, endpoint_id: str) -> int:
    with services.pool.connection() as conn:
        row = conn.execute(
            "SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = %s "
            "AND status = 'delivered'",
            (endpoint_id,),
        ).fetchone()
    assert row is not None
    return int(row[0])


def _run_until(
    services: Services, env: dict[str, str], concurrency: int, fast_id: str, count: int
) -> Run:
    """The sender running as the worker runs it until `count` of the fast endpoint's
    deliveries are delivered (or 600 s)."""
    settings = Settings.from_env({**env, "PAYMENTS_DELIVERY_CONCURRENCY": str(concurrency)})
    sender = Webhooks(settings, services.application, services.pool).sender()
    thread = threading.Thread(target=sender.run_forever, name="bench-sender")
    cpu, started = time.process_time(), time.perf_counter()
    thread.start()
    try:
        while _delivered(services, fast_id) < count and time.perf_counter() - started < 600:
            time.sleep(POLL_S)
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    finally:
        sender.stop()
        thread.join()
        sender.close()
    return Run(_delivered(services, fast_id), seconds, cpu_seconds)


def measure_fairness(
    ctx: harness.BenchContext,
    services: Services,
    env: dict[str, str],
    made: list[NewDelivery],
    slow_id: str,
    count: int,
    concurrency: int,
) -> dict[str, Any]:
    """The fast endpoint's `count` deliveries alone, then beside as many of the slow one's,
    made due before them."""
    fast = [dataclasses.replace(d, delivery_id=f"{d.delivery_id}_fair") for d in made[:count]]
    slow = [
        dataclasses.replace(d, delivery_id=f"{d.delivery_id}_slow", endpoint_id=slow_id)
        for d in made[:count]
    ]
    fast_id = fast[0].endpoint_id
    _due(services, [fast])
    alone = _run_until(services, env, concurrency, fast_id, count)
    _due(services, [slow, fast])
    beside = _run_until(services, env, concurrency, fast_id, count)
    slow_delivered = _delivered(services, slow_id)
    ctx.log(
        f"fairness at {concurrency}: the fast endpoint {alone.rate:,.0f} deliveries/s alone, "
        f"{beside.rate:,.0f}/s beside the slow one ({slow_delivered:,} of its delivered "
        "meanwhile)"
    )
    return {
        "concurrency": concurrency,
        "alone": alone.figures(),
        "beside": beside.figures(),
        "slow_delivered": slow_delivered,
        "count": count,
    }


def fairness_table(run: dict[str, Any], slow_ms: int) -> harness.Table:
    table = harness.Table(
        f"webhooks: a fast endpoint beside one answering in {slow_ms} ms (sender at "
        f"{run['concurrency']}, default share)",
        ["run", "fast deliveries", "seconds", "per second", "beside ÷ this"],
    )
    alone, beside = Run(**run["alone"]), Run(**run["beside"])
    for label, measured in (
        ("baseline: the fast endpoint's alone", alone),
        (f"beside the slow endpoint's {run['count']:,}, due first", beside),
    ):
        table.add(
            label,
            measured.done,
            round(measured.seconds, 3),
            round(measured.rate, 1),
            harness.ratio(beside.rate, measured.rate),
        )
    return table


def fairness_goal(run: dict[str, Any]) -> harness.Goal:
    """Outcomes, not time: every fast delivery delivered while the slow ones were due."""
    beside = Run(**run["beside"])
    return harness.Goal(
        "a slow endpoint holds back no other: the fast one's deliveries all delivered while "
        "the slow one's wait",
        f"{run['count']:,} delivered, fewer of the slow one's",
        f"{beside.done:,} delivered; the slow one's {run['slow_delivered']:,}",
        beside.done == run["count"] and run["slow_delivered"] < run["count"],
    )
