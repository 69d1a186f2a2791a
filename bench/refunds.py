"""Scenario `refunds`: refund requests (optimistic concurrency on the order) vs place_checkout.

At every thread level (`levels`) on one database: `checkouts` checkouts of 3 orders are
placed through `PaymentsApplication.place_checkout` (timed: the baseline, one command that
saves a checkout and its orders), one order of each checkout is captured (not timed), then
one partial refund per captured order (as many requests as checkouts, so both phases are
equally exposed to the machine's noise) through `RefundCommands.request_refund` (timed: find
the refund, load the order, reserve on it and save the order with the new Refund, deciding
again after a concurrent write). Both are commands of one request each, so `refunds/s ÷
checkouts/s` compares what an API client gets from the two; `p50 place ÷ p50 refund` is the
same comparison by median latency, steadier on a noisy machine at 1 thread.

Then the contended case: `contended_orders` captured orders, each refunded one cent at a
time by `contenders` threads at once. Every save but one per round conflicts on the order's
version and decides again (REFUND_SAVE_ATTEMPTS), so this is the optimistic path's worst
case; all must be accepted and each order must show exactly `contenders` cents taken.
Nothing here gates on time: the goals are the outcomes.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from eventsourcing.persistence import IntegrityError

from payments.bench.harness import (
    BenchContext,
    Goal,
    ScenarioResult,
    Table,
    ratio,
)
from payments.bench.timing import throughput, timed_parallel
from payments.bench.workload import ORDERS_PER_CHECKOUT, place_command
from payments.domain.application import PaymentsApplication
from payments.domain.ids import payment_order_uuid
from payments.domain.payment_order import PaymentOrder
from payments.domain.refund_commands import RequestRefund
from payments.projections.event_store import load_aggregates
from payments.runtime.config import Settings
from payments.runtime.services import Services, build_services

CAPTURE_CHUNK = 500
DEADLINE_S = 600.0


def run(ctx: BenchContext) -> ScenarioResult:
    checkouts: int = ctx.param("checkouts", 3000, 100)
    levels: list[int] = ctx.param("levels", [1, 8], [1, 4])
    contended_orders: int = ctx.param("contended_orders", 20, 3)
    contenders: int = ctx.param("contenders", 20, 20)
    commission: str = ctx.param("commission", "2.5%+0.30", "2.5%+0.30")
    refund_commission: str = ctx.param("refund_commission", "keep", "keep")
    url = ctx.create_database("refunds")
    settings = Settings.from_env(
        {
            "PAYMENTS_DATABASE_URL": url,
            "PAYMENTS_COMMISSION": commission,
            "PAYMENTS_REFUND_COMMISSION": refund_commission,
        }
    )
    services = build_services(settings, url)
    levels_measured: list[dict[str, Any]] = []
    try:
        warm = _place(services.application, 4, 20, "warm")["order_ids"]
        _capture(services, warm)
        _refund(services, 4, warm, lambda _: 1)
        for level in levels:
            placed = _place(services.application, level, checkouts, f"p{level}")
            # One order of each checkout: as many refund requests as checkouts placed.
            order_ids = placed.pop("order_ids")[::ORDERS_PER_CHECKOUT]
            halves = [amount // 2 for amount in _capture(services, order_ids)]
            refunded = _refund(services, level, order_ids, halves.__getitem__)
            levels_measured.append({"threads": level, "place": placed, "refund": refunded})
            ctx.log(
                f"{level:>2} threads: place_checkout {placed['rate']:.1f}/s, "
                f"request_refund {refunded['rate']:.1f}/s"
            )
        contended = _contended(services, contended_orders, contenders)
        ctx.log(f"contended: {contended['rate']:.1f} refunds/s, {contended['conflicts']} conflicts")
    finally:
        services.close()
    return _result(
        levels_measured,
        contended,
        {
            "checkouts_per_level": checkouts,
            "orders_per_checkout": ORDERS_PER_CHECKOUT,
            "levels": levels,
            "contended_orders": contended_orders,
            "contenders": contenders,
            "commission": commission,
            "refund_commission": refund_commission,
        },
    )


def _place(app: PaymentsApplication, threads: int, count: int, tag: str) -> dict[str, Any]:
    """Place `count` checkouts of 3 orders on `threads` threads (timed)."""
    prefix = f"{tag}{uuid.uuid4().hex[:8]}"
    commands = [place_command(prefix, i) for i in range(count)]
    elapsed, latencies, errors = timed_parallel(
        threads, count, lambda i: app.place_checkout(commands[i]), deadline_s=DEADLINE_S
    )
    return {
        **_rates(elapsed, latencies, errors),
        "order_ids": [line.payment_order_id for c in commands for line in c.orders],
    }


def _capture(services: Services, order_ids: list[str]) -> list[int]:
    """Record every order's success, saved in chunks (not timed); the orders' amounts."""
    amounts: list[int] = []
    for start in range(0, len(order_ids), CAPTURE_CHUNK):
        chunk = order_ids[start : start + CAPTURE_CHUNK]
        loaded = load_aggregates(
            services.application, services.pool, [payment_order_uuid(i) for i in chunk]
        )
        orders: list[PaymentOrder] = [loaded[payment_order_uuid(i)] for i in chunk]
        for order in orders:
            order.start_execution()
            order.record_success(f"ch_{order.payment_order_id}", source="bench")
            amounts.append(order.amount_minor)
        services.application.save(*orders)
    return amounts


def _refund(
    services: Services, threads: int, order_ids: list[str], amount: Callable[[int], int | None]
) -> dict[str, Any]:
    """One refund request per order id on `threads` threads (timed), conflicts counted."""
    tag = uuid.uuid4().hex[:8]
    created = [0]
    lock = threading.Lock()

    def request(index: int) -> None:
        placement = services.refunds.request_refund(
            RequestRefund(
                refund_id=f"re_{tag}_{index}",
                payment_order_id=order_ids[index],
                amount_minor=amount(index),
                reason="bench",
                requested_by="bench",
            )
        )
        if placement.created:
            with lock:
                created[0] += 1

    with _conflicts(services.application) as conflicts:
        elapsed, latencies, errors = timed_parallel(
            threads, len(order_ids), request, deadline_s=DEADLINE_S
        )
    return {
        **_rates(elapsed, latencies, errors),
        "requested": len(order_ids),
        "created": created[0],
        "conflicts": conflicts[0],
    }


def _contended(services: Services, orders: int, contenders: int) -> dict[str, Any]:
    """`contenders` threads refund one cent each of the same order at once, order by order."""
    placed = _place(services.application, 1, orders, "c")
    order_ids = placed["order_ids"][::ORDERS_PER_CHECKOUT]  # one order of each checkout
    _capture(services, order_ids)
    targets = [order_id for order_id in order_ids for _ in range(contenders)]
    measured = _refund(services, contenders, targets, lambda _: 1)
    taken = {
        order.payment_order_id: order.taken_minor
        for order in load_aggregates(
            services.application, services.pool, [payment_order_uuid(i) for i in order_ids]
        ).values()
    }
    measured["orders"] = len(order_ids)
    measured["orders_exact"] = sum(1 for t in taken.values() if t == contenders)
    return measured


@contextlib.contextmanager
def _conflicts(app: PaymentsApplication) -> Iterator[list[int]]:
    """Count the saves that lost to a concurrent write (IntegrityError) while inside."""
    count = [0]
    lock = threading.Lock()
    record = app.record

    def counting(*aggregates: Any, **options: Any) -> int | None:
        try:
            return record(*aggregates, **options)
        except IntegrityError:
            with lock:
                count[0] += 1
            raise

    app.__dict__["record"] = counting  # this instance only, for the measurement
    try:
        yield count
    finally:
        del app.__dict__["record"]


def _rates(elapsed: float, latencies: list[float], errors: int) -> dict[str, Any]:
    return {**throughput(elapsed, latencies, errors), "seconds": round(elapsed, 3)}


def _result(
    levels: list[dict[str, Any]], contended: dict[str, Any], params: dict[str, Any]
) -> ScenarioResult:
    table = Table(
        "refunds: request_refund (one partial refund per captured order) vs place_checkout",
        [
            "threads",
            "command",
            "done",
            "seconds",
            "per second",
            "p50 ms",
            "p99 ms",
            "errors",
            "save conflicts",
            "refunds ÷ checkouts",
            "p50 place ÷ p50 refund",
        ],
    )
    goals: list[Goal] = []
    for level in levels:
        place, refund = level["place"], level["refund"]
        table.add(
            level["threads"],
            "place_checkout (3 orders)",
            place["done"],
            place["seconds"],
            round(place["rate"], 1),
            place["p50"],
            place["p99"],
            place["errors"],
            None,
            None,
            None,
        )
        table.add(
            level["threads"],
            "request_refund",
            refund["done"],
            refund["seconds"],
            round(refund["rate"], 1),
            refund["p50"],
            refund["p99"],
            refund["errors"],
            refund["conflicts"],
            ratio(refund["rate"], place["rate"]),
            ratio(place["p50"], refund["p50"]),
        )
        goals.append(
            Goal(
                f"{level['threads']} threads: every refund accepted once",
                f"{refund['requested']:,} created, 0 errors",
                f"{refund['created']:,} created, {refund['errors']} errors",
                refund["created"] == refund["requested"] and refund["errors"] == 0,
            )
        )
    contention = Table(
        f"refunds contended: {params['contenders']} threads x 1 cent, same order",
        ["requests", "seconds", "refunds/s", "p50 ms", "p99 ms", "errors", "save conflicts"],
    )
    contention.add(
        contended["requested"],
        contended["seconds"],
        round(contended["rate"], 1),
        contended["p50"],
        contended["p99"],
        contended["errors"],
        contended["conflicts"],
    )
    goals.append(
        Goal(
            "contended: every 1-cent refund accepted, none twice",
            f"{contended['requested']:,} created; {contended['orders']} orders exact",
            f"{contended['created']:,} created; {contended['orders_exact']} orders exact",
            contended["created"] == contended["requested"]
            and contended["orders_exact"] == contended["orders"],
        )
    )
    return ScenarioResult(
        "refunds",
        params=params,
        tables=[table, contention],
        goals=goals,
        notes=["ratios are of one run on a shared machine; compare them, not the rates"],
        data={"levels": levels, "contended": contended},
    )
