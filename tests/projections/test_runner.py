"""Runners on a real event store: exactly once across SIGKILL, one runner per projection,
poisoned events stop loudly, rebuilds equal live views row for row."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import psycopg
import pytest
from click.testing import CliRunner

from payments.bench.history import make_history
from payments.cli.main import main as cli
from payments.domain.payment_order import PaymentOrder
from payments.projections.audit.verify import verify_all
from payments.projections.catalog import NAMES, live_view, projection_states
from payments.projections.core import ProjectionPoisoned
from payments.projections.rebuild import (
    SCRATCH_PREFIX,
    RebuildBusy,
    diff_views,
    drop_scratch,
    rebuild,
    rebuild_all,
    rebuild_locks,
)
from payments.projections.runner import APPLY_THREADS, ProjectionRunner, catch_up_together
from payments.projections.service import ProjectionService
from payments.projections.source import ApplicationEventSource
from payments.projections.views.ledger_pg import PostgresLedger
from payments.projections.views.wallets_pg import PostgresWallets
from payments.runtime.services import Services
from tests.projections.conftest import catch_up_all
from tests.projections.runner_helpers import SUCCEEDED, CountingSource, a_poisoned_history

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


def test_a_rebuild_killed_mid_way_leaves_the_live_views_whole_and_the_next_one_swaps_in(
    isolated: Services,
) -> None:
    make_history(isolated.application, 1500, seed=8)
    catch_up_all(isolated)
    head = isolated.application.recorder.max_notification_id() or 0
    env = {**os.environ, "PAYMENTS_DATABASE_URL": isolated.database_url}
    command = [sys.executable, "-m", "payments.cli.main", "projections", "rebuild", "--all"]
    process = subprocess.Popen(
        [*command, "--batch-size", "20"],  # two threads apply the views' batches
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    scratch = PostgresLedger(isolated.pool, schema=SCRATCH_PREFIX + "ledger")
    rebuilt_to = 0
    try:
        deadline = time.monotonic() + 60
        while rebuilt_to < head // 4 and time.monotonic() < deadline:
            time.sleep(0.005)
            with contextlib.suppress(psycopg.errors.UndefinedTable):
                rebuilt_to = scratch.position()  # once the scratch tables exist
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    assert 0 < rebuilt_to < head, "the rebuild should have died while catching up"
    assert_ledger_and_wallets_match_events(isolated)  # the live views untouched
    assert {name: live_view(isolated.pool, name).position() for name in NAMES} == dict.fromkeys(
        NAMES, head
    )
    wide = {**env, "COLUMNS": "200"}  # one line a view
    again = subprocess.run(command, cwd=ROOT, env=wide, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("swapped in") == len(NAMES)
    with isolated.pool.connection() as conn:
        left = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (SCRATCH_PREFIX + "%",)
        ).fetchall()
    assert left == []  # the killed one's half-built tables went with the next rebuild
    assert_ledger_and_wallets_match_events(isolated)
    source = ApplicationEventSource(isolated.application)
    assert all(result.identical for result in verify_all(isolated.pool, source, NAMES))


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
    good_head = a_poisoned_history(app, 20, 5, seed=3)
    poisoned_at = good_head + 1
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


@pytest.mark.parametrize("threads", [1, APPLY_THREADS])
def test_views_caught_up_together_decode_each_event_once_and_equal_their_rebuilds(
    isolated: Services, threads: int
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
    applied = catch_up_together(runners, progress=lambda p, h: seen.append((p, h)), threads=threads)
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


@pytest.mark.parametrize("threads", [1, APPLY_THREADS])
def test_views_caught_up_together_stop_at_a_poisoned_event(
    isolated: Services, threads: int
) -> None:
    app = isolated.application
    good_head = a_poisoned_history(app, 20, 5, seed=5)
    source = ApplicationEventSource(app)
    runners = [
        ProjectionRunner(live_view(isolated.pool, n), source, batch_size=1000) for n in NAMES
    ]
    with pytest.raises(ProjectionPoisoned) as poisoned:
        catch_up_together(runners, threads=threads)
    assert poisoned.value.notification_id == good_head + 1
    stopped = live_view(isolated.pool, poisoned.value.name)
    assert SUCCEEDED in (stopped.topics or {SUCCEEDED})
    assert stopped.position() == good_head  # everything before the bad event applied


def test_views_applied_side_by_side_hand_on_a_poisoned_view_and_the_others_go_on(
    isolated: Services,
) -> None:
    app = isolated.application
    good_head = a_poisoned_history(app, 40, 40, seed=7)
    head = app.recorder.max_notification_id() or 0
    source = ApplicationEventSource(app)
    runners = [ProjectionRunner(live_view(isolated.pool, n), source, batch_size=50) for n in NAMES]
    poisoned: list[ProjectionPoisoned] = []
    catch_up_together(runners, on_poisoned=poisoned.append, threads=APPLY_THREADS)
    stopped = {p.name for p in poisoned}
    assert stopped  # the views that read a success stop at it, each handed on once
    assert len(poisoned) == len(stopped)
    assert {p.notification_id for p in poisoned} == {good_head + 1}
    for name in NAMES:
        expected = good_head if name in stopped else head
        assert live_view(isolated.pool, name).position() == expected, name


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
    with isolated.pool.connection() as conn:  # it comes in analyzed, by the rebuild itself
        analyzed = conn.execute(
            "SELECT relname, analyze_count FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema() AND relname = ANY(%s)",
            (list(PostgresLedger.tables),),
        ).fetchall()
    assert sorted(analyzed) == sorted((table, 1) for table in PostgresLedger.tables)
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
