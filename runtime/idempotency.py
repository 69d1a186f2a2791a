"""Idempotency-Key for POSTs that create things (IETF httpapi draft semantics, DESIGN §3).

A key is claimed before the command runs and completed with the exact response bytes after.
Only successful responses are kept: a refused request releases its key so it can be corrected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import Enum
from typing import Any, Generic, TypeVar

import msgspec
from psycopg import Cursor
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from payments.domain.group_commit import AtPosition, EventKey

T = TypeVar("T")

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS idempotency_keys (
        scope text NOT NULL,
        key text NOT NULL,
        request_fingerprint text NOT NULL,
        state text NOT NULL CHECK (state IN ('in_flight', 'done')),
        lease_until timestamptz NOT NULL,
        response_status integer,
        response_body bytea,
        response_headers jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        PRIMARY KEY (scope, key)
    )
    """,
    "CREATE INDEX IF NOT EXISTS idempotency_keys_expires_at ON idempotency_keys (expires_at)",
]

# Keys are a cache of answers, not the book of record: their commits need not wait for the
# WAL flush. A crash may lose the last moment's keys; a retry then runs the command again,
# which the business ids make idempotent (ADR 0002). The event store commits synchronously.
RELAXED_COMMIT = "SET LOCAL synchronous_commit TO OFF"

# A claim older than this belongs to a process that died mid-request: another may take it.
IN_FLIGHT_LEASE = timedelta(seconds=60)
MAX_KEY_LENGTH = 255


class ClaimOutcome(Enum):
    CLAIMED = "claimed"
    REPLAY = "replay"
    IN_FLIGHT = "in_flight"
    MISMATCH = "mismatch"


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: ClaimOutcome
    stored: StoredResponse | None = None


def _json(headers: Mapping[str, str]) -> str:
    """An answer's headers as JSON text, which the statement casts to jsonb: sent in a binary
    array of text, they are adapted at a fraction of the cost of psycopg's `Jsonb` values,
    which it adapts in Python one by one (ADR 0018 amendment 16)."""
    return msgspec.json.encode(headers).decode()


def valid_key(key: str) -> bool:
    return 0 < len(key) <= MAX_KEY_LENGTH and key.isascii() and key.isprintable()


