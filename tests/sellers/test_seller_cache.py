"""Charge checks read sellers through a short cache (runtime/seller_cache.py), on PostgreSQL:
this process's own changes are seen at once, another process's within the cache's time."""

from __future__ import annotations

import time

from payments.domain.seller import Seller
from payments.domain.seller_commands import RegisterSeller
from payments.runtime.config import Settings
from payments.runtime.seller_cache import SellerCache
from payments.runtime.services import build_services
from tests.conftest import new_database, unique

ORDER = ("payment_orders[0].seller_account",)


def test_a_suspension_here_is_seen_at_once_and_one_elsewhere_within_the_cache_time(
    admin_database_url: str,
) -> None:
    account = unique("cached")
    with new_database(admin_database_url) as url:
        env = {"PAYMENTS_DATABASE_URL": url, "PAYMENTS_SELLER_CACHE_S": "0.5"}
        here = build_services(Settings.from_env(env), url)
        elsewhere = build_services(Settings.from_env(env), url)  # another process's view
        try:
            loads: list[str] = []
            sellers = here.sellers
            assert isinstance(sellers.charge_reads, SellerCache)

            def counted(seller_account: str) -> Seller | None:
                loads.append(seller_account)
                return sellers.find(seller_account)

            sellers.charge_reads = SellerCache(counted, 0.5)
            sellers.register(RegisterSeller(account, "DE", "btok_abcd", {}, "key1"))
            for _ in range(3):  # read once, then from the cache
                assert sellers.charge_refusals([(*ORDER, account, "po_1")]) == []
            assert loads == [account]

            sellers.suspend(account, "fraud review", "key1")  # this process: at once
            (refused,) = sellers.charge_refusals([(*ORDER, account, "po_2")])
            assert "is suspended" in refused.message
            sellers.reinstate(account, "cleared", "key1")
            assert sellers.charge_refusals([(*ORDER, account, "po_3")]) == []

            elsewhere.sellers.suspend(account, "fraud review", "key2")  # another process
            assert sellers.charge_refusals([(*ORDER, account, "po_4")]) == []  # still cached
            time.sleep(0.6)
            (refused,) = sellers.charge_refusals([(*ORDER, account, "po_5")])
            assert "is suspended" in refused.message
        finally:
            here.close()
            elsewhere.close()


def test_with_no_cache_time_every_check_reads_the_store(admin_database_url: str) -> None:
    account = unique("uncached")
    with new_database(admin_database_url) as url:
        env = {"PAYMENTS_DATABASE_URL": url, "PAYMENTS_SELLER_CACHE_S": "0"}
        here = build_services(Settings.from_env(env), url)
        elsewhere = build_services(Settings.from_env(env), url)
        try:
            here.sellers.register(RegisterSeller(account, "DE", "btok_abcd", {}, "key1"))
            assert here.sellers.charge_refusals([(*ORDER, account, "po_1")]) == []
            elsewhere.sellers.suspend(account, "fraud review", "key2")
            (refused,) = here.sellers.charge_refusals([(*ORDER, account, "po_2")])
            assert "is suspended" in refused.message
        finally:
            here.close()
            elsewhere.close()


def test_an_entry_read_as_it_expires_is_read_again_never_a_key_error() -> None:
    now = [0.0]
    loads: list[str] = []

    def load(seller_account: str) -> Seller | None:
        loads.append(seller_account)
        return None

    cache = SellerCache(load, 1.0, timer=lambda: now[0])
    assert cache.find("s1") is None
    now[0] = 0.999
    assert cache.find("s1") is None
    assert loads == ["s1"]
    now[0] = 1.0  # expired at exactly this instant (cachetools' own rule)
    assert cache.find("s1") is None
    assert loads == ["s1", "s1"]
