"""Scenario `webhooks`: the notification feed's and the sender's deliveries per second (ADR 0027).

The feed: one endpoint subscribed to payment_order.succeeded is registered, then `orders`
orders are written succeeded straight through the application (3 events each, large saves:
bench/reconcile.write_history; not timed), and `services.webhooks.feed` runs to idle from
event zero: one delivery per order. Baselines in the same run, on the same database: the
same feed over the same events where no endpoint wants one (the cost of following alone:
reading, decoding, tracking), and the rows it made inserted with its own statement
(insert_deliveries, FOLLOWER_BATCH rows a transaction); each twice, so that their spread
shows the machine's noise.

The sender (bench/webhook_sending.py): `deliveries` due deliveries to a local receiver in a
child process, sent as the worker sends them (slots kept full) until idle at each concurrency
of `levels`, against plain urllib3 POSTs of the same bodies at the same concurrency, no
database (the HTTP ceiling), before and after, and against the outcomes recorded alone.

GET /events (bench/event_reads.py): the log after the endpoint read back as public events,
page by page, against the same notifications read alone and read and decoded.
GET /events/{event_id} (bench/event_lookups.py): the view of event ids built, then events
looked up by id, from its rows and from the log after it, against a page of one at the same
position.

Fairness (bench/webhook_fairness.py): a second endpoint whose receiver answers in `slow_ms`;
`fair_deliveries` of the fast endpoint's sent alone, then beside as many of the slow one's,
due first, at the first of `levels` with the default share.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import psycopg

from payments.bench.event_lookups import event_lookups_table, measure_event_lookups
from payments.bench.event_reads import event_reads_table, measure_event_reads
from payments.bench.harness import BenchContext, Goal, ScenarioResult, Table, ratio
from payments.bench.reconcile import write_history
from payments.bench.webhook_fairness import (
    fairness_goal,
    fairness_table,
    measure_fairness,
    slow_endpoint,
)
from payments.bench.webhook_sending import (
    measure_sender,
    receiving,
    sender_notes,
    sender_table,
)
from payments.projections.followers.follower import FOLLOWER_BATCH
from payments.projections.followers.notification_feed import NotificationFeed
from payments.projections.followers.webhook_deliveries import NewDelivery, insert_deliveries
from payments.projections.pg import fetch_all
from payments.runtime.config import Settings
from payments.runtime.services import Services, build_services

EVENT_TYPE = "payment_order.succeeded"
AUDIT_KEY = "audit-key-of-the-webhooks-benchmark"  # scratch databases only
PREFIX = "wh"


def run(ctx: BenchContext) -> ScenarioResult:
    orders: int = ctx.param("orders", 20_000, 1_000)
    count: int = ctx.param("deliveries", 20_000, 300)
    levels: list[int] = ctx.param("levels", [8, 32], [8, 32])
    delay_ms: int = ctx.param("delay_ms", 0, 0)
    slow_ms: int = ctx.param("slow_ms", 1000, 500)
    fair_count: int = ctx.param("fair_deliveries", 2_000, 300)
    with contextlib.ExitStack() as stack:
        receiver = stack.enter_context(receiving(ctx, delay_ms))
        slow_receiver = stack.enter_context(receiving(ctx, slow_ms))
        url = ctx.create_database("webhooks")
        env = {"PAYMENTS_DATABASE_URL": url, "PAYMENTS_AUDIT_KEY": AUDIT_KEY}
        services = build_services(Settings.from_env(env), url)
        stack.callback(services.close)
        endpoint, position, _ = services.webhooks.register(
            "bench", receiver.url, [EVENT_TYPE], "the benchmark's receiver", "bench"
        )
        assert position is not None
        started = time.perf_counter()
        write_history(services.application, orders, PREFIX)
        setup_s = time.perf_counter() - started
        ctx.log(f"history: {orders:,} succeeded orders in {setup_s:.1f}s")
        feed, made = measure_feed(services, position)
        ctx.log(
            f"feed: {len(made):,} deliveries in {feed['feed_seconds']:.2f}s; no endpoint "
            f"{feed['alone_seconds'][0]:.2f} / {feed['alone_seconds'][1]:.2f}s"
        )
        reads = measure_event_reads(services, position)
        ctx.log(f"GET /events: {reads['listed_count']:,} events read back")
        lookups = measure_event_lookups(services, position)
        runs = measure_sender(ctx, services, env, receiver, made, count, levels)
        slow_id = slow_endpoint(services, slow_receiver, EVENT_TYPE)
        fair = measure_fairness(
            ctx, services, env, made, slow_id, min(fair_count, len(made)), levels[0]
        )
    feed.update(orders=orders, endpoint_id=endpoint.endpoint_id, setup_seconds=setup_s)
    result = ScenarioResult(
        "webhooks",
        params={
            "orders": orders,
            "deliveries": count,
            "levels": levels,
            "delay_ms": delay_ms,
            "slow_ms": slow_ms,
            "fair_deliveries": fair_count,
        },
        tables=[
            feed_table(feed),
            event_reads_table(reads),
            event_lookups_table(lookups),
            sender_table(runs, count),
            fairness_table(fair, slow_ms),
        ],
        goals=[*goals(feed, runs, count), fairness_goal(fair)],
        data={
            "feed": feed,
            "events": reads,
            "lookups": lookups,
            "sender": runs,
            "fairness": fair,
        },
    )
    extra = feed["feed_seconds"] - _mean(feed["alone_seconds"]) - _mean(feed["insert_seconds"])
    result.notes += [
        f"history written in {setup_s:.1f}s (not timed in the rates)",
        f"the feed's seconds beyond following alone and inserting its rows: {extra:.2f}s "
        "(the created events loaded, the bodies made, the subscriptions read each batch)",
        "the receiver runs in a child process; the CPU column is the benchmark process's "
        "alone (the sender or urllib3, and psycopg), not the receiver's nor PostgreSQL's",
        *sender_notes(runs),
    ]
    return result


def measure_feed(
    services: Services, endpoint_position: int
) -> tuple[dict[str, Any], list[NewDelivery]]:
    """The feed timed from event zero, between its baselines: the same feed over the same
    events where no endpoint wants one (set back to just after the endpoint's creation:
    first before the feed has seen the endpoint at all, then with its subscription disabled
    from the position it was made at), and the rows it made inserted. Its deliveries."""
    alone_first = _follow_from(services, endpoint_position)
    feed_s = _follow_from(services, 0)
    made = _made(services)
    insert_first = _insert(services, made)
    _subscription_wants(services, nothing=True)
    alone_second = _follow_from(services, endpoint_position)
    _subscription_wants(services, nothing=False)
    insert_second = _insert(services, made)
    recorder = services.application.recorder
    return {
        "log_events": int(recorder.max_notification_id() or 0),
        "deliveries": len(made),
        "distinct_events": len({d.event_id for d in made}),
        "feed_seconds": feed_s,
        "alone_seconds": [alone_first, alone_second],
        "insert_seconds": [insert_first, insert_second],
        "insert_chunk": FOLLOWER_BATCH,
    }, made


def _follow_from(services: Services, position: int) -> float:
    """Seconds to run the feed to idle from just after `position` (its tracking set back)."""
    with services.pool.connection() as conn:
        moved = conn.execute(
            f"UPDATE {NotificationFeed.tables[-1]} SET notification_id = %s", (position,)
        ).rowcount
    assert moved == 1, "the feed's tracking row is missing"
    started = time.perf_counter()
    services.webhooks.feed.run_until_idle()
    return time.perf_counter() - started


def _subscription_wants(services: Services, *, nothing: bool) -> None:
    """The endpoint's subscription disabled from the position it was made at (it wants no
    event at all), or enabled again."""
    with services.pool.connection() as conn:
        conn.execute(
            "UPDATE webhook_subscriptions SET disabled_position = "
            "CASE WHEN %s THEN created_position END",
            (nothing,),
        )


def _made(services: Services) -> list[NewDelivery]:
    rows = fetch_all(
        services.pool,
        "SELECT delivery_id, endpoint_id, event_id, event_type, position, body "
        "FROM webhook_deliveries ORDER BY position",
    )
    return [NewDelivery(r[0], r[1], r[2], r[3], r[4], bytes(r[5])) for r in rows]


def _insert(services: Services, made: list[NewDelivery]) -> float:
    """Seconds to insert these rows into an emptied table as the feed does: its statement,
    FOLLOWER_BATCH rows a transaction."""
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        conn.execute("TRUNCATE webhook_deliveries")
    started = time.perf_counter()
    for start in range(0, len(made), FOLLOWER_BATCH):
        with services.pool.connection() as conn, conn.transaction():
            insert_deliveries(conn, made[start : start + FOLLOWER_BATCH])
    return time.perf_counter() - started


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def feed_table(feed: dict[str, Any]) -> Table:
    orders, made = int(feed["orders"]), int(feed["deliveries"])
    table = Table(
        f"webhooks: the notification feed, {orders:,} succeeded orders ({feed['log_events']:,} "
        f"log events), 1 endpoint subscribed to {EVENT_TYPE}",
        ["run", "succeeded events", "deliveries made", "seconds", "per second", "feed ÷ this"],
    )
    feed_rate = made / feed["feed_seconds"] if feed["feed_seconds"] else 0.0
    table.add(
        "feed, 1 endpoint (services.webhooks.feed to idle)",
        orders,
        made,
        round(feed["feed_seconds"], 3),
        round(feed_rate, 1),
        1.0,
    )
    baselines = [
        ("baseline: the same feed, no endpoint subscribed (mean of 2)", "alone", orders, None),
        (
            f"baseline: its rows inserted, {feed['insert_chunk']:,} a statement (mean of 2)",
            "insert",
            None,
            made,
        ),
    ]
    for label, key, events, rows in baselines:
        seconds = _mean(feed[f"{key}_seconds"])
        rate = (events or rows or 0) / seconds if seconds else 0.0
        table.add(label, events, rows, round(seconds, 3), round(rate, 1), ratio(feed_rate, rate))
    for label, key in (("no endpoint", "alone"), ("insert", "insert")):
        first, second = feed[f"{key}_seconds"]
        table.add(
            f"(spread) baseline {label}: first / second",
            None,
            None,
            f"{first:.3g} / {second:.3g}",
            f"{orders / first:,.0f} / {orders / second:,.0f}",
            None,
        )
    return table


def goals(feed: dict[str, Any], runs: list[dict[str, Any]], count: int) -> list[Goal]:
    """Outcomes, not time: one delivery per succeeded order; each due delivery POSTed once
    and recorded delivered at its first attempt."""
    made = [
        Goal(
            "the feed: one delivery per succeeded order",
            f"{feed['orders']:,} deliveries of {feed['orders']:,} events",
            f"{feed['deliveries']:,} of {feed['distinct_events']:,}",
            feed["deliveries"] == feed["distinct_events"] == feed["orders"],
        )
    ]
    return made + [
        Goal(
            f"the sender at {run['concurrency']}: each delivery POSTed once, delivered",
            f"{count:,} POSTs, {count:,} delivered, 1 attempt each",
            f"{run['receiver_posts']:,} POSTs, {run['delivered']:,} delivered, "
            f"at most {run['max_attempts']} attempts"
            + "".join(f"; {n:,} not delivered: {why}" for why, n in run["not_delivered"].items()),
            run["receiver_posts"] == run["delivered"] == count and run["max_attempts"] == 1,
        )
        for run in runs
    ]