class IdempotencyStore:
    def __init__(self, pool: ConnectionPool, ttl: timedelta) -> None:
        self.pool = pool
        self.ttl = ttl

    def claim(self, scope: str, key: str, fingerprint: str) -> Claim:
        """Claim key for a new request, or say why not (replay, in flight, other body)."""
        # Pipelined: BEGIN, SET and INSERT go in one round trip, COMMIT in a second.
        with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            conn.execute(RELAXED_COMMIT)
            inserted = conn.execute(
                """
                INSERT INTO idempotency_keys
                    (scope, key, request_fingerprint, state, lease_until, expires_at)
                VALUES (%s, %s, %s, 'in_flight', now() + %s, now() + %s)
                ON CONFLICT (scope, key) DO NOTHING
                RETURNING 1
                """,
                (scope, key, fingerprint, IN_FLIGHT_LEASE, self.ttl),
            ).fetchone()
            if inserted:
                return Claim(ClaimOutcome.CLAIMED)
            row = conn.execute(
                """
                SELECT request_fingerprint, state, lease_until < now(), expires_at < now(),
                       response_status, response_body, response_headers
                FROM idempotency_keys WHERE scope = %s AND key = %s FOR UPDATE
                """,
                (scope, key),
            ).fetchone()
            assert row is not None  # the conflicting row exists and rows are never deleted here
            stored_fp, state, lease_over, expired, status, body, headers = row
            if expired or (state == "in_flight" and lease_over and stored_fp == fingerprint):
                conn.execute(
                    """
                    UPDATE idempotency_keys SET request_fingerprint = %s, state = 'in_flight',
                        lease_until = now() + %s, expires_at = now() + %s, created_at = now(),
                        response_status = NULL, response_body = NULL, response_headers = NULL
                    WHERE scope = %s AND key = %s
                    """,
                    (fingerprint, IN_FLIGHT_LEASE, self.ttl, scope, key),
                )
                return Claim(ClaimOutcome.CLAIMED)
            if stored_fp != fingerprint:
                return Claim(ClaimOutcome.MISMATCH)
            if state == "in_flight":
                return Claim(ClaimOutcome.IN_FLIGHT)
            return Claim(ClaimOutcome.REPLAY, StoredResponse(status, bytes(body), dict(headers)))

    def complete(self, scope: str, key: str, response: StoredResponse) -> None:
        # Pipelined: the whole transaction in one round trip.
        with self.pool.connection() as conn, conn.pipeline(), conn.transaction():
            conn.execute(RELAXED_COMMIT)
            conn.execute(
                """
                UPDATE idempotency_keys SET state = 'done', response_status = %s,
                    response_body = %s, response_headers = %s
                WHERE scope = %s AND key = %s
                """,
                (response.status, response.body, Jsonb(response.headers), scope, key),
            )

    def release(self, scope: str, key: str) -> None:
        """Forget an in-flight claim whose request was refused or failed."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                "DELETE FROM idempotency_keys "
                "WHERE scope = %s AND key = %s AND state = 'in_flight'",
                (scope, key),
            )

    def purge_expired(self) -> int:
        with self.pool.connection() as conn, conn.transaction():
            cursor = conn.execute("DELETE FROM idempotency_keys WHERE expires_at < now()")
            return cursor.rowcount


Answers = Sequence["AnswerWithEvents[Any]"]


class AnswerWithEvents(AtPosition, Generic[T]):
    """A claimed key's answer, stored by the event store in the transaction of the events its
    command saves (ADR 0002, amendment): a crash leaves both or neither, and the request costs
    no transaction of its own to complete. The answer names the save's position, known only
    once the events are inserted: `render(subject, position)` is called then, with what the
    command told it it was saving (`answering`, e.g. a checkout's placement)."""

    __slots__ = ("key", "render", "scope", "subject")

    def __init__(self, scope: str, key: str, render: Callable[[T, int], StoredResponse]) -> None:
        super().__init__()
        self.scope = scope
        self.key = key
        self.render = render
        self.subject: T | None = None

    def answering(self, subject: T) -> None:
        self.subject = subject

    @classmethod
    def write_all(cls, cursor: Cursor[Any], rows: Sequence[AnswerWithEvents[Any]]) -> None:
        """Nothing before the events: the answer needs their position."""

    @classmethod
    def write_after(
        cls,
        cursor: Cursor[Any],
        rows: Sequence[AnswerWithEvents[Any]],
        positions: Mapping[EventKey, int],
    ) -> None:
        """Store every row's answer, in one statement, in the order of their keys (the
        events' table lock, held here, serialises such writes anyway)."""
        ordered = sorted(rows, key=lambda row: (row.scope, row.key))
        answers = []
        for row in ordered:
            assert row.subject is not None
            assert row.last_event is not None
            answers.append(row.render(row.subject, positions[row.last_event]))
        cls.store(cursor, ordered, answers)

    @classmethod
    def store(cls, cursor: Cursor[Any], rows: Answers, answers: list[StoredResponse]) -> None:
        """Complete each claimed key with its answer."""
        cursor.execute(
            """
            UPDATE idempotency_keys k SET state = 'done', response_status = a.status,
                response_body = a.body, response_headers = a.headers::jsonb
            FROM unnest(%b::text[], %b::text[], %b::int[], %b::bytea[], %b::text[])
                AS a (scope, key, status, body, headers)
            WHERE k.scope = a.scope AND k.key = a.key
            """,
            (
                [row.scope for row in rows],
                [row.key for row in rows],
                [answer.status for answer in answers],
                [answer.body for answer in answers],
                [_json(answer.headers) for answer in answers],
            ),
        )


class NewAnswerWithEvents(AnswerWithEvents[T]):
    """A key not stored yet, claimed and answered at once by the save of its command's events
    (ADR 0002, amendment 2): the request costs no claim of its own. The row is inserted
    `done`, with its answer, in the events' transaction; a key stored already (answered, in
    flight, or expired) fails that transaction on the primary key like a conflicting event,
    so the save writes nothing and its caller falls back to claiming the key first."""

    __slots__ = ("fingerprint", "ttl")

    def __init__(
        self,
        scope: str,
        key: str,
        render: Callable[[T, int], StoredResponse],
        fingerprint: str,
        ttl: timedelta,
    ) -> None:
        super().__init__(scope, key, render)
        self.fingerprint = fingerprint
        self.ttl = ttl

    @classmethod
    def store(cls, cursor: Cursor[Any], rows: Answers, answers: list[StoredResponse]) -> None:
        """Insert each key, answered."""
        new = [row for row in rows if isinstance(row, NewAnswerWithEvents)]
        assert len(new) == len(rows)
        cursor.execute(
            """
            INSERT INTO idempotency_keys (scope, key, request_fingerprint, state, lease_until,
                response_status, response_body, response_headers, expires_at)
            SELECT a.scope, a.key, a.fingerprint, 'done', now(), a.status, a.body,
                a.headers::jsonb, now() + a.ttl
            FROM unnest(%b::text[], %b::text[], %b::text[], %b::int[], %b::bytea[],
                %b::text[], %b::interval[])
                AS a (scope, key, fingerprint, status, body, headers, ttl)
            """,
            (
                [row.scope for row in new],
                [row.key for row in new],
                [row.fingerprint for row in new],
                [answer.status for answer in answers],
                [answer.body for answer in answers],
                [_json(answer.headers) for answer in answers],
                [row.ttl for row in new],
            ),
        )
