"""Webhook deliveries: a table the notification feed fills from the log, the sender claims.

One row per (event, endpoint), made in the feed's transaction, so a delivery is neither lost
nor made twice. The body is stored as the bytes that are sent (and signed), so every attempt
and every redelivery sends the same body. Senders claim due rows with FOR UPDATE SKIP LOCKED
and a lease, like the executor's queue: two senders never post the same delivery at once,
and a dead sender's lease simply expires (then the delivery is posted again: at least once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from psycopg_pool import ConnectionPool

from payments.projections.pg import Connection, fetch_all, fetch_one

PENDING, DELIVERED, FAILED, CANCELLED = "pending", "delivered", "failed", "cancelled"
STATUSES = (PENDING, DELIVERED, FAILED, CANCELLED)

SCHEMA = [
    f"""
    CREATE TABLE IF NOT EXISTS webhook_deliveries (
        delivery_id text PRIMARY KEY,
        endpoint_id text NOT NULL,
        event_id text NOT NULL,
        event_type text NOT NULL,
        position bigint NOT NULL,
        body bytea NOT NULL,
        status text NOT NULL CHECK (status IN ({", ".join(f"'{s}'" for s in STATUSES)})),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL,
        lease_until timestamptz,
        last_status_code integer,
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        pending_since timestamptz NOT NULL DEFAULT now(),
        last_attempt_at timestamptz,
        delivered_at timestamptz
    )
    """,
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (next_attempt_at) "
    "WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_waiting ON webhook_deliveries (pending_since) "
    "WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_failed ON webhook_deliveries (endpoint_id) "
    "WHERE status = 'failed'",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_made ON webhook_deliveries (created_at)",
    "CREATE INDEX IF NOT EXISTS webhook_deliveries_of_endpoint "
    "ON webhook_deliveries (endpoint_id, position DESC, delivery_id)",
]
_COLUMNS = (
    "d.delivery_id, d.endpoint_id, d.event_id, d.event_type, d.position, d.status, d.attempts, "
    "d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.last_attempt_at, "
    "d.delivered_at"
)

# A delivery sent again (redeliver, recover): pending, due now, a full schedule of attempts;
# the last attempt's answer stays until the next one.
_AGAIN = (
    "status = 'pending', attempts = 0, next_attempt_at = now(), lease_until = NULL, "
    "pending_since = now(), delivered_at = NULL"
)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt's outcome: delivered (no error), or failed with `error` and due again
    after `retry_in` (None: failed for good)."""

    delivery_id: str
    status_code: int | None
    error: str | None
    retry_in: timedelta | None


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_pending: datetime | None  # since when the longest-waiting delivery waits
    failed: int


@dataclass(frozen=True, slots=True)
class NewDelivery:
    delivery_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    position: int
    body: bytes


@dataclass(frozen=True, slots=True)
class Delivery:
    """A delivery as an operator or merchant sees it (never the body's secret: it has none)."""

    delivery_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    position: int
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A claimed delivery with what sending it needs."""

    delivery_id: str
    endpoint_id: str
    event_id: str
    event_type: str
    body: bytes
    attempts: int
    url: str
    generation: int
    previous_until: datetime | None


def insert_deliveries(conn: Connection, deliveries: Sequence[NewDelivery]) -> None:
    """In the feed's transaction: each delivery once (a repeat of the batch adds nothing)."""
    if not deliveries:
        return
    conn.execute(
        """
        INSERT INTO webhook_deliveries
            (delivery_id, endpoint_id, event_id, event_type, position, body, status,
             next_attempt_at)
        SELECT d, e, v, t, p, b, 'pending', now()
        FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::bigint[], %s::bytea[])
             AS u(d, e, v, t, p, b)
        ON CONFLICT (delivery_id) DO NOTHING
        """,
        (
            [d.delivery_id for d in deliveries],
            [d.endpoint_id for d in deliveries],
            [d.event_id for d in deliveries],
            [d.event_type for d in deliveries],
            [d.position for d in deliveries],
            [d.body for d in deliveries],
        ),
    )


def cancel_pending(conn: Connection, endpoint_id: str, *, before: int) -> None:
    """In the feed's transaction, when the endpoint is disabled at position `before`: its
    pending deliveries of the events recorded before then."""
    conn.execute(
        "UPDATE webhook_deliveries SET status = 'cancelled', lease_until = NULL "
        "WHERE endpoint_id = %s AND status = 'pending' AND position < %s",
        (endpoint_id, before),
    )


