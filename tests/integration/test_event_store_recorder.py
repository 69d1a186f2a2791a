"""The event store's recorder (projections/event_store.PaymentsRecorder), as the application
is configured with it (runtime/database.eventsourcing_env): a save larger than a socket takes
at once completes (psycopg's pipelined insert hung on it forever over the embedded server's
Unix socket), and a save keeps the library's lock, notify, errors and positions."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator, Sequence

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresFactory
from eventsourcing.utils import Environment

from payments.projections.event_store import PaymentsRecorder
from payments.runtime.database import eventsourcing_env

TOPIC = "tests.RecorderProbe.Saved.v1"  # never decoded: these tests read rows, not events
# A deadlock guard, not a speed limit: the hang it catches never ends; a save takes seconds.
HANG_S = 300.0


@pytest.fixture
def recorder(fresh_database_url: str) -> Iterator[PaymentsRecorder]:
    factory = PostgresFactory(Environment("Payments", eventsourcing_env(fresh_database_url)))
    made = factory.application_recorder()
    assert isinstance(made, PaymentsRecorder)  # what every PaymentsApplication writes with
    try:
        yield made
    finally:
        factory.close()


def _events(count: int, size: int) -> list[StoredEvent]:
    originator = uuid.uuid4()
    return [StoredEvent(originator, v, TOPIC, os.urandom(size)) for v in range(1, count + 1)]


def _insert(recorder: PaymentsRecorder, events: Sequence[StoredEvent]) -> Sequence[int] | None:
    done: list[Sequence[int] | None] = []
    errors: list[BaseException] = []

    def save() -> None:
        try:
            done.append(recorder.insert_events(events))
        except BaseException as error:  # handed to the test's thread
            errors.append(error)

    thread = threading.Thread(target=save, daemon=True)
    thread.start()
    thread.join(HANG_S)
    assert not thread.is_alive(), "the save hung (psycopg's pipeline deadlock)"
    if errors:
        raise errors[0]
    return done[0]


def test_a_save_of_megabytes_completes_and_reads_back(recorder: PaymentsRecorder) -> None:
    big = _events(16, 256 * 1024)  # 4 MiB in one save: hung every time before
    positions = _insert(recorder, big)
    assert positions == list(range(1, 17))  # one position per event, in order
    stored = recorder.select_events(big[0].originator_id)
    assert [(e.originator_version, e.state) for e in stored] == [
        (e.originator_version, e.state) for e in big
    ]
    again = _insert(recorder, _events(2, 10))  # the connection is usable afterwards
    assert again == [17, 18]


def test_a_conflicting_save_raises_and_writes_nothing(recorder: PaymentsRecorder) -> None:
    first = _events(2, 100)
    _insert(recorder, first)
    clash = [StoredEvent(first[0].originator_id, 2, TOPIC, b"late"), *_events(1, 10)]
    with pytest.raises(IntegrityError):
        _insert(recorder, clash)
    assert recorder.max_notification_id() == 2  # nothing of the failed save
    after = _insert(recorder, _events(1, 10))  # no lock left behind
    assert after is not None
    assert recorder.max_notification_id() == after[0] > 2


def test_a_save_notifies_the_channel_listeners_wait_on(
    recorder: PaymentsRecorder, fresh_database_url: str
) -> None:
    with psycopg.connect(fresh_database_url, autocommit=True) as listener:
        listener.execute(f'LISTEN "{recorder.channel_name}"')
        _insert(recorder, _events(1, 10))
        heard = list(listener.notifies(timeout=HANG_S, stop_after=1))
    assert [n.channel for n in heard] == [recorder.channel_name]


def test_processes_starting_together_create_the_tables_one_at_a_time(
    fresh_database_url: str,
) -> None:
    """Several processes opening a new event store at once (the API processes of ADR 0020):
    without the schema lock PostgreSQL fails some with "tuple concurrently updated"."""
    starters = 6
    barrier = threading.Barrier(starters)
    errors: list[BaseException] = []
    factories: list[PostgresFactory] = []

    def start() -> None:
        factory = PostgresFactory(Environment("Payments", eventsourcing_env(fresh_database_url)))
        factories.append(factory)
        try:
            barrier.wait(30)
            factory.application_recorder()  # creates the tables, types and functions
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=start) for _ in range(starters)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(HANG_S)
    for factory in factories:
        factory.close()
    assert errors == []


def test_a_save_of_several_aggregates_stores_each_row_as_given_in_order(
    recorder: PaymentsRecorder, fresh_database_url: str
) -> None:
    """The insert sends ids, versions, topics and states as four arrays: each row must come
    back whole and in the save's order, positions returned in that order."""
    mixed = [e for pair in zip(_events(3, 50), _events(3, 0), strict=True) for e in pair]
    mixed.append(StoredEvent(uuid.uuid4(), 2**40, "tests.Other.Topic.v2 ünïcode", b"\x00\xff"))
    positions = _insert(recorder, mixed)
    assert positions == list(range(1, len(mixed) + 1))
    with psycopg.connect(fresh_database_url) as conn:
        rows = conn.execute(
            "SELECT notification_id, originator_id, originator_version, topic, state "
            f'FROM "{recorder.events_table_name}" ORDER BY notification_id'
        ).fetchall()
    assert rows == [
        (position, e.originator_id, e.originator_version, e.topic, e.state)
        for position, e in zip(positions, mixed, strict=True)
    ]
