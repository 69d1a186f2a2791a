"""Sellers as charge checks read them: a short-lived cache in front of the event store.

Every order of every checkout asks whether its seller may be charged for (suspended, KYC;
domain/seller_commands.py). Read from the event store that is one query per order, which
profiling showed as the API's largest single cost per `POST /payments` (docs/performance.md).
Here a seller read is kept `ttl_s` seconds (PAYMENTS_SELLER_CACHE_S, default 2, 0: off):
a change made by this process is seen at once (SellerCommands tells the cache), a change
made by another process (the scheduler's KYC look-ups, another API process) within `ttl_s`,
as a revoked API key is (ADR 0013). Payouts never read through it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from payments.domain.seller import Seller

MAX_SELLERS = 100_000


class SellerCache:
    def __init__(
        self,
        load: Callable[[str], Seller | None],
        ttl_s: float,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl_s = ttl_s
        self._lock = threading.Lock()
        # (seller,): a seller not onboarded is cached too, as (None,)
        self._cache: TTLCache[str, tuple[Seller | None]] = TTLCache(
            MAX_SELLERS, ttl=max(ttl_s, 1e-9), timer=timer
        )
        self._generation = 0  # moves on with each forget: a read racing a change is not kept

    def find(self, seller_account: str) -> Seller | None:
        if self._ttl_s <= 0:
            return self._load(seller_account)
        with self._lock:
            # One look-up: `in` then `[]` could see the entry expire in between (KeyError).
            cached = self._cache.get(seller_account)
            if cached is not None:
                return cached[0]
            generation = self._generation
        seller = self._load(seller_account)
        with self._lock:
            if generation == self._generation:
                self._cache[seller_account] = (seller,)
        return seller

    def forget(self, seller_account: str) -> None:
        with self._lock:
            self._generation += 1
            self._cache.pop(seller_account, None)
