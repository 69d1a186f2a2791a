"""The sandbox's own persistent state: one SQLite file in WAL mode, apart from our PostgreSQL.

One connection guarded by a lock; every write happens inside `transaction()` so a charge, its
idempotency record and its webhook event are stored together or not at all.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens (
    token TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, brand TEXT NOT NULL, last4 TEXT NOT NULL,
    exp_month INTEGER NOT NULL, exp_year INTEGER NOT NULL, behaviour TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS charges (
    id TEXT PRIMARY KEY, reference TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,
    token TEXT NOT NULL, description TEXT, status TEXT NOT NULL, failure_code TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS charges_by_reference ON charges (reference);
CREATE TABLE IF NOT EXISTS payouts (
    id TEXT PRIMARY KEY, reference TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,
    destination TEXT NOT NULL, status TEXT NOT NULL, failure_code TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS payouts_by_reference ON payouts (reference);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, charge_id TEXT NOT NULL, reference TEXT NOT NULL,
    amount INTEGER NOT NULL, currency TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
    failure_code TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS refunds_by_reference ON refunds (reference);
CREATE INDEX IF NOT EXISTS refunds_by_charge ON refunds (charge_id);
CREATE TABLE IF NOT EXISTS disputes (
    id TEXT PRIMARY KEY, charge_id TEXT UNIQUE NOT NULL, amount INTEGER NOT NULL,
    currency TEXT NOT NULL, fee INTEGER NOT NULL, reason TEXT NOT NULL, status TEXT NOT NULL,
    evidence_due_by TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    won_at TEXT, reopened_at TEXT
);
CREATE TABLE IF NOT EXISTS bank_tokens (
    id TEXT PRIMARY KEY, kind TEXT NOT NULL, country TEXT NOT NULL, last4 TEXT NOT NULL,
    fingerprint TEXT NOT NULL, holder_name TEXT NOT NULL, created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, reference TEXT NOT NULL, name TEXT NOT NULL, country TEXT NOT NULL,
    status TEXT NOT NULL, bank_token TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    rejection_reason TEXT
);
CREATE INDEX IF NOT EXISTS accounts_by_reference ON accounts (reference);
CREATE TABLE IF NOT EXISTS installation (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
    scope TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
    status_code INTEGER NOT NULL, body BLOB NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS attempt_counts (
    scope TEXT NOT NULL, key TEXT NOT NULL, attempts INTEGER NOT NULL, PRIMARY KEY (scope, key)
);
CREATE TABLE IF NOT EXISTS transitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT, object_kind TEXT NOT NULL, object_id TEXT NOT NULL,
    new_status TEXT NOT NULL, due_at REAL NOT NULL, done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS transitions_due ON transitions (done, due_at);
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, type TEXT NOT NULL,
    created INTEGER NOT NULL, payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,
    last_status_code INTEGER, last_error TEXT, delivered_at REAL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
"""

TABLES = (
    "tokens",
    "charges",
    "payouts",
    "refunds",
    "disputes",
    "bank_tokens",
    "accounts",
    "idempotency",
    "attempt_counts",
    "transitions",
    "events",
    "deliveries",
)

Row = sqlite3.Row


class SandboxStore:
    """Thread-safe access to the sandbox database file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._connection.row_factory = sqlite3.Row
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=NORMAL")
        self._connection.execute("PRAGMA busy_timeout=5000")
        # 64 MiB of page cache instead of SQLite's 2 MB: a day of a million charges keeps
        # tables of a million rows with random keys, whose index pages the default evicts.
        self._connection.execute("PRAGMA cache_size=-65536")
        self._connection.executescript(SCHEMA)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        """Columns added after a database file was made (CREATE TABLE IF NOT EXISTS keeps
        the old shape): accounts.rejection_reason."""
        columns = {row["name"] for row in self._connection.execute("PRAGMA table_info(accounts)")}
        if "rejection_reason" not in columns:
            self._connection.execute("ALTER TABLE accounts ADD COLUMN rejection_reason TEXT")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and one IMMEDIATE transaction; commit on success, roll back on error."""
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    def fetch_all(self, sql: str, parameters: Sequence[Any] = ()) -> list[Row]:
        with self._lock:
            return list(self._connection.execute(sql, parameters).fetchall())

    def fetch_one(self, sql: str, parameters: Sequence[Any] = ()) -> Row | None:
        with self._lock:
            row: Row | None = self._connection.execute(sql, parameters).fetchone()
            return row

    def installation_secret(self, name: str) -> str:
        """A random secret made the first time it is asked for, then kept (not wiped by reset)."""
        with self.transaction() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO installation (name, value) VALUES (?, ?)",
                (name, secrets.token_hex(32)),
            )
            row = connection.execute(
                "SELECT value FROM installation WHERE name = ?", (name,)
            ).fetchone()
            return str(row["value"])

    def wipe(self) -> None:
        """Delete every row of every table (admin reset for tests)."""
        with self.transaction() as connection:
            for table in TABLES:
                connection.execute(f"DELETE FROM {table}")

    def close(self) -> None:
        with self._lock:
            self._connection.close()
