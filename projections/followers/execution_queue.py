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

from payments.projections.pg import fetch_all, fetch_one

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS execution_queue (
        aggregate_uuid uuid PRIMARY KEY,
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
        aggregate_uuid uuid PRIMARY KEY,
        reference text NOT NULL,
        attempts integer NOT NULL,
        last_error text NOT NULL,
        dead_lettered_at timestamptz NOT NULL,
        target text NOT NULL DEFAULT 'charge'
    )
    """,
    # Deployments from before payouts joined the queue (v0.1) named the columns after orders.
    """
    DO $$ BEGIN
      IF EXISTS (SELECT 1 FROM information_schema.columns
                 WHERE table_name = 'execution_queue' AND column_name = 'order_uuid'
                   AND table_schema = current_schema()) THEN
        ALTER TABLE execution_queue RENAME COLUMN order_uuid TO aggregate_uuid;
      END IF;
      IF EXISTS (SELECT 1 FROM information_schema.columns
                 WHERE table_name = 'dead_letters' AND column_name = 'order_uuid'
                   AND table_schema = current_schema()) THEN
        ALTER TABLE dead_letters RENAME COLUMN order_uuid TO aggregate_uuid;
        ALTER TABLE dead_letters RENAME COLUMN payment_order_id TO reference;
      END IF;
    END $$
    """,
    "ALTER TABLE dead_letters ADD COLUMN IF NOT EXISTS target text NOT NULL DEFAULT 'charge'",
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
RETURNING aggregate_uuid
"""


@dataclass(frozen=True, slots=True)
class QueuedWork:
    """A charge (PaymentOrder) or payout (Payout) the executor has to call the PSP about."""

    aggregate_uuid: UUID
    kind: str  # "execute" a new attempt, or "requery" a pending or interrupted one
    requeries: int


@dataclass(frozen=True, slots=True)
class DeadLetter:
    aggregate_uuid: UUID
    reference: str  # the payment_order_id, payout_id (target "payout") or refund_id ("refund")
    attempts: int
    last_error: str
    dead_lettered_at: datetime
    target: str = "charge"


CHARGE, PAYOUT, REFUND = "charge", "payout", "refund"


class ExecutionQueue:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def claim_due(self, owner: str, limit: int, lease: timedelta) -> list[QueuedWork]:
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                """
                UPDATE execution_queue q SET lease_until = now() + %s, lease_owner = %s
                FROM (
                    SELECT aggregate_uuid FROM execution_queue
                    WHERE due_at <= now() AND (lease_until IS NULL OR lease_until < now())
                    ORDER BY due_at
                    LIMIT %s
                    FOR UPDATE SKIP LOCKED
                ) due
                WHERE q.aggregate_uuid = due.aggregate_uuid
                RETURNING q.aggregate_uuid, q.kind, q.requeries
                """,
                (lease, owner, limit),
            ).fetchall()
        return [QueuedWork(row[0], row[1], row[2]) for row in rows]

    def finish(self, owner: str, aggregate_uuid: UUID) -> None:
        """The order needs the executor no more (terminal, dead-lettered)."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "DELETE FROM execution_queue WHERE aggregate_uuid = %s AND lease_owner = %s",
                (aggregate_uuid, owner),
            )

    def finish_many(self, owner: str, aggregate_uuids: Sequence[UUID]) -> None:
        """finish() for many orders in one statement (an executor batch's outcomes)."""
        if not aggregate_uuids:
            return
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "DELETE FROM execution_queue WHERE aggregate_uuid = ANY(%b) AND lease_owner = %s",
                (list(aggregate_uuids), owner),
            )

    def reschedule(
        self, owner: str, aggregate_uuid: UUID, kind: str, due_at: datetime, requeries: int
    ) -> None:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                """
                UPDATE execution_queue SET kind = %s, due_at = %s, requeries = %s,
                    lease_until = NULL, lease_owner = NULL
                WHERE aggregate_uuid = %s AND lease_owner = %s
                """,
                (kind, due_at, requeries, aggregate_uuid, owner),
            )

    def depth(self) -> tuple[int, int]:
        """(rows due now, rows in all)."""
        row = fetch_one(
            self.pool,
            "SELECT count(*) FILTER (WHERE due_at <= now()), count(*) FROM execution_queue",
        )
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
        """Parked orders (target "charge"), payouts ("payout") or refunds ("refund"), oldest
        first."""
        rows = fetch_all(
            self.pool,
            "SELECT aggregate_uuid, reference, attempts, last_error, dead_lettered_at, "
            "target FROM dead_letters WHERE target = %s "
            "ORDER BY dead_lettered_at, reference",
            (target,),
        )
        return [DeadLetter(*row) for row in rows]


