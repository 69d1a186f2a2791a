"""Verify the live views against history: rebuild each from event zero and diff row for row.

Take the rebuild locks of the projections verified, build their tables afresh in their
scratch schemas (projections/rebuild.py's) up to each live view's position, side by side from
one reading of the log; then, for each projection, in one REPEATABLE READ
transaction whose snapshot fixes the live view at position L, apply the scratch copy's last
events up to L and compare every table (in one pass over both: how many times each side holds
each distinct row, by the live table's columns; the rows of one side only as EXCEPT ALL counts
them).
The live view keeps serving and its runner keeps writing: nothing waits on the comparison.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from psycopg_pool import ConnectionPool

from payments.projections.catalog import NAMES, VIEW_CLASSES
from payments.projections.core import APPLICATION_NAME
from payments.projections.pg import Connection, PostgresView, qualify
from payments.projections.rebuild import drop_scratch, empty_scratch_view, rebuild_locks
from payments.projections.runner import (
    APPLY_THREADS,
    CATCH_UP_BATCH,
    Progress,
    ProjectionRunner,
    catch_up_together,
)
from payments.projections.source import EventSource

FIRST_DIFFERENCES = 5  # rows shown per table and side
SIDE = '"payments_verify_side"'  # which table a row came from, in the one-pass comparison
# Business ids shown beside a row's primary key, so a reader knows which row it is.
LABEL_COLUMNS = ("payment_order_id", "checkout_id", "seller_account", "account")


@dataclass(frozen=True, slots=True)
class RowDifference:
    """A row whose key is in one side only, or whose columns differ between the sides."""

    key: dict[str, Any]  # the primary key, and any LABEL_COLUMNS of the row
    live: dict[str, Any] | None
    rebuilt: dict[str, Any] | None

    @property
    def changed_columns(self) -> list[str]:
        if self.live is None or self.rebuilt is None:
            return []
        return [c for c in self.live if self.live.get(c) != self.rebuilt.get(c)]


@dataclass(frozen=True, slots=True)
class TableResult:
    table: str
    live_rows: int
    rebuilt_rows: int
    only_live: int  # rows of the live table the rebuild does not have (EXCEPT ALL)
    only_rebuilt: int
    first_differences: list[RowDifference] = field(default_factory=list)

    @property
    def rows_differing(self) -> int:
        return max(self.only_live, self.only_rebuilt)


@dataclass(frozen=True, slots=True)
class ProjectionResult:
    name: str
    position: int
    events_scanned: int
    seconds: float
    tables: list[TableResult]

    @property
    def identical(self) -> bool:
        return all(t.only_live == 0 and t.only_rebuilt == 0 for t in self.tables)

    @property
    def rows_compared(self) -> int:
        return sum(max(t.live_rows, t.rebuilt_rows) for t in self.tables)

    @property
    def rows_differing(self) -> int:
        return sum(t.rows_differing for t in self.tables)

    @property
    def events_per_second(self) -> float:
        return self.events_scanned / self.seconds if self.seconds > 0 else 0.0


def result_json(result: ProjectionResult) -> dict[str, Any]:
    """A JSON-ready summary (stored with API verifications, printed by --json)."""
    return {
        "name": result.name,
        "identical": result.identical,
        "position": result.position,
        "rows_compared": result.rows_compared,
        "rows_differing": result.rows_differing,
        "events_scanned": result.events_scanned,
        "seconds": round(result.seconds, 3),
        "tables": [
            {
                **{k: v for k, v in asdict(t).items() if k != "first_differences"},
                "rows_differing": t.rows_differing,
                "first_differences": [
                    {**asdict(d), "changed_columns": d.changed_columns} for d in t.first_differences
                ],
            }
            for t in result.tables
        ],
    }


def verify_projection(
    pool: ConnectionPool,
    source: EventSource,
    name: str,
    *,
    batch_size: int = CATCH_UP_BATCH * 2,
    progress: Progress | None = None,
) -> ProjectionResult:
    return verify_all(pool, source, [name], batch_size=batch_size, progress=progress)[0]


def verify_all(
    pool: ConnectionPool,
    source: EventSource,
    names: Sequence[str] = NAMES,
    *,
    batch_size: int = CATCH_UP_BATCH * 2,
    progress: Progress | None = None,
    on_result: Callable[[ProjectionResult], None] | None = None,
) -> list[ProjectionResult]:
    """Verify the views `names` together: their scratch copies are rebuilt side by side from
    one reading of the log (catch_up_together: each event decoded once, not once per view),
    then each is compared with its live view in a snapshot of its own, in the order of
    `names`; on_result hears each result as it comes. A result's seconds run from the start
    of the shared rebuild to the end of its own comparison. A name given twice is verified
    once."""
    names = list(dict.fromkeys(names))
    unknown = [name for name in names if name not in VIEW_CLASSES]
    if unknown:
        raise ValueError(f"unknown projection {unknown[0]!r}; known: {', '.join(NAMES)}")
    started = time.perf_counter()
    lives = [VIEW_CLASSES[name](pool) for name in names]
    results: list[ProjectionResult] = []
    with rebuild_locks(pool, names):
        try:
            # compared, then dropped
            scratches = [empty_scratch_view(pool, name, unlogged=True) for name in names]
            catch_up_together(
                [ProjectionRunner(scratch, source, batch_size=batch_size) for scratch in scratches],
                [live.position() for live in lives],
                progress,
                threads=APPLY_THREADS,
            )
            for name, live, scratch in zip(names, lives, scratches, strict=True):
                position, tables = _compare_at_snapshot(pool, source, live, scratch, batch_size)
                result = ProjectionResult(
                    name=name,
                    position=position,
                    events_scanned=position,
                    seconds=time.perf_counter() - started,
                    tables=tables,
                )
                results.append(result)
                if on_result is not None:
                    on_result(result)
        finally:
            for name in names:
                drop_scratch(pool, name)
    if progress is not None and results:
        final = max(result.position for result in results)
        progress(final, final)
    return results


def _compare_at_snapshot(
    pool: ConnectionPool,
    source: EventSource,
    live: PostgresView,
    scratch: PostgresView,
    batch_size: int,
) -> tuple[int, list[TableResult]]:
    """In one REPEATABLE READ transaction: the live view's position L (the snapshot starts
    there), the scratch copy brought to L, every table compared."""
    with pool.connection() as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        position = _live_position(conn, live)
        _catch_up_in(conn, source, scratch, position, batch_size)
        return position, [_compare(conn, live, scratch, table) for table in live.tables]


def _live_position(conn: Connection, live: PostgresView) -> int:
    row = conn.execute(
        f"SELECT notification_id FROM {qualify(None, live.tracking_table)} "
        "WHERE application_name = %s",
        (APPLICATION_NAME,),
    ).fetchone()
    return int(row[0]) if row else 0


def _catch_up_in(
    conn: Connection, source: EventSource, scratch: PostgresView, target: int, batch: int
) -> None:
    """Bring the scratch view to `target` inside the comparison's transaction."""
    after = scratch.position()
    while after < target:
        notifications = source.read(after, target, batch, scratch.topics)
        through = notifications[-1].id if len(notifications) == batch else target
        events = [source.decode(n) for n in notifications]
        scratch.apply_in(conn, events, after=after, through=through)
        after = through


