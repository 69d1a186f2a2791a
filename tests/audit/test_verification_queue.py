"""Verifications requested together run one after another, none failing on another's locks;
one left `running` by a process that stopped is failed and the queue goes on; one requested
while a rebuild holds a view waits, queued, then runs. Two runners stand for two processes
(each holds the runner lock on a session of its own)."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from uuid import UUID

import pytest

from payments.projections.audit.verifications import (
    ABANDONED,
    WAITING,
    Verification,
    VerificationRunner,
    VerificationStore,
)
from payments.projections.catalog import NAMES
from payments.projections.rebuild import rebuild_locks
from payments.projections.source import ApplicationEventSource
from payments.runtime.services import Services
from tests.audit.conftest import sql, tell_story
from tests.projections.conftest import catch_up_all


@pytest.fixture
def store(services: Services) -> VerificationStore:
    tell_story(services)
    catch_up_all(services)
    return VerificationStore(services.pool)


@pytest.fixture
def runners(services: Services, store: VerificationStore) -> Iterator[list[VerificationRunner]]:
    made = [
        VerificationRunner(
            services.database_url,
            store,
            lambda: ApplicationEventSource(services.application),
            busy_wait_s=0.1,
        )
        for _ in range(2)
    ]
    yield made
    for runner in made:
        runner.stop(timeout=30)


def finished(store: VerificationStore, ids: list[UUID], seconds: float = 60) -> list[Verification]:
    deadline = time.monotonic() + seconds
    while True:
        found = [store.get(verification_id) for verification_id in ids]
        done = [v for v in found if v is not None and v.state not in WAITING]
        if len(done) == len(ids):
            return done
        assert time.monotonic() < deadline, found
        time.sleep(0.05)


def test_verifications_requested_together_run_one_after_another(
    store: VerificationStore, runners: list[VerificationRunner]
) -> None:
    ids = [store.create([name]) for name in NAMES[:3]]  # other views: three in the queue
    for _ in range(3):  # every process pokes its runner, several times
        for runner in runners:
            runner.poke()
    done = finished(store, ids)
    assert [v.state for v in done] == ["identical"] * 3, [v.error for v in done]
    assert [[r["name"] for r in v.results] for v in done] == [[name] for name in NAMES[:3]]
    spans = sorted(
        (v.started_at, v.finished_at, v.verification_id)
        for v in done
        if v.started_at is not None and v.finished_at is not None
    )
    assert [span[2] for span in spans] == ids  # each started and ended, in the order asked
    for first, second in itertools.pairwise(spans):
        assert first[1] <= second[0], spans  # never two at once


def test_a_request_while_one_is_queued_gets_that_one(
    store: VerificationStore, runners: list[VerificationRunner]
) -> None:
    first = store.create(list(NAMES))
    assert store.create(list(NAMES)) == first  # not started: it answers for both
    assert store.create(["ledger"]) != first  # another question
    runners[0].poke()
    finished(store, [first])
    later = store.create(list(NAMES))
    assert later != first  # the first ran: a new request is a new verification
    runners[1].poke()
    (done,) = finished(store, [later])
    assert done.state == "identical", done.error


def test_one_left_running_by_a_stopped_process_fails_and_the_queue_goes_on(
    services: Services, store: VerificationStore, runners: list[VerificationRunner]
) -> None:
    orphan = store.create(list(NAMES))
    sql(
        services.pool,
        "UPDATE audit_verifications SET state = 'running', started_at = now() "
        "WHERE verification_id = %s",
        orphan,
    )
    queued = store.create(list(NAMES))
    time.sleep(0.2)
    assert store.get(queued).state == "queued"  # type: ignore[union-attr]
    runners[0].adopt()
    left, after = finished(store, [orphan, queued])
    assert (left.state, left.error, left.results) == ("failed", ABANDONED, [])
    assert after.state == "identical", after.error


def test_a_verification_waits_queued_while_a_rebuild_holds_a_view(
    services: Services, store: VerificationStore, runners: list[VerificationRunner]
) -> None:
    with rebuild_locks(services.pool, ["ledger"]):  # `payments projections rebuild ledger`
        waiting = store.create(list(NAMES))
        runners[0].poke()
        states = []
        for _ in range(10):  # claimed, found busy, queued again: never a result, never ended
            time.sleep(0.1)
            found = store.get(waiting)
            assert found is not None
            assert (found.results, found.finished_at) == ([], None)
            states.append(found.state)
        assert set(states) <= set(WAITING)
        assert states.count("queued") >= 5, states  # it waits queued, not running
    (done,) = finished(store, [waiting])
    assert done.state == "identical", done.error


def test_a_stopped_runner_starts_nothing(
    store: VerificationStore, runners: list[VerificationRunner]
) -> None:
    runners[0].stop()
    waiting = store.create(list(NAMES))
    runners[0].poke()
    time.sleep(0.3)
    assert store.get(waiting).state == "queued"  # type: ignore[union-attr]
