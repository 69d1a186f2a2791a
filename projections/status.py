"""Is each projection running, how far behind is it, and is it stuck on a poisoned event?

Running means a process holds the projection's runner lock (a PostgreSQL advisory lock, so
the answer holds across processes and dies with its holder); poisoned is recorded in the
projection_status table by the runner that stopped; lag comes from the tracking positions.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from payments.projections.core import APPLICATION_NAME
from payments.projections.pg import RUNNER_LOCK_CLASS, lock_key, qualify
from payments.projections.source import EventSource

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS projection_status (
        name text PRIMARY KEY,
        state text NOT NULL CHECK (state IN ('running', 'stopped', 'poisoned')),
        poisoned_notification_id bigint,
        poisoned_topic text,
        poisoned_reason text,
        poisoned_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """
]


@dataclass(frozen=True, slots=True)
class ProjectionState:
    name: str
    state: str  # running | stopped | poisoned
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    runner: str | None = None  # who holds the runner lock
    poisoned_notification_id: int | None = None
    poisoned_topic: str | None = None
    poisoned_reason: str | None = None
    poisoned_at: datetime | None = None


class PostgresStatusRecorder:
    """Writes projection_status rows (implements runner.StatusRecorder)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def record_running(self, name: str) -> None:
        self._set(name, "running", clear_poison=True)

    def record_stopped(self, name: str) -> None:
        self._set(name, "stopped", clear_poison=False)

    def record_poisoned(self, name: str, notification_id: int, topic: str, reason: str) -> None:
        with self.pool.connection() as conn:
            conn.execute(
                """
                INSERT INTO projection_status AS s (name, state, poisoned_notification_id,
                    poisoned_topic, poisoned_reason, poisoned_at, updated_at)
                VALUES (%s, 'poisoned', %s, %s, %s, now(), now())
                ON CONFLICT (name) DO UPDATE SET state = 'poisoned',
                    poisoned_notification_id = EXCLUDED.poisoned_notification_id,
                    poisoned_topic = EXCLUDED.poisoned_topic,
                    poisoned_reason = EXCLUDED.poisoned_reason,
                    poisoned_at = now(), updated_at = now()
                """,
                (name, notification_id, topic, reason),
            )

    def _set(self, name: str, state: str, *, clear_poison: bool) -> None:
        poison = (
            ", poisoned_notification_id = NULL, poisoned_topic = NULL, "
            "poisoned_reason = NULL, poisoned_at = NULL"
            if clear_poison
            else ""
        )
        with self.pool.connection() as conn:
            conn.execute(
                f"""
                INSERT INTO projection_status AS s (name, state) VALUES (%s, %s)
                ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state, updated_at = now()
                {poison}
                WHERE s.state <> 'poisoned' OR %s
                """,
                (name, state, clear_poison),
            )


def read_states(
    pool: ConnectionPool, source: EventSource, views: dict[str, str]
) -> list[ProjectionState]:
    """The state of each projection; `views` maps a name to its tracking table."""
    head = source.head()
    states = []
    with pool.connection() as conn:
        recorded = {
            row[0]: row
            for row in conn.execute(
                "SELECT name, state, poisoned_notification_id, poisoned_topic, poisoned_reason, "
                "poisoned_at FROM projection_status"
            )
        }
        holders = _runner_lock_holders(conn)
        for name, tracking_table in views.items():
            row = conn.execute(
                f"SELECT notification_id FROM {qualify(None, tracking_table)} "
                "WHERE application_name = %s",
                (APPLICATION_NAME,),
            ).fetchone()
            position = int(row[0]) if row else 0
            record = recorded.get(name)
            holder = holders.get(lock_key(name))
            poisoned = record is not None and record[1] == "poisoned"
            state = "poisoned" if poisoned else "running" if holder is not None else "stopped"
            lag_seconds = 0.0
            if position < head:
                oldest = source.event_time(position)
                if oldest is not None:
                    lag_seconds = max(0.0, (datetime.now(UTC) - oldest).total_seconds())
            states.append(
                ProjectionState(
                    name=name,
                    state=state,
                    position=position,
                    head=head,
                    lag_events=max(0, head - position),
                    lag_seconds=round(lag_seconds, 3),
                    runner=holder,
                    poisoned_notification_id=record[2] if poisoned and record else None,
                    poisoned_topic=record[3] if poisoned and record else None,
                    poisoned_reason=record[4] if poisoned and record else None,
                    poisoned_at=record[5] if poisoned and record else None,
                )
            )
    return states


def _runner_lock_holders(conn: psycopg.Connection[Any]) -> dict[int, str]:
    rows = conn.execute(
        """
        SELECT l.objid::bigint, coalesce(a.application_name, '') || ' (backend ' || l.pid || ')'
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s::oid
          AND l.objsubid = 2 AND l.database = (
              SELECT oid FROM pg_database WHERE datname = current_database())
        """,
        (RUNNER_LOCK_CLASS,),
    ).fetchall()
    return {int(row[0]): str(row[1]) for row in rows}


class RunnerLock:
    """At most one runner per projection: a session advisory lock on a connection of its own.
    Another kind of runner names its lock class and kind (the verifications': ADR 0024)."""

    def __init__(
        self,
        database_url: str,
        name: str,
        lock_class: int = RUNNER_LOCK_CLASS,
        kind: str = "projection",
    ) -> None:
        self.database_url = database_url
        self.name = name
        self.lock_class = lock_class
        self.kind = kind
        self._conn: psycopg.Connection[Any] | None = None

    def try_acquire(self) -> bool:
        label = f"payments {self.kind} {self.name} pid={os.getpid()}@{socket.gethostname()}"
        conn = psycopg.connect(self.database_url, autocommit=True, application_name=label[:63])
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (self.lock_class, lock_key(self.name))
        ).fetchone()
        if row and row[0]:
            self._conn = conn
            return True
        conn.close()
        return False

    def acquire(self, stop: threading.Event, poll: float = 2.0) -> bool:
        """Wait until the lock is ours (True) or stop is set (False)."""
        while not stop.is_set():
            if self.try_acquire():
                return True
            stop.wait(poll)
        return False

    def holder(self) -> str | None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            return _runner_lock_holders(conn).get(lock_key(self.name))

    def release(self) -> None:
        """Let the lock go before returning: closing the session alone frees it only once
        the server's backend has exited, a moment later on a loaded server, when the next
        runner (or a status read) would still find it held."""
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.execute(
                    "SELECT pg_advisory_unlock(%s, %s)", (self.lock_class, lock_key(self.name))
                )
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
