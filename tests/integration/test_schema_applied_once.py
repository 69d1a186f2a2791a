"""A process starting against a database whose schema is current runs no DDL
(projections/applied_schema, ADR 0028): `CREATE INDEX IF NOT EXISTS` and `ALTER TABLE ... ADD
COLUMN IF NOT EXISTS` take table locks before they find nothing to do, so a `payments keys
create` beside a busy deployment queued behind its writers, and every later writer behind
it. New statements are still applied, once."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from payments.projections.applied_schema import TABLE
from payments.projections.event_store import EVENTS_TABLE
from payments.runtime.config import Settings
from payments.runtime.database import apply_schema, open_pool
from payments.runtime.services import build_services

PROBE_A = "CREATE TABLE IF NOT EXISTS schema_probe_a (id integer)"
PROBE_B = "CREATE TABLE IF NOT EXISTS schema_probe_b (id integer)"


def _start(url: str) -> None:
    build_services(Settings.from_env({"PAYMENTS_DATABASE_URL": url}), url).close()


def test_a_start_beside_busy_writers_waits_for_none_of_them(
    fresh_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _start(fresh_database_url)  # the deployment's first start makes the tables
    with psycopg.connect(fresh_database_url) as writer:
        # What the event log's writers hold while they save (the library's table lock), and
        # what an insert into one of our tables holds: DDL on either would wait for them.
        writer.execute(f"LOCK TABLE {EVENTS_TABLE} IN EXCLUSIVE MODE")
        writer.execute("LOCK TABLE execution_queue IN ROW EXCLUSIVE MODE")
        # Every connection the next start opens gives up on a lock after 2 s (libpq reads
        # PGOPTIONS when it connects), so waiting behind the writer fails the start.
        monkeypatch.setenv("PGOPTIONS", "-c lock_timeout=2000")
        _start(fresh_database_url)
        writer.rollback()


@pytest.fixture
def pool(fresh_database_url: str) -> Iterator[ConnectionPool]:
    made = open_pool(fresh_database_url, size=2)
    try:
        yield made
    finally:
        made.close()


def _applied(pool: ConnectionPool) -> list[tuple[str, str]]:
    with pool.connection() as conn:
        rows = conn.execute(f"SELECT part, fingerprint FROM {TABLE} ORDER BY part").fetchall()
    return [(str(part), str(mark)) for part, mark in rows]


def _tables(pool: ConnectionPool) -> set[str]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'schema_probe_%'"
        ).fetchall()
    return {str(name) for (name,) in rows}


def test_new_statements_are_applied_and_the_same_ones_run_once(pool: ConnectionPool) -> None:
    apply_schema(pool, [PROBE_A])
    first = _applied(pool)
    assert [part for part, _ in first] == ["tables"]
    assert _tables(pool) == {"schema_probe_a"}

    with pool.connection() as conn:  # proof that the same statements are not run again
        conn.execute("DROP TABLE schema_probe_a")
    apply_schema(pool, [PROBE_A])
    assert _applied(pool) == first
    assert _tables(pool) == set()

    apply_schema(pool, [PROBE_A, PROBE_B])  # a version with one more table applies all
    assert _tables(pool) == {"schema_probe_a", "schema_probe_b"}
    (changed,) = _applied(pool)
    assert changed != first[0]