def _columns(conn: Connection, table: str) -> tuple[list[str], list[str]]:
    """The live table's columns (in order) and its primary key columns."""
    columns = [
        str(r[0])
        for r in conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            (qualify(None, table),),
        )
    ]
    key = [
        str(r[0])
        for r in conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
            "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = to_regclass(%s) AND i.indisprimary "
            "ORDER BY array_position(i.indkey, a.attnum)",
            (qualify(None, table),),
        )
    ]
    return columns, key or columns


def _compare(
    conn: Connection, live: PostgresView, scratch: PostgresView, table: str
) -> TableResult:
    columns, key = _columns(conn, table)
    names = ", ".join(f'"{c}"' for c in columns)
    order = ", ".join(f'"{c}"' for c in key)
    live_t, scratch_t = live.t(table), scratch.t(table)

    def except_all(left: str, right: str) -> str:
        return f"SELECT {names} FROM {left} EXCEPT ALL SELECT {names} FROM {right}"

    # One pass over both tables: each distinct row, how many times each side holds it.
    tally = conn.execute(
        f"""
        SELECT coalesce(sum(n.l), 0), coalesce(sum(n.r), 0),
               coalesce(sum(greatest(n.l - n.r, 0)), 0), coalesce(sum(greatest(n.r - n.l, 0)), 0)
        FROM (
            SELECT count(*) FILTER (WHERE s.{SIDE} = 0) AS l,
                   count(*) FILTER (WHERE s.{SIDE} = 1) AS r
            FROM (SELECT {names}, 0 AS {SIDE} FROM {live_t}
                  UNION ALL SELECT {names}, 1 FROM {scratch_t}) s
            GROUP BY {names}
        ) n
        """
    ).fetchone()
    assert tally is not None
    live_rows, rebuilt_rows, only_live, only_rebuilt = (int(value) for value in tally)
    differences: list[RowDifference] = []
    if only_live or only_rebuilt:
        sides: list[dict[str, dict[str, Any]]] = []
        for left, right in ((live_t, scratch_t), (scratch_t, live_t)):
            rows = conn.execute(
                f"SELECT row_to_json(d)::text FROM ({except_all(left, right)}) d "
                f"ORDER BY {order} LIMIT {FIRST_DIFFERENCES}"
            ).fetchall()
            decoded = [json.loads(r[0]) for r in rows]
            sides.append({json.dumps([d[k] for k in key]): d for d in decoded})
        for text in sorted(set(sides[0]) | set(sides[1]))[:FIRST_DIFFERENCES]:
            live_row, rebuilt_row = sides[0].get(text), sides[1].get(text)
            first = live_row or rebuilt_row
            assert first is not None
            label = [c for c in LABEL_COLUMNS if c in first and c not in key]
            differences.append(
                RowDifference({k: first[k] for k in (*key, *label)}, live_row, rebuilt_row)
            )
    return TableResult(table, live_rows, rebuilt_rows, only_live, only_rebuilt, differences)
