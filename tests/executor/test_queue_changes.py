"""The feed's set-wise queue changes leave the tables exactly as the same changes made one by
one in log order would (PostgreSQL, random sequences over a few aggregates)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payments.projections.followers import execution_queue as q
from tests.conftest import new_database

AGGREGATES = [uuid.UUID(int=n) for n in range(1, 5)]
T0 = datetime(2026, 12, 5, tzinfo=UTC)

change = st.one_of(
    st.tuples(st.just("enqueue_new"), st.sampled_from(AGGREGATES), st.integers(0, 9)),
    st.tuples(
        st.just("enqueue"),
        st.sampled_from(AGGREGATES),
        st.sampled_from(["execute", "requery"]),
        st.integers(0, 9),
    ),
    st.tuples(st.just("dequeue"), st.sampled_from(AGGREGATES)),
    st.tuples(st.just("add_dead_letter"), st.sampled_from(AGGREGATES), st.integers(1, 5)),
    st.tuples(st.just("remove_dead_letter"), st.sampled_from(AGGREGATES)),
)


def _add(changes: q.QueueChanges, step: tuple[Any, ...]) -> None:
    name, aggregate = step[0], step[1]
    if name == "enqueue_new":
        changes.enqueue_new(aggregate, T0 + timedelta(seconds=step[2]))
    elif name == "enqueue":
        changes.enqueue(aggregate, step[2], T0 + timedelta(seconds=step[3]))
    elif name == "add_dead_letter":
        changes.add_dead_letter(aggregate, f"ref-{aggregate.int}", step[2], f"error {step[2]}", T0)
    else:
        getattr(changes, name)(aggregate)


def _tables(conn: psycopg.Connection[Any]) -> tuple[list[Any], list[Any]]:
    queue = conn.execute(
        "SELECT aggregate_uuid, kind, due_at, lease_owner, requeries FROM execution_queue "
        "ORDER BY aggregate_uuid"
    ).fetchall()
    letters = conn.execute(
        "SELECT aggregate_uuid, reference, attempts, last_error, dead_lettered_at, target "
        "FROM dead_letters ORDER BY aggregate_uuid"
    ).fetchall()
    return queue, letters


@pytest.fixture(scope="module")
def conn(admin_database_url: str) -> Iterator[psycopg.Connection[Any]]:
    with new_database(admin_database_url) as url, psycopg.connect(url) as connection:
        for statement in q.SCHEMA:
            connection.execute(statement)
        connection.commit()
        yield connection


def _start(conn: psycopg.Connection[Any]) -> None:
    """A queue holding a leased row and a dead letter, as a live deployment would."""
    conn.execute("DELETE FROM execution_queue")
    conn.execute("DELETE FROM dead_letters")
    conn.execute(
        "INSERT INTO execution_queue (aggregate_uuid, kind, due_at, lease_owner, lease_until, "
        "requeries) VALUES (%s, 'requery', %s, 'executor-x', %s, 2)",
        (AGGREGATES[0], T0, T0),
    )
    conn.execute(
        "INSERT INTO dead_letters (aggregate_uuid, reference, attempts, last_error, "
        "dead_lettered_at) VALUES (%s, 'ref-old', 5, 'old', %s)",
        (AGGREGATES[1], T0),
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=st.lists(change, max_size=14))
def test_set_wise_changes_equal_one_by_one(
    conn: psycopg.Connection[Any], steps: list[tuple[Any, ...]]
) -> None:
    _start(conn)
    one_by_one: q.QueueChanges
    for step in steps:
        one_by_one = q.QueueChanges()
        _add(one_by_one, step)
        one_by_one.write(conn)
    expected = _tables(conn)
    conn.rollback()

    _start(conn)
    batch = q.QueueChanges()
    for step in steps:
        _add(batch, step)
    batch.write(conn)
    assert _tables(conn) == expected
    conn.rollback()


def test_a_batch_of_outcomes_is_a_statement_per_kind(conn: psycopg.Connection[Any]) -> None:
    """A thousand orders created then finished in one batch: three statements, not 3,000."""
    statements: list[str] = []

    class Counting(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            statements.append(str(query))
            return super().execute(query, params, **kwargs)

    conn.execute("DELETE FROM execution_queue")
    orders = [uuid.uuid4() for _ in range(1000)]
    changes = q.QueueChanges()
    for order in orders:
        changes.enqueue_new(order, T0)
    for order in orders:
        changes.dequeue(order)
        changes.remove_dead_letter(order)
    conn.cursor_factory = Counting
    try:
        changes.write(conn)
    finally:
        conn.cursor_factory = psycopg.Cursor
    assert len(statements) == 3
    assert _tables(conn) == ([], [])
    conn.rollback()
