"""The set-wise SQL helpers of projections/pg.py against PostgreSQL: many rows in one upsert,
many keys in one look-up, with the same rows as one statement a row or `= ANY` gave."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from payments.projections.pg import upsert_rows
from payments.projections.views.ledger_pg import PostgresLedger
from tests.projections.contract import feed, view_in_scratch_schema
from tests.projections.events import Log, new_order, succeed

COLUMNS = ("id", "name", "amount", "count", "flag", "at", "note", "tags")


@pytest.fixture
def table(scratch_pool: ConnectionPool) -> Iterator[str]:
    name = f"upsert_{uuid.uuid4().hex[:8]}"
    with scratch_pool.connection() as conn:
        conn.execute(
            f'CREATE TABLE {name} (id uuid PRIMARY KEY, name text COLLATE "C" NOT NULL, '
            "amount bigint NOT NULL, count integer NOT NULL, flag boolean NOT NULL, "
            "at timestamptz, note text, tags text[])"
        )
    yield name
    with scratch_pool.connection() as conn:
        conn.execute(f"DROP TABLE {name}")


def test_upsert_rows_inserts_new_keys_and_updates_known_ones_in_one_statement(
    scratch_pool: ConnectionPool, table: str
) -> None:
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    at = datetime(2026, 12, 6, 6, 0, tzinfo=UTC)
    with scratch_pool.connection() as conn:
        # every column's type, a NULL among values and a column of NULLs only
        upsert_rows(
            conn,
            table,
            COLUMNS,
            "id",
            [
                (first, "a", 2**40, 1, True, at, None, ["x", 'quote " and \\ {a,b}', "é"]),
                (second, "b", 5, 2, False, None, None, None),
            ],
        )
        upsert_rows(conn, table, COLUMNS, "id", [])  # nothing to write: no statement
        upsert_rows(
            conn,
            table,
            COLUMNS,
            "id",
            [
                (second, "b2", 6, 3, True, at, "changed", []),
                (third, "c", 7, 4, False, None, "new", [str(n) for n in range(12, 0, -1)]),
            ],
        )
        rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY name").fetchall()
    assert rows == [  # text[] values kept, in their order, quotes and commas included
        (first, "a", 2**40, 1, True, at, None, ["x", 'quote " and \\ {a,b}', "é"]),
        (second, "b2", 6, 3, True, at, "changed", []),
        (third, "c", 7, 4, False, None, "new", [str(n) for n in range(12, 0, -1)]),
    ]


def test_upsert_rows_refuses_one_key_twice_and_writes_nothing(
    scratch_pool: ConnectionPool, table: str
) -> None:
    key = uuid.uuid4()
    with scratch_pool.connection() as conn:
        with pytest.raises(psycopg.errors.CardinalityViolation, match="a second time"):
            upsert_rows(
                conn,
                table,
                COLUMNS,
                "id",
                [
                    (key, "a", 1, 1, True, None, None, None),
                    (key, "b", 2, 2, True, None, None, None),
                ],
            )
        conn.rollback()
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)


def test_which_of_thousands_of_orders_have_postings(scratch_pool: ConnectionPool) -> None:
    log = Log()
    for index in range(40):
        order = new_order(f"po_{index}")
        log.record(order)
        if index % 2 == 0:
            log.record(succeed(order))
    with view_in_scratch_schema(scratch_pool, PostgresLedger) as ledger:
        feed(ledger, log)
        # thousands asked, some twice, most never placed: only the posted ones come back
        asked = [f"po_{index}" for index in range(3000)] + ["po_0", "po_2", "po_1"]
        assert ledger.orders_with_postings(asked) == {f"po_{i}" for i in range(0, 40, 2)}
        assert ledger.orders_with_postings([]) == set()


def test_upsert_rows_refuses_array_columns_it_cannot_carry(scratch_pool: ConnectionPool) -> None:
    name = f"upsert_{uuid.uuid4().hex[:8]}"
    with scratch_pool.connection() as conn:
        conn.execute(f"CREATE TABLE {name} (id uuid PRIMARY KEY, counts integer[])")
        with pytest.raises(ValueError, match="only text"):
            upsert_rows(conn, name, ("id", "counts"), "id", [(uuid.uuid4(), [1, 2])])
        conn.rollback()  # the table too


def test_upsert_rows_adds_to_the_stored_values_of_the_columns_it_is_told_to(
    scratch_pool: ConnectionPool, table: str
) -> None:
    key = uuid.uuid4()
    with scratch_pool.connection() as conn:
        for name, amount, count in (("first", 5, 1), ("second", 7, 2), ("third", -2, 3)):
            upsert_rows(
                conn,
                table,
                ("id", "name", "amount", "count", "flag"),
                "id",
                [(key, name, amount, count, True)],
                adding=("amount", "count"),
            )
        row = conn.execute(f"SELECT name, amount, count FROM {table}").fetchone()
    assert row == ("third", 10, 6)  # added up; the other columns replaced