# --- changes the feed makes, inside its tracking transaction -------------------------

_WRITES: dict[str, str] = {
    "enqueue_new": """
        INSERT INTO execution_queue (aggregate_uuid, kind, due_at)
        SELECT u, 'execute', d FROM unnest(%b::uuid[], %b::timestamptz[]) AS t(u, d)
        ON CONFLICT (aggregate_uuid) DO NOTHING
        """,
    "enqueue": """
        INSERT INTO execution_queue (aggregate_uuid, kind, due_at)
        SELECT * FROM unnest(%b::uuid[], %b::text[], %b::timestamptz[])
        ON CONFLICT (aggregate_uuid) DO UPDATE SET kind = EXCLUDED.kind, due_at = EXCLUDED.due_at,
            requeries = 0
        """,
    "dequeue": "DELETE FROM execution_queue WHERE aggregate_uuid = ANY(%b::uuid[])",
    "add_dead_letter": """
        INSERT INTO dead_letters (aggregate_uuid, reference, attempts, last_error,
            dead_lettered_at, target)
        SELECT * FROM unnest(%b::uuid[], %b::text[], %b::int[], %b::text[],
            %b::timestamptz[], %b::text[])
        ON CONFLICT (aggregate_uuid) DO UPDATE SET attempts = EXCLUDED.attempts,
            last_error = EXCLUDED.last_error, dead_lettered_at = EXCLUDED.dead_lettered_at
        """,
    "remove_dead_letter": "DELETE FROM dead_letters WHERE aggregate_uuid = ANY(%b::uuid[])",
}


class QueueChanges:
    """The queue and dead-letter changes of one batch of events, written set-wise.

    One statement per kind of change instead of one per event: a batch of a thousand
    outcomes is two DELETEs, not two thousand. The changes of one aggregate keep their order
    (its n-th change goes in the n-th round of statements); changes of different aggregates
    touch different rows, so they commute and share a statement. The effect is exactly that of
    applying the changes one by one in log order.
    """

    def __init__(self) -> None:
        self._rounds: list[dict[str, list[tuple[object, ...]]]] = []
        self._seen: dict[UUID, int] = {}

    def _add(self, change: str, aggregate_uuid: UUID, *values: object) -> None:
        n = self._seen.get(aggregate_uuid, 0)
        self._seen[aggregate_uuid] = n + 1
        if n == len(self._rounds):
            self._rounds.append({})
        self._rounds[n].setdefault(change, []).append((aggregate_uuid, *values))

    def enqueue_new(self, aggregate_uuid: UUID, due_at: datetime) -> None:
        """Due now unless already queued (a Created event seen again changes nothing)."""
        self._add("enqueue_new", aggregate_uuid, due_at)

    def enqueue(self, aggregate_uuid: UUID, kind: str, due_at: datetime) -> None:
        self._add("enqueue", aggregate_uuid, kind, due_at)

    def dequeue(self, aggregate_uuid: UUID) -> None:
        self._add("dequeue", aggregate_uuid)

    def add_dead_letter(
        self,
        aggregate_uuid: UUID,
        reference: str,
        attempts: int,
        last_error: str,
        at: datetime,
        target: str = CHARGE,
    ) -> None:
        self._add("add_dead_letter", aggregate_uuid, reference, attempts, last_error, at, target)

    def remove_dead_letter(self, aggregate_uuid: UUID) -> None:
        self._add("remove_dead_letter", aggregate_uuid)

    def write(self, conn: Connection) -> None:
        """Every change, in rounds, inside the caller's transaction."""
        for changes in self._rounds:
            for change, rows in changes.items():
                conn.execute(_WRITES[change], [list(column) for column in zip(*rows, strict=True)])
