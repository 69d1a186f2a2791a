"""The reconcile scenario's settlement release (ADR 0014), timed against its baselines.

After the reconciliation the release follower (ReleaseFeed) and then the wallet feed run to
idle: orders released per second, and the FundsReleased events the wallet feed moves wallets
by per second. The baseline, in the same run on the same database: saving as many trivial
one-event aggregates in the same chunking (RELEASE_CHUNK per save), and loading the held
orders in those chunks, before and after (the machine's noise shows as their spread).
"""

from __future__ import annotations

import time
from typing import Any

from eventsourcing.domain import Aggregate

from payments.bench.harness import Goal, Table, ratio
from payments.domain.ids import payment_order_uuid
from payments.projections.event_store import load_aggregates
from payments.projections.followers.release_feed import RELEASE_CHUNK
from payments.runtime.services import Services


class Tick(Aggregate):
    """The baseline's trivial aggregate: one small Created event (scratch databases only)."""

    def __init__(self, n: str) -> None:
        self.n = n


def _follow(services: Services, which: str) -> tuple[float, int]:
    """Run the release or the wallet feed to idle: (seconds, events the log grew by)."""
    follower = services.release_feed if which == "release" else services.wallet_feed
    recorder = services.application.recorder
    head = int(recorder.max_notification_id() or 0)
    started = time.perf_counter()
    follower.run_until_idle()
    seconds = time.perf_counter() - started
    return seconds, int(recorder.max_notification_id() or 0) - head


def _baselines(services: Services, orders: int, prefix: str, tag: str) -> tuple[float, float]:
    """(seconds to load the orders, seconds to save as many trivial aggregates), in chunks
    of RELEASE_CHUNK as the release feed loads and saves them."""
    ids = [payment_order_uuid(f"{prefix}{index}") for index in range(orders)]
    started = time.perf_counter()
    for start in range(0, orders, RELEASE_CHUNK):
        load_aggregates(services.application, services.pool, ids[start : start + RELEASE_CHUNK])
    load_s = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, orders, RELEASE_CHUNK):
        services.application.save(
            *(Tick(f"{tag}{n}") for n in range(start, min(orders, start + RELEASE_CHUNK)))
        )
    return load_s, time.perf_counter() - started


def measure_release(
    services: Services, orders: int, prefix: str, seller_nets: int, sellers: int
) -> dict[str, Any]:
    """The settled captures released and the wallets moved, timed, between two runs of the
    baselines (before and after: the machine's noise shows as their spread)."""
    load_before, save_before = _baselines(services, orders, prefix, "before")
    release_s, released = _follow(services, "release")
    wallet_s, wallet_events = _follow(services, "wallets")
    load_after, save_after = _baselines(services, orders, prefix, "after")
    available = 0
    for seller in range(sellers):
        wallet = services.application.find_wallet(f"seller_{seller}")
        available += wallet.available_minor if wallet is not None else 0
    return {
        "orders": orders,
        "chunk": RELEASE_CHUNK,
        "release_seconds": release_s,
        "released": released,
        "wallet_seconds": wallet_s,
        "wallet_events_written": wallet_events,
        "available_minor": available,
        "seller_nets_minor": seller_nets,
        "wallets_match": available == seller_nets,
        "baseline_load_seconds": (load_before + load_after) / 2,
        "baseline_save_seconds": (save_before + save_after) / 2,
        "baseline_load_seconds_before_after": [load_before, load_after],
        "baseline_save_seconds_before_after": [save_before, save_after],
    }


def release_table(release: dict[str, Any]) -> tuple[Table, list[Goal]]:
    """Orders released per second and wallets moved per second, against the baselines."""
    orders, chunk = int(release["orders"]), int(release["chunk"])

    def rate(count: int, seconds: float) -> float:
        return round(count / seconds, 1) if seconds else 0.0

    save_rate = rate(orders, release["baseline_save_seconds"])
    table = Table(
        f"reconcile: settlement release of {orders:,} held captures, {chunk} per save",
        ["step", "count", "seconds", "per second", "÷ baseline save"],
    )
    rows = [
        ("release feed: orders released", release["released"], release["release_seconds"]),
        ("wallet feed: FundsReleased applied", orders, release["wallet_seconds"]),
        (
            "baseline: load held orders (mean of before, after)",
            orders,
            release["baseline_load_seconds"],
        ),
        (
            "baseline: save trivial 1-event aggregates (mean)",
            orders,
            release["baseline_save_seconds"],
        ),
    ]
    for label, count, seconds in rows:
        per_second = rate(int(count), float(seconds))
        table.add(
            label, int(count), round(float(seconds), 3), per_second, ratio(per_second, save_rate)
        )
    if release.get("captures_wallet_seconds") is not None:
        table.add(
            "(before the file) wallet feed past the captures (log events)",
            orders * 3,
            release["captures_wallet_seconds"],
            rate(orders * 3, float(release["captures_wallet_seconds"])),
            None,
        )
    for key, label in (("load", "load held orders"), ("save", "save trivial aggregates")):
        before, after = release.get(f"baseline_{key}_seconds_before_after", [None, None])
        if before and after:
            table.add(
                f"(spread) baseline {label}: before / after the release",
                orders,
                f"{before:.3g} / {after:.3g}",
                f"{orders / before:,.0f} / {orders / after:,.0f}",
                None,
            )
    goals = [
        Goal(
            "every settled held capture released once",
            f"{orders:,} FundsReleased",
            f"{release['released']:,}",
            release["released"] == orders,
        ),
        Goal(
            "wallets' available = the orders' seller nets",
            f"{release['seller_nets_minor']:,} minor",
            f"{release['available_minor']:,} minor",
            bool(release["wallets_match"]),
        ),
    ]
    return table, goals
