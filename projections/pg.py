"""PostgreSQL plumbing shared by the views: table names, tracking rows, advisory locks, reads."""

from __future__ import annotations

import dataclasses
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Any, TypeVar
from uuid import UUID

import msgspec
import psycopg
from psycopg import sql
from psycopg.abc import Params
from psycopg_pool import ConnectionPool

from payments.projections import locks
from payments.projections.core import APPLICATION_NAME, TrackedEvent, TrackingConflict, check_batch
from payments.projections.views.order_terms import CREATED_TOPIC, OrderTerms, TermsBook

# The advisory locks of the views (projections/locks.py): RUNNER, WRITE and REBUILD classes.
RUNNER_LOCK_CLASS = locks.RUNNER_CLASS
WRITE_LOCK_CLASS = locks.WRITE_CLASS
REBUILD_LOCK_CLASS = locks.REBUILD_CLASS
lock_key = locks.lock_key

_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

Connection = psycopg.Connection[Any]
Folded = TypeVar("Folded")


def qualify(schema: str | None, table: str) -> str:
    """A quoted table name, in `schema` when given, else resolved by the search path."""
    if schema is None:
        return f'"{table}"'
    if _SCHEMA_NAME.fullmatch(schema) is None:
        raise ValueError(f"unsafe schema name {schema!r}")
    return f'"{schema}"."{table}"'


def tracking_ddl(schema: str | None, table: str) -> list[str]:
    """One row per application: the same layout as eventsourcing's single-row tracking table."""
    name = qualify(schema, table)
    return [
        f"""
        CREATE TABLE IF NOT EXISTS {name} (
            application_name text PRIMARY KEY,
            notification_id bigint NOT NULL
        )
        """,
        f"INSERT INTO {name} VALUES ('{APPLICATION_NAME}', 0) ON CONFLICT DO NOTHING",
    ]


class PostgresView(ABC):
    """A view whose rows and tracking position change in one PostgreSQL transaction.

    Subclasses name their tables, give their DDL for a schema, and implement `_apply`.
    `schema=None` is the live view (the search path); a rebuild uses a scratch schema.
    """

    name: str
    topics: frozenset[str] | None
    tables: tuple[str, ...]  # every table of the view, tracking table last

    def __init__(self, pool: ConnectionPool, schema: str | None = None) -> None:
        self.pool = pool
        self.schema = schema
        self._tracking = qualify(schema, self.tracking_table)

    @property
    def tracking_table(self) -> str:
        return self.tables[-1]

    @classmethod
    @abstractmethod
    def ddl(cls, schema: str | None) -> list[str]:
        """Idempotent statements that create the view's tables and indexes in `schema`."""

    def t(self, table: str) -> str:
        """The qualified name of one of this view's tables."""
        return qualify(self.schema, table)

    @property
    def write_lock_key(self) -> int:
        scope = self.name if self.schema is None else f"{self.name}@{self.schema}"
        return lock_key(scope)

    def position(self) -> int:
        row = fetch_one(
            self.pool,
            f"SELECT notification_id FROM {self._tracking} WHERE application_name = %s",
            (APPLICATION_NAME,),
        )
        return int(row[0]) if row else 0

    def apply_batch(self, events: Sequence[TrackedEvent], *, after: int, through: int) -> None:
        with self.pool.connection() as conn, conn.transaction():
            self.apply_in(conn, events, after=after, through=through)

    def apply_in(
        self, conn: Connection, events: Sequence[TrackedEvent], *, after: int, through: int
    ) -> None:
        """Apply inside the caller's transaction: lock, check position, write rows, track."""
        check_batch(events, after, through)
        conn.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", (WRITE_LOCK_CLASS, self.write_lock_key)
        )
        row = conn.execute(
            f"SELECT notification_id FROM {self._tracking} WHERE application_name = %s FOR UPDATE",
            (APPLICATION_NAME,),
        ).fetchone()
        found = int(row[0]) if row else 0
        if found != after:
            raise TrackingConflict(self.name, after, found)
        if events:
            self._apply(conn, events)
        conn.execute(
            f"""
            INSERT INTO {self._tracking} (application_name, notification_id) VALUES (%s, %s)
            ON CONFLICT (application_name) DO UPDATE SET notification_id = EXCLUDED.notification_id
            """,
            (APPLICATION_NAME, through),
        )

    @abstractmethod
    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        """Write the view changes for `events` (in order) on `conn`, inside its transaction."""

    def stored_keys(self, table: str, column: str, keys: Sequence[str]) -> set[str]:
        """Which of `keys` stand in `column` of one of the view's tables.

        The keys are a semi-join (`IN (SELECT unnest(...))`), not `= ANY(...)`: a caller may
        ask about thousands, and with a generic plan (PostgreSQL picks one for a statement
        prepared and run five times when it costs no more) a scan of the table compares every
        row with the whole array: 0.27 s a call for 16,000 rows and 1,000 keys (PostgreSQL 15
        under `bench applied`; 18 alike when the plan is forced), against 5.5 ms for 10,000
        keys as a semi-join, which hashes the keys or probes the index (ADR 0018, amendment
        17). For a batch's few keys `= ANY` probes the index and stays (a semi-join's hash
        plan scanned the table there instead, 2 to 10 times slower).
        """
        rows = fetch_all(
            self.pool,
            f"SELECT DISTINCT {column} FROM {self.t(table)} "
            f"WHERE {column} IN (SELECT unnest(%b::text[]))",
            (list(keys),),
        )
        return {row[0] for row in rows}


