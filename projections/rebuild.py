"""Rebuild a projection from event zero into scratch tables, then swap them in atomically.

The live view keeps serving (and its runner keeps writing) while the scratch copy catches
up. The swap transaction takes the view's write lock, so the live runner pauses between two
batches; it applies the last events to the scratch tables, moves the live tables out and the
scratch tables in (ALTER TABLE ... SET SCHEMA), and commits. The live runner then reads its
position from the new tracking table and carries on. Readers never see a half-built view.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from psycopg_pool import ConnectionPool

from payments.projections.catalog import VIEW_CLASSES
from payments.projections.pg import (
    REBUILD_LOCK_CLASS,
    WRITE_LOCK_CLASS,
    Connection,
    PostgresView,
    lock_key,
    qualify,
)
from payments.projections.runner import (
    APPLY_THREADS,
    CATCH_UP_BATCH,
    Progress,
    ProjectionRunner,
    catch_up_together,
)
from payments.projections.source import EventSource

SCRATCH_PREFIX = "payments_rebuild_"
RETIRED_PREFIX = "payments_retired_"


class RebuildBusy(RuntimeError):
    """Another rebuild of the same projection is under way."""


@dataclass(frozen=True, slots=True)
class RebuildResult:
    name: str
    events_applied: int
    seconds: float
    position: int
    swapped: bool
    scratch_schema: str

    @property
    def events_per_second(self) -> float:
        return self.events_applied / self.seconds if self.seconds > 0 else 0.0


def scratch_view(pool: ConnectionPool, name: str) -> PostgresView:
    return VIEW_CLASSES[name](pool, schema=SCRATCH_PREFIX + name)


def empty_scratch_view(pool: ConnectionPool, name: str, *, unlogged: bool = False) -> PostgresView:
    """The scratch view of `name`, its schema made anew with empty tables; `unlogged` for a
    copy that is compared and thrown away (a verification): PostgreSQL then writes none of
    its rows to the WAL, and a crash merely empties it."""
    scratch = scratch_view(pool, name)
    assert scratch.schema is not None
    with pool.connection() as conn, conn.transaction():
        conn.execute(f'DROP SCHEMA IF EXISTS "{scratch.schema}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{scratch.schema}"')
        for statement in scratch.ddl(scratch.schema):
            conn.execute(statement.encode())
        if unlogged:
            tables = conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = %s", (scratch.schema,)
            ).fetchall()
            for (table,) in tables:
                conn.execute(f"ALTER TABLE {qualify(scratch.schema, table)} SET UNLOGGED")
    return scratch


@contextmanager
def rebuild_locks(pool: ConnectionPool, names: Sequence[str]) -> Iterator[None]:
    """The rebuild locks of several projections (one rebuild or verification of a view at a
    time), all held on one connection; none is kept when one of them is busy (RebuildBusy
    names it)."""
    keys = [(name, lock_key(name)) for name in names]
    with pool.connection() as conn:
        conn.autocommit = True
        held: list[int] = []
        try:
            for name, key in keys:
                row = conn.execute(
                    "SELECT pg_try_advisory_lock(%s, %s)", (REBUILD_LOCK_CLASS, key)
                ).fetchone()
                if not (row and row[0]):
                    raise RebuildBusy(f"a rebuild or verification of {name} is already running")
                held.append(key)
            yield
        finally:
            for key in held:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (REBUILD_LOCK_CLASS, key))
            conn.autocommit = False


def rebuild(
    pool: ConnectionPool,
    source: EventSource,
    name: str,
    *,
    swap: bool = True,
    batch_size: int = CATCH_UP_BATCH * 2,
    progress: Progress | None = None,
) -> RebuildResult:
    """Build `name` from event zero in its scratch schema; swap it in when `swap`.

    Without swap the scratch tables stay for comparison (see diff_views, drop_scratch).
    """
    (result,) = rebuild_all(
        pool, source, [name], swap=swap, batch_size=batch_size, progress=progress
    )
    return result


def rebuild_all(
    pool: ConnectionPool,
    source: EventSource,
    names: Sequence[str],
    *,
    swap: bool = True,
    batch_size: int = CATCH_UP_BATCH * 2,
    progress: Progress | None = None,
) -> list[RebuildResult]:
    """Build the views `names` from event zero in their scratch schemas side by side, from
    one reading of the log (catch_up_together: each event decoded once, not once per view);
    then, when `swap`, swap each in, in the order of `names`, in a transaction of its own
    that takes its write lock. A result's seconds run from the start to its own swap. A name
    given twice is rebuilt once."""
    names = list(dict.fromkeys(names))
    unknown = [name for name in names if name not in VIEW_CLASSES]
    if unknown:
        raise ValueError(f"unknown projection {unknown[0]!r}")
    with rebuild_locks(pool, names):
        scratches = [empty_scratch_view(pool, name) for name in names]
        runners = [ProjectionRunner(view, source, batch_size=batch_size) for view in scratches]
        started = time.perf_counter()
        applied = catch_up_together(runners, progress=progress, threads=APPLY_THREADS)
        # The live log moved on meanwhile: catch up again until each is a batch from the head.
        while any(source.head() - scratch.position() > batch_size for scratch in scratches):
            more = catch_up_together(runners, progress=progress, threads=APPLY_THREADS)
            applied = [before + after for before, after in zip(applied, more, strict=True)]
        results: list[RebuildResult] = []
        for name, scratch, count in zip(names, scratches, applied, strict=True):
            if swap:
                _analyze(pool, scratch)
                count += _swap_in(pool, source, scratch, batch_size)
            results.append(
                RebuildResult(
                    name=name,
                    events_applied=count,
                    seconds=time.perf_counter() - started,
                    position=source_position(pool, name) if swap else scratch.position(),
                    swapped=swap,
                    scratch_schema=SCRATCH_PREFIX + name,
                )
            )
        return results


def _analyze(pool: ConnectionPool, scratch: PostgresView) -> None:
    """Planner statistics for the rebuilt tables before they serve, outside the swap's lock:
    PostgreSQL plans a table it has never analyzed from guesses (autovacuum comes by when it
    comes by), and a view's readers would meet plans made for empty tables, a scan per row
    where an index was meant (bench/day_checks.py met that trap). ANALYZE reads a sample, not
    the table; the statistics move with the tables when they change schema."""
    with pool.connection() as conn:
        for table in scratch.tables:
            conn.execute(f"ANALYZE {qualify(scratch.schema, table)}".encode())


def _swap_in(pool: ConnectionPool, source: EventSource, scratch: PostgresView, batch: int) -> int:
    name, scratch_schema = scratch.name, scratch.schema
    assert scratch_schema is not None
    retired = RETIRED_PREFIX + name
    applied = 0
    after = scratch.position()
    with pool.connection() as conn, conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (WRITE_LOCK_CLASS, lock_key(name)))
        head = source.head()
        while after < head:  # the last events, inside the swap transaction
            notifications = source.read(after, head, batch, scratch.topics)
            through = notifications[-1].id if len(notifications) == batch else head
            events = [source.decode(n) for n in notifications]
            scratch.apply_in(conn, events, after=after, through=through)
            applied, after = applied + len(events), through
        live_schema = _live_schema(conn, scratch)
        conn.execute(f'DROP SCHEMA IF EXISTS "{retired}" CASCADE')
        conn.execute(f'CREATE SCHEMA "{retired}"')
        for table in scratch.tables:
            conn.execute(f'ALTER TABLE IF EXISTS "{live_schema}"."{table}" SET SCHEMA "{retired}"')
        for table in scratch.tables:
            conn.execute(f'ALTER TABLE "{scratch_schema}"."{table}" SET SCHEMA "{live_schema}"')
        conn.execute(f'DROP SCHEMA "{retired}" CASCADE')
        conn.execute(f'DROP SCHEMA "{scratch_schema}" CASCADE')
    return applied


def _live_schema(conn: Connection, view: PostgresView) -> str:
    """The schema where the search path finds the live tables (usually public)."""
    row = conn.execute(
        "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE c.oid = to_regclass(%s)",
        (f'"{view.tracking_table}"',),
    ).fetchone()
    if row is not None:
        return str(row[0])
    found = conn.execute("SELECT current_schema()").fetchone()
    assert found is not None
    return str(found[0])


def source_position(pool: ConnectionPool, name: str) -> int:
    """The live view's position."""
    return VIEW_CLASSES[name](pool).position()


def diff_views(pool: ConnectionPool, name: str, other_schema: str) -> dict[str, tuple[int, int]]:
    """Rows only in the live tables and rows only in `other_schema`, per table (row for row)."""
    view_class = VIEW_CLASSES[name]
    differences: dict[str, tuple[int, int]] = {}
    with pool.connection() as conn:
        for table in view_class.tables:
            live, other = f'"{table}"', f'"{other_schema}"."{table}"'
            counts = []
            for left, right in ((live, other), (other, live)):
                row = conn.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {left} EXCEPT ALL "
                    f"SELECT * FROM {right}) AS d"
                ).fetchone()
                counts.append(int(row[0]) if row else 0)
            if counts != [0, 0]:
                differences[table] = (counts[0], counts[1])
    return differences


def drop_scratch(pool: ConnectionPool, name: str) -> None:
    with pool.connection() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{SCRATCH_PREFIX + name}" CASCADE')