class WebhookDeliveries:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def claim_due(
        self,
        owner_lease: timedelta,
        limit: int,
        *,
        busy: Mapping[str, int] | None = None,
        per_endpoint: int | None = None,
    ) -> list[DueDelivery]:
        """Due pending deliveries of enabled endpoints, earliest due first, leased to the
        caller: at most `limit`, and at most `per_endpoint` to an endpoint counting the
        caller's `busy` ones (its POSTs in flight by endpoint), so that an endpoint with a
        backlog never holds all the caller's slots. (Disabling an endpoint cancels what it
        had pending, in the feed's transaction; the test of `disabled_at` here only says so
        again.)"""
        busy = busy or {}
        share = per_endpoint or limit
        full = [endpoint for endpoint, n in busy.items() if n >= share]
        with self.pool.connection() as conn, conn.transaction():
            rows = conn.execute(
                """
                UPDATE webhook_deliveries d SET lease_until = now() + %(lease)s
                FROM (
                    SELECT delivery_id FROM webhook_deliveries
                    WHERE delivery_id IN (
                        SELECT c.delivery_id FROM (
                            SELECT delivery_id, endpoint_id, row_number() OVER (
                                PARTITION BY endpoint_id ORDER BY next_attempt_at) AS n
                            FROM (
                                SELECT delivery_id, endpoint_id, next_attempt_at
                                FROM webhook_deliveries
                                WHERE status = 'pending' AND next_attempt_at <= now()
                                  AND (lease_until IS NULL OR lease_until < now())
                                  AND endpoint_id <> ALL(%(full)s::text[])
                                ORDER BY next_attempt_at
                                LIMIT %(scan)s
                            ) due
                        ) c
                        LEFT JOIN unnest(%(busy_ids)s::text[], %(busy_n)s::int[])
                            AS b(endpoint_id, n) ON b.endpoint_id = c.endpoint_id
                        WHERE c.n + coalesce(b.n, 0) <= %(share)s
                    )
                    AND status = 'pending' AND next_attempt_at <= now()
                    AND (lease_until IS NULL OR lease_until < now())
                    ORDER BY next_attempt_at
                    LIMIT %(limit)s
                    FOR UPDATE SKIP LOCKED
                ) due, webhook_subscriptions s
                WHERE d.delivery_id = due.delivery_id AND s.endpoint_id = d.endpoint_id
                  AND s.disabled_at IS NULL
                RETURNING d.delivery_id, d.endpoint_id, d.event_id, d.event_type, d.body,
                          d.attempts, s.url, s.generation, s.previous_until
                """,
                {
                    "lease": owner_lease,
                    "limit": limit,
                    "scan": limit * 4,
                    "full": full,
                    "busy_ids": list(busy),
                    "busy_n": list(busy.values()),
                    "share": share,
                },
            ).fetchall()
        return [
            DueDelivery(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], r[6], r[7], r[8]) for r in rows
        ]

    def record_delivered(self, delivery_id: str, status_code: int) -> None:
        self.record([Attempt(delivery_id, status_code, None, None)])

    def record_failure(
        self, delivery_id: str, status_code: int | None, error: str, retry_in: timedelta | None
    ) -> None:
        """A failed attempt: due again after `retry_in`, or failed for good (None)."""
        self.record([Attempt(delivery_id, status_code, error, retry_in)])

    def record(self, attempts: Sequence[Attempt]) -> None:
        """The outcomes of a round of attempts, in one statement; each only while its
        delivery is still pending (an endpoint disabled meanwhile has cancelled it, and
        cancelled stays)."""
        if not attempts:
            return
        with self.pool.connection() as conn:
            conn.execute(
                """
                UPDATE webhook_deliveries d SET
                    status = CASE WHEN u.error IS NULL THEN 'delivered'
                                  WHEN u.retry_s IS NULL THEN 'failed' ELSE 'pending' END,
                    delivered_at = CASE WHEN u.error IS NULL THEN now() ELSE d.delivered_at END,
                    next_attempt_at = CASE WHEN u.error IS NOT NULL AND u.retry_s IS NOT NULL
                        THEN now() + make_interval(secs => u.retry_s)
                        ELSE d.next_attempt_at END,
                    attempts = d.attempts + 1, lease_until = NULL, last_attempt_at = now(),
                    last_status_code = u.code, last_error = u.error
                FROM unnest(%s::text[], %s::int[], %s::text[], %s::float8[])
                     AS u(id, code, error, retry_s)
                WHERE d.delivery_id = u.id AND d.status = 'pending'
                """,
                (
                    [a.delivery_id for a in attempts],
                    [a.status_code for a in attempts],
                    [a.error for a in attempts],
                    [a.retry_in.total_seconds() if a.retry_in else None for a in attempts],
                ),
            )

    def redeliver(self, delivery_id: str) -> Delivery | None:
        """A failed, delivered or cancelled delivery of an enabled endpoint (cancelled: by a
        disabling before an enabling): pending again, due now, with a fresh count of attempts
        (the last attempt's answer stays until the next one). None if there is no such
        delivery."""
        with self.pool.connection() as conn:
            row = conn.execute(
                f"""
                UPDATE webhook_deliveries d SET {_AGAIN}
                FROM webhook_subscriptions s
                WHERE d.delivery_id = %s AND s.endpoint_id = d.endpoint_id
                  AND s.disabled_at IS NULL AND d.status <> 'pending'
                RETURNING {_COLUMNS}
                """,
                (delivery_id,),
            ).fetchone()
        return Delivery(*row) if row else None

    def recover(self, endpoint_id: str, since: datetime) -> int:
        """Every failed or cancelled delivery of an enabled endpoint (cancelled: by a
        disabling before an enabling) made at or after `since`: pending again, due now, with
        a fresh count of attempts, as `redeliver` makes one. How many."""
        with self.pool.connection() as conn:
            return conn.execute(
                f"""
                UPDATE webhook_deliveries d SET {_AGAIN}
                FROM webhook_subscriptions s
                WHERE d.endpoint_id = %s AND d.status IN ('failed', 'cancelled')
                  AND d.created_at >= %s
                  AND s.endpoint_id = d.endpoint_id AND s.disabled_at IS NULL
                """,
                (endpoint_id, since),
            ).rowcount

    def get(self, delivery_id: str) -> Delivery | None:
        row = fetch_one(
            self.pool,
            f"SELECT {_COLUMNS} FROM webhook_deliveries d WHERE d.delivery_id = %s",
            (delivery_id,),
        )
        return Delivery(*row) if row else None

    def body(self, delivery_id: str) -> bytes | None:
        row = fetch_one(
            self.pool, "SELECT body FROM webhook_deliveries WHERE delivery_id = %s", (delivery_id,)
        )
        return bytes(row[0]) if row else None

    def of_endpoint(
        self, endpoint_id: str, status: str | None, before: int | None, limit: int
    ) -> list[Delivery]:
        """The endpoint's deliveries, newest event first; `before` a position to page on."""
        rows = fetch_all(
            self.pool,
            f"SELECT {_COLUMNS} FROM webhook_deliveries d WHERE d.endpoint_id = %s "
            "AND (%s::text IS NULL OR d.status = %s) "
            "AND (%s::bigint IS NULL OR d.position < %s) "
            "ORDER BY d.position DESC, d.delivery_id LIMIT %s",
            (endpoint_id, status, status, before, before, limit),
        )
        return [Delivery(*row) for row in rows]

    def failing_since(self, at_least: timedelta) -> dict[str, datetime]:
        """The enabled endpoints whose deliveries have all failed for `at_least`: each with
        when its oldest failed delivery made after its newest delivered one (by position)
        was made, when that is `at_least` ago. Through the indexes: an endpoint's newest
        delivered delivery, then its failed ones after it."""
        rows = fetch_all(
            self.pool,
            """
            SELECT s.endpoint_id, failed.since
            FROM webhook_subscriptions s
            CROSS JOIN LATERAL (
                SELECT coalesce(max(ok.position), 0) AS position FROM (
                    SELECT position FROM webhook_deliveries
                    WHERE endpoint_id = s.endpoint_id AND status = 'delivered'
                    ORDER BY position DESC LIMIT 1
                ) ok
            ) delivered
            CROSS JOIN LATERAL (
                SELECT min(created_at) AS since FROM webhook_deliveries
                WHERE endpoint_id = s.endpoint_id AND status = 'failed'
                  AND position > delivered.position
            ) failed
            WHERE s.disabled_at IS NULL AND failed.since <= now() - %s
            ORDER BY s.endpoint_id
            """,
            (at_least,),
        )
        return {str(endpoint_id): since for endpoint_id, since in rows}

    def purge(self, older_than: timedelta, chunk: int = 10_000) -> int:
        """Delete the deliveries made and last tried longer ago than `older_than` that no
        longer wait (a pending one stays, however old; one redelivered lately stays its
        time again); how many. In chunks, each its own transaction."""
        purged = 0
        while True:
            with self.pool.connection() as conn:
                deleted = conn.execute(
                    "DELETE FROM webhook_deliveries WHERE delivery_id IN ("
                    " SELECT delivery_id FROM webhook_deliveries"
                    " WHERE created_at < now() - %(age)s AND status <> 'pending'"
                    "   AND coalesce(last_attempt_at, created_at) < now() - %(age)s"
                    " LIMIT %(chunk)s)",
                    {"age": older_than, "chunk": chunk},
                ).rowcount
            purged += deleted
            if deleted < chunk:
                return purged

    def backlog(self) -> Backlog:
        """What waits and what failed for good (for /metrics), through the partial indexes:
        delivered rows, however many, are not read."""
        row = fetch_one(
            self.pool,
            "SELECT (SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'), "
            "(SELECT min(pending_since) FROM webhook_deliveries WHERE status = 'pending'), "
            "(SELECT count(*) FROM webhook_deliveries WHERE status = 'failed')",
        )
        assert row is not None
        return Backlog(pending=int(row[0]), oldest_pending=row[1], failed=int(row[2]))