def fetch_all(pool: ConnectionPool, query: str | sql.Composed, params: Params = ()) -> list[Any]:
    """The rows one read finds, on a pooled connection of its own."""
    with pool.connection() as conn:
        return conn.execute(query, params).fetchall()


def fetch_one(pool: ConnectionPool, query: str | sql.Composed, params: Params = ()) -> Any | None:
    """The first row one read finds (None when there is none), on a pooled connection."""
    with pool.connection() as conn:
        return conn.execute(query, params).fetchone()


def repeated_or_stored(conn: Connection, table: str, column: str, keys: Sequence[str]) -> bool:
    """Whether a key repeats within `keys` or is already in `column` of `table`."""
    if len(set(keys)) != len(keys):
        return True
    return bool(keys) and (
        conn.execute(
            f"SELECT 1 FROM {table} WHERE {column} = ANY(%s) LIMIT 1", (list(keys),)
        ).fetchone()
        is not None
    )


def copy_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Bulk insert with COPY: the fast path for catch-up batches."""
    with (
        conn.cursor() as cursor,
        cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)


def upsert_rows(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    key: str,
    rows: Sequence[Sequence[Any]],
    *,
    adding: Collection[str] = (),
) -> None:
    """Insert rows of `columns`, or where `key` exists update its other columns (each of
    `adding` by adding the new value to the stored one, the others replaced), in one
    statement: each column one binary array, unnested.

    One statement instead of one a row (the order status view wrote 48,000 a run of `bench
    applied`, 0.067 ms of the server's time each, and psycopg adapted every row's values in
    Python). The rows' `key`s must differ (ON CONFLICT updates a row once a statement), as the
    keys of a dict's values do. A `text[]` column's values travel as JSON texts (unnest would
    flatten an array of arrays) and are turned back into arrays in order; other array types
    are refused.
    """
    if not rows:
        return
    types = column_types(conn, table, columns)
    arrays: list[str] = []
    selected: list[str] = []
    values: list[list[Any]] = []
    for index, (column, column_values) in enumerate(
        zip(columns, zip(*rows, strict=True), strict=True)
    ):
        kind, name = types[column], f"u.c{index}"
        if kind == "text[]":
            arrays.append("%b::text[]")
            selected.append(
                f"CASE WHEN {name} IS NULL THEN NULL ELSE ARRAY(SELECT e FROM "
                f"jsonb_array_elements_text({name}::jsonb) WITH ORDINALITY AS a(e, n) "
                "ORDER BY n) END"
            )
            values.append([None if v is None else _json_text(v) for v in column_values])
        elif kind.endswith("]"):
            raise ValueError(f"upsert_rows: {table}.{column} is {kind}; only text[] is supported")
        else:
            arrays.append(f"%b::{kind}[]")
            selected.append(name)
            values.append(list(column_values))
    names = ", ".join(f"c{index}" for index in range(len(columns)))
    updates = ", ".join(
        f"{c} = t.{c} + EXCLUDED.{c}" if c in adding else f"{c} = EXCLUDED.{c}"
        for c in columns
        if c != key
    )
    conn.execute(
        f"INSERT INTO {table} AS t ({', '.join(columns)}) SELECT {', '.join(selected)} "
        f"FROM unnest({', '.join(arrays)}) AS u({names}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}",
        values,
    )


def _json_text(items: Sequence[str]) -> str:
    return msgspec.json.encode(list(items)).decode()


_COLUMN_TYPES: dict[str, dict[str, str]] = {}


def column_types(conn: Connection, table: str, columns: Sequence[str] = ()) -> dict[str, str]:
    """Each column's SQL type (`format_type`), read from the catalog once a table name (again
    when one of `columns` was not there then)."""
    found = _COLUMN_TYPES.get(table)
    if found is None or any(column not in found for column in columns):
        rows = conn.execute(
            "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped",
            (table,),
        ).fetchall()
        found = _COLUMN_TYPES[table] = {str(name): str(kind) for name, kind in rows}
    return found


def row_values(row: Any, columns: Sequence[str]) -> tuple[Any, ...]:
    """The row's attributes named by `columns`, in their order (a query's parameters)."""
    return tuple(getattr(row, column) for column in columns)


def terms_ddl(schema: str | None, table: str) -> list[str]:
    return [
        f"""
        CREATE TABLE IF NOT EXISTS {qualify(schema, table)} (
            order_uuid uuid PRIMARY KEY,
            payment_order_id text NOT NULL,
            seller_account text NOT NULL,
            amount_minor bigint NOT NULL,
            currency text NOT NULL
        )
        """,
        # ADR 0014: terms recorded before carry no commission and credited at once, exactly
        # what these defaults say, so existing rows keep their meaning.
        f"ALTER TABLE {qualify(schema, table)} "
        "ADD COLUMN IF NOT EXISTS commission_minor bigint NOT NULL DEFAULT 0, "
        "ADD COLUMN IF NOT EXISTS funds_held boolean NOT NULL DEFAULT false",
    ]


_TERMS_COLUMNS = tuple(f.name for f in dataclasses.fields(OrderTerms))


def load_terms(conn: Connection, table: str, events: Sequence[TrackedEvent]) -> TermsBook:
    """The stored terms of every order the batch's non-creation events concern."""
    wanted = {t.event.originator_id for t in events if t.topic != CREATED_TOPIC}
    if not wanted:
        return TermsBook()
    rows = conn.execute(
        f"SELECT {', '.join(_TERMS_COLUMNS)} FROM {table} WHERE order_uuid = ANY(%b)",
        (list(wanted),),
    ).fetchall()
    return TermsBook(OrderTerms(*row) for row in rows)


def store_terms(conn: Connection, table: str, book: TermsBook, known: set[UUID]) -> None:
    """Insert the terms the batch added to the book."""
    new = [t for uuid, t in book.by_uuid.items() if uuid not in known]
    if new:
        copy_rows(
            conn,
            table,
            _TERMS_COLUMNS,
            (row_values(t, _TERMS_COLUMNS) for t in new),  # astuple would deep-copy each value
        )


def fold_with_terms(
    conn: Connection,
    table: str,
    events: Sequence[TrackedEvent],
    fold: Callable[[Sequence[TrackedEvent], TermsBook], Folded],
) -> Folded:
    """`fold(events, book)` with the stored terms of the batch's orders; stores those it adds."""
    book = load_terms(conn, table, events)
    known = set(book.by_uuid)
    folded = fold(events, book)
    store_terms(conn, table, book, known)
    return folded
