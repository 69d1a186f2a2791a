"""Which DDL a database has had, so that a process starting against a current schema runs none.

`CREATE INDEX IF NOT EXISTS` and `ALTER TABLE ... ADD COLUMN IF NOT EXISTS` take their table
locks before they find nothing to do: run at every process start, a CLI command beside a
busy deployment would queue behind the event log's writers and every later writer behind it
(ADR 0028). Each part of the schema (our tables, the event store's) is recorded with a
fingerprint of its statements; a start whose fingerprint is recorded reads one row instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg.rows import tuple_row

TABLE = "payments_schema_applied"
CREATE_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    "part text PRIMARY KEY, fingerprint text NOT NULL, applied_at timestamptz NOT NULL)"
)


def fingerprint(statements: Iterable[str]) -> str:
    """The statements' sha256: any change to the DDL (a new table, column or index) is a
    new fingerprint, and the next start applies the whole part again."""
    digest = hashlib.sha256()
    for statement in statements:
        digest.update(statement.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def is_current(conn: psycopg.Connection[Any], part: str, mark: str) -> bool:
    """Whether `part` was last applied with these statements (no lock taken)."""
    with conn.cursor(row_factory=tuple_row) as cursor:  # the event store's rows are dicts
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", (TABLE,))
        if cursor.fetchone() != (True,):
            return False
        cursor.execute(
            f"SELECT 1 FROM {TABLE} WHERE part = %s AND fingerprint = %s",
            (part, mark),
        )
        return cursor.fetchone() is not None


def mark_current(conn: psycopg.Connection[Any], part: str, mark: str) -> None:
    """Record that `part` has just been applied with these statements."""
    conn.execute(CREATE_TABLE)
    conn.execute(
        f"INSERT INTO {TABLE} (part, fingerprint, applied_at) VALUES (%s, %s, now()) "
        "ON CONFLICT (part) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
        "applied_at = EXCLUDED.applied_at",
        (part, mark),
    )
