"""Runners on a real event store: exactly once across SIGKILL, one runner per projection,
poisoned events stop loudly, rebuilds equal live views row for row."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from datetime import timedelta

import pytest
from click.testing import CliRunner
from eventsourcing.persistence import Notification, StoredEvent

from payments.bench.history import make_history
from payments.cli.main import main as cli
from payments.domain.application import PaymentsApplication
from payments.domain.payment_order import PaymentOrder
from payments.projections.audit.verify import verify_all
from payments.projections.catalog import NAMES, live_view, projection_states
from payments.projections.core import ProjectionPoisoned, TrackedEvent
from payments.projections.followers.execution_feed import ExecutionFeed
from payments.projections.followers.follower import FeedView, Follower, run_together
from payments.projections.followers.release_feed import ReleaseFeed
from payments.projections.followers.risk_feed import RiskFeed
from payments.projections.followers.wallet_feed import WalletFeed
from payments.projections.rebuild import (
    SCRATCH_PREFIX,
    RebuildBusy,
    diff_views,
    drop_scratch,
    rebuild,
    rebuild_all,
    rebuild_locks,
)
from payments.projections.runner import ProjectionRunner, catch_up_together
from payments.projections.service import ProjectionService
from payments.projections.source import ApplicationEventSource
from payments.projections.views.ledger_pg import PostgresLedger
from payments.projections.views.wallets_pg import PostgresWallets
from payments.runtime.services import Services
from tests.projections.conftest import catch_up_all
from tests.projections.events import new_order

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def expected_from_events(services: Services) -> tuple[dict[str, int], Counter[str]]:
    """Recompute from the stored events alone: transaction id -> amount, and seller credits."""
    app = services.application
    terms: dict[object, tuple[str, int]] = {}
    postings: dict[str, int] = {}
    credits: Counter[str] = Counter()
    for n in app.recorder.select_notifications(start=1, limit=10**7):
        event = app.mapper.to_domain_event(n)
        if isinstance(event, PaymentOrder.Created):
            terms[event.originator_id] = (event.seller_account, event.amount_minor)
        elif isinstance(event, PaymentOrder.Succeeded):
            seller, amount = terms[event.originator_id]
            postings[f"{event.originator_id}:{event.originator_version}"] = amount
            credits[seller] += amount
    return postings, credits


def assert_ledger_and_wallets_match_events(services: Services) -> None:
    postings, credits = expected_from_events(services)
    ledger, wallets = PostgresLedger(services.pool), PostgresWallets(services.pool)
    transactions = ledger.transactions()
    assert len(transactions) == len(postings)  # no duplicate, none missing
    assert {t.transaction_id: t.postings[0].debit_minor for t in transactions} == postings
    with services.pool.connection() as conn:
        row = conn.execute("SELECT count(*) FROM ledger_entries").fetchone()
    assert row is not None
    assert row[0] == 2 * len(postings)
    assert ledger.trial_balance().total_minor == 0
    assert {w.seller_account: w.available_minor for w in wallets.wallets()} == dict(credits)


def test_sigkill_mid_catch_up_then_restart_posts_every_event_exactly_once(
    isolated: Services,
) -> None:
    make_history(isolated.application, 1500, seed=7)
    head = isolated.application.recorder.max_notification_id() or 0
    assert head > 4000
    env = {**os.environ, "PAYMENTS_DATABASE_URL": isolated.database_url}
    process = subprocess.Popen(
        [sys.executable, "-m", "payments.cli.main", "projections", "run", "--batch-size", "20"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ledger = PostgresLedger(isolated.pool)
    try:
        deadline = time.monotonic() + 30
        while ledger.position() < head // 4 and time.monotonic() < deadline:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = ledger.position()
    assert 0 < killed_at < head, "the runner should have died mid catch-up"
    catch_up_all(isolated)
    assert ledger.position() == head
    assert_ledger_and_wallets_match_events(isolated)


def test_a_second_runner_for_a_projection_cannot_start(isolated: Services) -> None:
    first = ProjectionService(
        isolated.application, isolated.pool, isolated.database_url, ["ledger"], idle_wait=0.1
    )
    first.start()
    try:
        deadline = time.monotonic() + 10
        while "ledger" not in first.running and time.monotonic() < deadline:
            time.sleep(0.01)
        env = {"PAYMENTS_DATABASE_URL": isolated.database_url}
        result = CliRunner().invoke(cli, ["projections", "run", "ledger"], env=env)
        assert result.exit_code != 0
        assert "already running elsewhere: ledger" in result.output
        states = {s.name: s for s in projection_states(isolated.application, isolated.pool)}
        assert states["ledger"].state == "running"
        assert "payments projection ledger" in (states["ledger"].runner or "")
    finally:
        first.stop()
    assert {s.name: s.state for s in projection_states(isolated.application, isolated.pool)}[
        "ledger"
    ] == "stopped"


def test_a_poisoned_event_stops_the_projection_and_shows_in_status(isolated: Services) -> None:
    app = isolated.application
    make_history(app, 20, seed=3)
    good_head = app.recorder.max_notification_id() or 0
    _record_a_poisoned_success(app)
    poisoned_at = good_head + 1
    make_history(app, 5, seed=4, prefix="after")
    readers = [n for n in NAMES if SUCCEEDED in (live_view(isolated.pool, n).topics or {SUCCEEDED})]
    assert set(readers) >= {"order_status", "ledger", "wallets"}
    service = ProjectionService(app, isolated.pool, isolated.database_url, readers, idle_wait=0.1)
    service.start()
    service.join(timeout=20)
    service.stop()
    assert set(service.poisoned) == set(readers)  # every view that reads Succeeded events
    states = {s.name: s for s in projection_states(isolated.application, isolated.pool)}
    for name in readers:
        assert states[name].state == "poisoned"
        assert states[name].poisoned_notification_id == poisoned_at
        assert states[name].poisoned_reason
        assert live_view(isolated.pool, name).position() == good_head  # all before it applied
    env = {"PAYMENTS_DATABASE_URL": isolated.database_url}
    output = CliRunner().invoke(cli, ["projections", "status"], env=env).output
    assert f"poisoned at notification {poisoned_at}" in output


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
        make_history(app, 300, seed=31)  # written while the views follow
        head = app.recorder.max_notification_id() or 0
        _wait_for_positions(isolated, NAMES, head)
        assert set(source.decoded.values()) == {1}  # each event decoded once for all views
        assert max(source.decoded) == head
        _record_a_poisoned_success(app)
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
    _record_a_poisoned_success(app)
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
    deadline = time.monotonic() + 30
    for name in names:
        view = live_view(services.pool, name)
        while view.position() < position and time.monotonic() < deadline:
            time.sleep(0.02)
        assert view.position() == position, name


SUCCEEDED = "payments.PaymentOrder.Succeeded.v1"


def _record_a_poisoned_success(app: PaymentsApplication) -> None:
    """A `Succeeded` event no code can decode, at the head of the log."""
    originator_id = app.mapper.to_stored_event(_a_created_event()).originator_id
    app.recorder.insert_events([StoredEvent(originator_id, 1, SUCCEEDED, b'{"not": "an event"}')])


def _a_created_event() -> PaymentOrder.Created:
    event = new_order("po_poison", amount=1, checkout="co_poison").collect_events()[0]
    assert isinstance(event, PaymentOrder.Created)
    return event


def test_rebuild_equals_live_row_for_row_and_swaps_in_while_live_runs(isolated: Services) -> None:
    app = isolated.application
    service = ProjectionService(app, isolated.pool, isolated.database_url, NAMES, idle_wait=0.05)
    service.start()
    try:
        make_history(app, 1200, seed=11)  # live runners follow while it is written
        head = app.recorder.max_notification_id() or 0
        for name in NAMES:
            deadline = time.monotonic() + 30
            while live_view(isolated.pool, name).position() < head and time.monotonic() < deadline:
                time.sleep(0.02)
        source = ApplicationEventSource(app)
        for name in NAMES:
            result = rebuild(isolated.pool, source, name, swap=False, batch_size=700)
            assert result.position == head
            assert diff_views(isolated.pool, name, result.scratch_schema) == {}
            drop_scratch(isolated.pool, name)
        # Swap rebuilt tables in while the live runners keep writing new events.
        env = {"PAYMENTS_DATABASE_URL": isolated.database_url}
        make_history(app, 100, seed=12, prefix="more")
        result = CliRunner().invoke(cli, ["projections", "rebuild", "--all"], env=env)
        assert result.exit_code == 0, result.output
        assert "swapped in" in result.output
        make_history(app, 100, seed=13, prefix="after")
        head = app.recorder.max_notification_id() or 0
        for name in NAMES:
            deadline = time.monotonic() + 30
            while live_view(isolated.pool, name).position() < head and time.monotonic() < deadline:
                time.sleep(0.02)
            assert live_view(isolated.pool, name).position() == head
    finally:
        service.stop()
    assert not service.poisoned
    assert_ledger_and_wallets_match_events(isolated)


class CountingSource(ApplicationEventSource):
    """The real source, counting what it decodes and how many reads it makes."""

    def __init__(self, services: Services, *, listen: bool = False) -> None:
        super().__init__(services.application, services.database_url if listen else None)
        self.decoded: Counter[int] = Counter()
        self.reads = 0

    def read(
        self, after: int, through: int, limit: int, topics: frozenset[str] | None
    ) -> Sequence[Notification]:
        self.reads += 1
        return super().read(after, through, limit, topics)

    def decode(self, notification: Notification) -> TrackedEvent:
        self.decoded[notification.id] += 1
        return super().decode(notification)


def test_views_caught_up_together_decode_each_event_once_and_equal_their_rebuilds(
    isolated: Services,
) -> None:
    app = isolated.application
    make_history(app, 300, seed=21)
    # Views at different positions: the ledger part of the way, wallets further, the others
    # at zero; then more history.
    partial = ApplicationEventSource(app)
    ProjectionRunner(PostgresLedger(isolated.pool), partial, batch_size=97).catch_up(target=400)
    ProjectionRunner(PostgresWallets(isolated.pool), partial, batch_size=97).catch_up(target=900)
    make_history(app, 200, seed=22, prefix="later")
    head = app.recorder.max_notification_id() or 0
    source = CountingSource(isolated)
    runners = [ProjectionRunner(live_view(isolated.pool, n), source, batch_size=250) for n in NAMES]
    seen: list[tuple[int, int]] = []
    applied = catch_up_together(runners, progress=lambda p, h: seen.append((p, h)))
    assert sum(applied) > 0
    assert {name: live_view(isolated.pool, name).position() for name in NAMES} == dict.fromkeys(
        NAMES, head
    )
    assert set(source.decoded.values()) == {1}  # each event decoded once for all the views
    assert max(source.decoded) <= head
    assert source.reads <= head // 250 + 2 * len(NAMES)  # about one read a chunk, not per view
    assert seen[-1] == (head, head)
    for name in NAMES:  # the same rows as a rebuild from event zero, view by view
        result = rebuild(isolated.pool, ApplicationEventSource(app), name, swap=False)
        assert diff_views(isolated.pool, name, result.scratch_schema) == {}, name
        drop_scratch(isolated.pool, name)
    assert_ledger_and_wallets_match_events(isolated)


def test_views_caught_up_together_stop_at_a_poisoned_event(isolated: Services) -> None:
    app = isolated.application
    make_history(app, 20, seed=5)
    good_head = app.recorder.max_notification_id() or 0
    _record_a_poisoned_success(app)
    make_history(app, 5, seed=6, prefix="after")
    source = ApplicationEventSource(app)
    runners = [
        ProjectionRunner(live_view(isolated.pool, n), source, batch_size=1000) for n in NAMES
    ]
    with pytest.raises(ProjectionPoisoned) as poisoned:
        catch_up_together(runners)
    assert poisoned.value.notification_id == good_head + 1
    stopped = live_view(isolated.pool, poisoned.value.name)
    assert SUCCEEDED in (stopped.topics or {SUCCEEDED})
    assert stopped.position() == good_head  # everything before the bad event applied


def test_views_rebuilt_together_read_the_log_once_and_equal_the_live_views(
    isolated: Services,
) -> None:
    app = isolated.application
    make_history(app, 300, seed=31)
    catch_up_all(isolated)
    head = app.recorder.max_notification_id() or 0
    source = CountingSource(isolated)
    results = rebuild_all(isolated.pool, source, NAMES, swap=False, batch_size=250)
    assert [result.name for result in results] == list(NAMES)
    assert all(result.position == head and not result.swapped for result in results)
    applied = {result.name: result.events_applied for result in results}
    assert all(applied[name] > 0 for name in ("order_status", "ledger", "wallets"))
    assert set(source.decoded.values()) == {1}  # each event decoded once for all the views
    assert source.reads <= head // 250 + 2 * len(NAMES)
    for name in NAMES:
        assert diff_views(isolated.pool, name, SCRATCH_PREFIX + name) == {}, name
        drop_scratch(isolated.pool, name)


def test_a_view_named_twice_is_rebuilt_and_verified_once(isolated: Services) -> None:
    app = isolated.application
    make_history(app, 60, seed=32)
    catch_up_all(isolated)
    head = app.recorder.max_notification_id() or 0
    source = ApplicationEventSource(app)
    (rebuilt,) = rebuild_all(isolated.pool, source, ["ledger", "ledger"])
    assert rebuilt.swapped
    assert rebuilt.position == head
    (verified,) = verify_all(isolated.pool, source, ["wallets", "ledger", "wallets"])[1:]
    assert verified.name == "ledger"
    assert verified.identical
    assert_ledger_and_wallets_match_events(isolated)


def test_a_busy_view_stops_a_rebuild_of_several_before_anything_is_built(
    isolated: Services,
) -> None:
    make_history(isolated.application, 20, seed=33)
    source = ApplicationEventSource(isolated.application)
    with rebuild_locks(isolated.pool, ["wallets"]), pytest.raises(RebuildBusy, match="wallets"):
        rebuild_all(isolated.pool, source, NAMES)
    with isolated.pool.connection() as conn:
        schemas = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (SCRATCH_PREFIX + "%",)
        ).fetchall()
    assert schemas == []  # nothing was built
    results = rebuild_all(isolated.pool, source, NAMES)  # and no lock was kept
    assert all(result.swapped for result in results)
