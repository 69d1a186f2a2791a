"""The executor's work queue: a table fed from the event log, claimed with leases.

Rows say which order needs the PSP and when (execute a new attempt, or re-query a pending
or interrupted one). Several executors claim rows with FOR UPDATE SKIP LOCKED and a lease,
so no order is worked on by two at once; a dead executor's lease simply expires.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from psycopg import Connection
from psycopg_pool import ConnectionPool

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS execution_queue (
        order_uuid uuid PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('execute', 'requery')),
        due_at timestamptz NOT NULL,
        lease_until timestamptz,
        lease_owner text,
        requeries integer NOT NULL DEFAULT 0,
        enqueued_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX IF NOT EXISTS execution_queue_due ON execution_queue (due_at)",
    """
    CREATE TABLE IF NOT EXISTS dead_letters (
        order_uuid uuid PRIMARY KEY,
        payment_order_id text NOT NULL,
        attempts integer NOT NULL,
        last_error text NOT NULL,
        dead_lettered_at timestamptz NOT NULL
    )
    """,
    # Payouts are parked here too (ADR 0006): target says which; payment_order_id then holds
    # the payout_id (the column keeps its first name so existing deployments need no rename).
    "ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS target text NOT NULL DEFAULT 'charge'",
    """
    CREATE TABLE IF NOT EXISTS executor_tracking (
        name text PRIMARY KEY,
        position bigint NOT NULL
    )
    """,
]


REQUEUE_STUCK = """
UPDATE execution_queue SET kind = 'requery', due_at = now()
WHERE due_at > now()
  AND (lease_until IS NULL OR lease_until < now())
  AND requeries < CASE
        WHEN now() - enqueued_at >= %(second)s THEN
            2 + floor(extract(epoch FROM now() - enqueued_at - %(second)s)
                      / extract(epoch FROM %(then_every)s))::int
        WHEN now() - enqueued_at >= %(first)s THEN 1
        ELSE 0
      END
RETURNING order_uuid
"""


@dataclass(frozen=True, slots=True)
class QueuedOrder:
    order_uuid: UUID
    kind: str
    requeries: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    order_uuid: UUID
    payment_order_id: str
    attempts: int
    last_error: str
    dead_lettered_at: datetime
    target: str = "charge"


CHARGE, PAYOUT = "charge", "payout"


class ExecutionQueue:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def claim_due(self, owner: str, limit: int, lease: timedelta) -> list[QueuedOrder]:
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                """
                UPDATE execution_queue q SET lease_until = now() + %s, lease_owner = %s
                FROM (
                    SELECT order_uuid FROM execution_queue
                    WHERE due_at <= now() AND (lease_until IS NULL OR lease_until < now())
                    ORDER BY due_at
                    LIMIT %s
                    FOR UPDATE SKIP LOCKED
                ) due
                WHERE q.order_uuid = due.order_uuid
                RETURNING q.order_uuid, q.kind, q.requeries
                """,
                (lease, owner, limit),
            ).fetchall()
        return [QueuedOrder(row[0], row[1], row[2]) for row in rows]

    def finish(self, owner: str, order_uuid: UUID) -> None:
        """The order needs the executor no more (terminal, dead-lettered)."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "DELETE FROM execution_queue WHERE order_uuid = %s AND lease_owner = %s",
                (order_uuid, owner),
            )

    def finish_many(self, owner: str, order_uuids: Sequence[UUID]) -> None:
        """finish() for many orders in one statement (an executor batch's outcomes)."""
        if not order_uuids:
            return
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "DELETE FROM execution_queue WHERE order_uuid = ANY(%s) AND lease_owner = %s",
                (list(order_uuids), owner),
            )

    def reschedule(
        self, owner: str, order_uuid: UUID, kind: str, due_at: datetime, requeries: int
    ) -> None:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                """
                UPDATE execution_queue SET kind = %s, due_at = %s, requeries = %s,
                    lease_until = NULL, lease_owner = NULL
                WHERE order_uuid = %s AND lease_owner = %s
                """,
                (kind, due_at, requeries, order_uuid, owner),
            )

    def depth(self) -> tuple[int, int]:
        """(rows due now, rows in all)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT count(*) FILTER (WHERE due_at <= now()), count(*) FROM execution_queue"
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def requeue_stuck(self, delays: tuple[timedelta, ...]) -> int:
        """Queue a re-query of each row stuck in EXECUTING past its next re-query time: the
        first after delays[0] (5 min), the second after delays[1] (1 h), then every
        delays[2] (daily); `requeries` on the row counts those already made."""
        first, second, then_every = (delays[min(i, len(delays) - 1)] for i in range(3))
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                REQUEUE_STUCK, {"first": first, "second": second, "then_every": then_every}
            ).fetchall()
        return len(rows)

    def dead_letters(self, target: str = CHARGE) -> list[DeadLetter]:
        """Parked orders (target "charge") or payouts ("payout"), oldest first."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT order_uuid, payment_order_id, attempts, last_error, dead_lettered_at, "
                "target FROM dead_letters WHERE target = %s "
                "ORDER BY dead_lettered_at, payment_order_id",
                (target,),
            ).fetchall()
        return [DeadLetter(*row) for row in rows]


# --- changes the feeder makes, inside its tracking transaction ----------------------


def enqueue_new(conn: Connection, order_uuid: UUID, due_at: datetime) -> None:
    conn.execute(
        "INSERT INTO execution_queue (order_uuid, kind, due_at) VALUES (%s, 'execute', %s) "
        "ON CONFLICT (order_uuid) DO NOTHING",
        (order_uuid, due_at),
    )


def enqueue(conn: Connection, order_uuid: UUID, kind: str, due_at: datetime) -> None:
    conn.execute(
        """
        INSERT INTO execution_queue (order_uuid, kind, due_at) VALUES (%s, %s, %s)
        ON CONFLICT (order_uuid) DO UPDATE SET kind = EXCLUDED.kind, due_at = EXCLUDED.due_at,
            requeries = 0
        """,
        (order_uuid, kind, due_at),
    )


def dequeue(conn: Connection, order_uuid: UUID) -> None:
    conn.execute("DELETE FROM execution_queue WHERE order_uuid = %s", (order_uuid,))


def add_dead_letter(
    conn: Connection,
    order_uuid: UUID,
    payment_order_id: str,
    attempts: int,
    last_error: str,
    at: datetime,
    target: str = CHARGE,
) -> None:
    conn.execute(
        """
        INSERT INTO dead_letters (order_uuid, payment_order_id, attempts, last_error,
            dead_lettered_at, target) VALUES (%s, %s, %s, %s, %s, %s)
        ON CONFLICT (order_uuid) DO UPDATE SET attempts = EXCLUDED.attempts,
            last_error = EXCLUDED.last_error, dead_lettered_at = EXCLUDED.dead_lettered_at
        """,
        (order_uuid, payment_order_id, attempts, last_error, at, target),
    )


def remove_dead_letter(conn: Connection, order_uuid: UUID) -> None:
    conn.execute("DELETE FROM dead_letters WHERE order_uuid = %s", (order_uuid,))


def tracked_position(conn: Connection, name: str) -> int:
    row = conn.execute("SELECT position FROM executor_tracking WHERE name = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


def track(conn: Connection, name: str, position: int) -> None:
    conn.execute(
        "INSERT INTO executor_tracking (name, position) VALUES (%s, %s) "
        "ON CONFLICT (name) DO UPDATE SET position = EXCLUDED.position",
        (name, position),
    )
