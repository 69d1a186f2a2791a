"""The worker's feeds remember what the log told them (the orders of a checkout, the terms of
an order) and load only what they did not see: the same outcome either way, fewer loads."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from types import ModuleType
from typing import Any
from uuid import UUID

import pytest

from payments.bench.workload import place_command
from payments.domain.checkout import Checkout
from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.domain.seller_wallet import SellerWallet
from payments.projections.followers import execution_feed, wallet_feed
from payments.projections.followers.execution_feed import ExecutionFeed
from payments.projections.followers.follower import Follower
from payments.projections.followers.wallet_feed import WalletFeed
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services
from tests.projections.events import fail, new_order, succeed


def _asked(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str) -> list[set[UUID]]:
    """The ids each call of the module's loader asks for (the real loader answers)."""
    asked: list[set[UUID]] = []
    real: Callable[..., Any] = getattr(module, name)

    def counted(application: Any, pool: Any, ids: Any) -> Any:
        wanted = set(ids)
        asked.append(wanted)
        return real(application, pool, wanted)

    monkeypatch.setattr(module, name, counted)
    return asked


def test_a_checkout_is_loaded_once_when_its_last_order_ends_and_never_before(
    isolated: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, pool = isolated.application, isolated.pool
    app.place_checkout(place_command("co_mem", 0))
    feed = Follower(
        ExecutionFeed(pool, app, first_requery_delay=timedelta(seconds=30)),
        ApplicationEventSource(app),
    )
    feed.run_until_idle()  # the checkout's and its orders' Created events
    asked = _asked(monkeypatch, execution_feed, "load_aggregates")
    orders = [app.get_order(f"co_mem_0_{n}") for n in range(3)]
    app.save(succeed(orders[1]), succeed(orders[2]))
    feed.run_until_idle()
    assert not set().union(*asked)  # one order still open: nothing loaded
    assert _done(app, "co_mem_0") is None
    asked.clear()
    app.save(fail(orders[0]))
    feed.run_until_idle()
    assert set().union(*asked) == {checkout_uuid("co_mem_0")}  # not its orders
    assert _done(app, "co_mem_0") == (2, 1)


def test_a_capture_credits_from_remembered_terms_or_from_loaded_ones_alike(
    isolated: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, pool = isolated.application, isolated.pool
    free = new_order("wm_free", seller="s_mem", amount=1000, checkout="co_wm")
    held = new_order("wm_held", seller="s_mem", amount=700, checkout="co_wm", funds_held=True)
    later = new_order("wm_later", seller="s_later", amount=300, checkout="co_wm")
    app.save(free, held, later)

    def feed() -> Follower:
        return Follower(WalletFeed(pool, app), ApplicationEventSource(app))

    first = feed()
    first.run_until_idle()  # the three Created events: their terms remembered
    asked = _asked(monkeypatch, wallet_feed, "load_created")
    app.save(succeed(app.get_order("wm_free")), succeed(app.get_order("wm_held")))
    first.run_until_idle()
    assert not set().union(*asked)  # both captures from the remembered terms
    assert _available(app, "s_mem") == 1000  # the held one waits for its release
    asked.clear()
    app.save(succeed(app.get_order("wm_later")))
    feed().run_until_idle()  # a feed that remembers nothing (a restart) loads the terms
    assert set().union(*asked) == {payment_order_uuid("wm_later")}
    assert _available(app, "s_later") == 300


def _done(app: Any, checkout_id: str) -> tuple[int, int] | None:
    events: Sequence[Any] = list(app.events.get(checkout_uuid(checkout_id)))
    ended = [e for e in events if isinstance(e, Checkout.PaymentDone)]
    assert len(ended) <= 1
    return (ended[0].succeeded, ended[0].failed) if ended else None


def _available(app: Any, seller: str) -> int:
    wallet: SellerWallet = app.repository.get(SellerWallet.create_id(seller))
    return wallet.available_minor
