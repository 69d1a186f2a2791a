"""Live views and the worker's feeds follow the log together: each event read and decoded
once for them all, and a view or feed that meets a poisoned event stops alone."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta

import pytest

from payments.bench.history import make_history
from payments.bench.workload import place_command
from payments.domain.checkout import Checkout
from payments.domain.ids import checkout_uuid
from payments.projections.catalog import NAMES, live_view, projection_states
from payments.projections.core import ProjectionPoisoned
from payments.projections.followers.execution_feed import ExecutionFeed
from payments.projections.followers.follower import FeedView, Follower, run_together
from payments.projections.followers.release_feed import ReleaseFeed
from payments.projections.followers.risk_feed import RiskFeed
from payments.projections.followers.wallet_feed import WalletFeed
from payments.projections.runner import wait_for_position
from payments.projections.service import ProjectionService
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services
from tests.projections.events import fail, succeed
from tests.projections.runner_helpers import SUCCEEDED, CountingSource, record_a_poisoned_success


def test_live_views_read_each_event_once_and_a_poisoned_view_stops_alone(
    isolated: Services,
) -> None:
    app = isolated.application
    source = CountingSource(isolated, listen=True)
    service = ProjectionService(
        app, isolated.pool, isolated.database_url, NAMES, idle_wait=0.05, source=source
    )
    service.start()
    try:
        deadline = time.monotonic() + 20
        while service.running != set(NAMES) and time.monotonic() < deadline:
            time.sleep(0.02)  # a view that joins late reads from its own position: again
        assert service.running == set(NAMES)
        make_history(app, 300, seed=31)  # written while the views follow
        head = app.recorder.max_notification_id() or 0
        _wait_for_positions(isolated, NAMES, head)
        assert set(source.decoded.values()) == {1}  # each event decoded once for all views
        assert max(source.decoded) == head
        record_a_poisoned_success(app)
        make_history(app, 5, seed=32, prefix="after")
        later = app.recorder.max_notification_id() or 0
        readers = [
            n for n in NAMES if SUCCEEDED in (live_view(isolated.pool, n).topics or {SUCCEEDED})
        ]
        others = [n for n in NAMES if n not in readers]
        assert readers
        assert others
        _wait_for_positions(isolated, others, later)  # the others go on past the bad event
        deadline = time.monotonic() + 20
        while set(service.poisoned) != set(readers) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert set(service.poisoned) == set(readers)
        states = {s.name: s for s in projection_states(app, isolated.pool)}
        for name in readers:
            assert states[name].state == "poisoned"
            assert states[name].poisoned_notification_id == head + 1
            assert live_view(isolated.pool, name).position() == head
        for name in others:
            assert states[name].state == "running"
        assert service.running == set(others)
    finally:
        service.stop()
    states = {s.name: s.state for s in projection_states(app, isolated.pool)}
    assert {states[name] for name in others} == {"stopped"}
    assert {states[name] for name in readers} == {"poisoned"}


def test_followers_run_together_read_each_event_once_and_a_poisoned_one_is_raised_last(
    isolated: Services,
) -> None:
    app, pool = isolated.application, isolated.pool
    make_history(app, 200, seed=41)
    source = CountingSource(isolated)
    views: list[FeedView] = [
        ExecutionFeed(pool, app, first_requery_delay=timedelta(seconds=30)),
        ReleaseFeed(pool, app, enabled=True),
        WalletFeed(pool, app),
        RiskFeed(pool, app),
    ]
    followers = [Follower(view, source) for view in views]
    assert run_together(followers) > 0
    while run_together(followers):  # the feeds' own saves (checkouts done, credits) too
        pass
    head = app.recorder.max_notification_id() or 0
    assert {view.name: view.position() for view in views} == dict.fromkeys(
        (view.name for view in views), head
    )
    assert set(source.decoded.values()) == {1}  # each event decoded once for all of them
    record_a_poisoned_success(app)
    make_history(app, 5, seed=42, prefix="after")
    later = app.recorder.max_notification_id() or 0
    readers = [view for view in views if SUCCEEDED in (view.topics or {SUCCEEDED})]
    others = [view for view in views if view not in readers]
    assert readers
    assert others
    with pytest.raises(ProjectionPoisoned) as poisoned:
        run_together(followers)
    assert poisoned.value.notification_id == head + 1
    assert {view.position() for view in readers} == {head}  # stopped before the bad event
    assert {view.position() for view in others} == {later}  # went on past it


def _wait_for_positions(services: Services, names: Sequence[str], position: int) -> None:
    for name in names:
        view = live_view(services.pool, name)
        wait_for_position(view, position, timeout=30)
        assert view.position() == position, name


def test_checkouts_are_done_whether_or_not_the_feed_saw_their_orders_created(
    isolated: Services,
) -> None:
    """The execution feed knows the orders a batch ends from their events and their
    checkouts from the Created events it applied; a feed that did not see those (a restart,
    another worker) loads them: the checkouts end done either way, with the right counts."""
    app, pool = isolated.application, isolated.pool
    for index in range(4):
        app.place_checkout(place_command("co_feed", index))

    def feed() -> Follower:
        view = ExecutionFeed(pool, app, first_requery_delay=timedelta(seconds=30))
        return Follower(view, ApplicationEventSource(app))

    def end(checkout: int, orders: Sequence[int]) -> None:
        ended = []
        for n in orders:
            order = app.get_order(f"co_feed_{checkout}_{n}")
            ended.append(succeed(order) if n else fail(order))
        app.save(*ended)

    def done(checkout: int) -> tuple[bool, int, int]:
        """Done, and the counts its PaymentDone recorded (0, 0 when not done)."""
        events = list(app.events.get(checkout_uuid(f"co_feed_{checkout}")))
        ended = [e for e in events if isinstance(e, Checkout.PaymentDone)]
        assert len(ended) <= 1  # recorded once at most
        return (True, ended[0].succeeded, ended[0].failed) if ended else (False, 0, 0)

    first = feed()
    first.run_until_idle()  # it applies every order's Created event
    end(0, [0, 1, 2])
    end(1, [1, 2])
    first.run_until_idle()
    assert done(0) == (True, 2, 1)
    assert done(1)[0] is False  # one order still open
    later = feed()  # remembers nothing: it loads what it needs
    end(1, [0])
    end(2, [1])
    end(2, [0, 2])
    end(3, [0, 1, 2])
    later.run_until_idle()
    assert [done(index) for index in range(1, 4)] == [(True, 2, 1)] * 3
