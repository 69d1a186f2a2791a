"""A tamper-evident event log: a SHA-256 hash chain over the notification log, sealed with HMAC.

link(n) = SHA-256(link(n-1) || canonical bytes of event n), link(0) = 32 zero bytes, where
the canonical bytes are position, originator id, version, topic and state, each length-
prefixed. Every link is kept (audit_chain) so that `check` can name the first position that
breaks; each seal (audit_seals) records a range, its chain head, the time and an HMAC over
them under PAYMENTS_AUDIT_KEY. Sealing continues from the last seal; it never rehashes history.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from psycopg import Connection, sql
from psycopg_pool import ConnectionPool

from payments.projections.event_store import EVENTS, count_after, stored_rows
from payments.projections.locks import SEAL_CLASS

GENESIS = bytes(32)
PAGE = 5000

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS audit_chain (
        position bigint PRIMARY KEY,
        link bytea NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS audit_seals (
        seal_id bigint PRIMARY KEY,
        from_position bigint NOT NULL,
        to_position bigint NOT NULL,
        event_count bigint NOT NULL,
        chain_head bytea NOT NULL,
        sealed_at timestamptz NOT NULL,
        signature bytea NOT NULL
    )
    """,
]


# The events and their stored links of one range, side by side: a position missing on either
# side shows as NULLs on that side.
CHAIN_SIDE_BY_SIDE = sql.SQL(
    """
    SELECT coalesce(e.notification_id, c.position) AS pos, e.originator_id,
           e.originator_version, e.topic, e.state, c.link
    FROM (SELECT * FROM {events}
          WHERE notification_id > %(last)s AND notification_id <= %(end)s) e
    FULL OUTER JOIN (SELECT * FROM audit_chain
          WHERE position > %(last)s AND position <= %(end)s) c
      ON e.notification_id = c.position
    ORDER BY pos LIMIT %(page)s
    """
).format(events=EVENTS)


class AuditKeyMissing(RuntimeError):
    """Sealing and checking need PAYMENTS_AUDIT_KEY."""


@dataclass(frozen=True, slots=True)
class Seal:
    seal_id: int
    from_position: int
    to_position: int
    event_count: int
    chain_head: bytes
    sealed_at: datetime
    signature: bytes


@dataclass(frozen=True, slots=True)
class CheckResult:
    ok: bool
    seals_checked: int
    events_checked: int
    first_broken_position: int | None = None
    reason: str | None = None


def canonical_bytes(
    position: int, originator_id: UUID, version: int, topic: str, state: bytes
) -> bytes:
    topic_bytes = topic.encode()
    return b"".join(
        (
            struct.pack(">q", position),
            originator_id.bytes,
            struct.pack(">q", version),
            struct.pack(">I", len(topic_bytes)),
            topic_bytes,
            struct.pack(">I", len(state)),
            state,
        )
    )


def next_link(previous: bytes, canonical: bytes) -> bytes:
    return hashlib.sha256(previous + canonical).digest()


def seal_signature(
    key: bytes, seal_id: int, start: int, end: int, count: int, head: bytes, sealed_at: datetime
) -> bytes:
    # UTC as written (datetime.now(UTC)): read back, timestamptz comes in the session's zone
    when = sealed_at.astimezone(UTC).isoformat()
    message = f"{seal_id}|{start}|{end}|{count}|{head.hex()}|{when}".encode()
    return hmac.new(key, message, hashlib.sha256).digest()


def _events(conn: Connection, after: int, upto: int | None) -> Iterator[tuple[int, bytes]]:
    """(position, canonical bytes) of stored events after a position, in pages."""
    position = after
    while True:
        rows = stored_rows(conn, position, upto, PAGE)
        if not rows:
            return
        for pos, originator_id, version, topic, state in rows:
            yield pos, canonical_bytes(pos, originator_id, version, topic, state)
        position = rows[-1][0]


def _seals(conn: Connection) -> list[Seal]:
    rows = conn.execute(
        "SELECT seal_id, from_position, to_position, event_count, chain_head, sealed_at, "
        "signature FROM audit_seals ORDER BY seal_id"
    ).fetchall()
    return [Seal(r[0], r[1], r[2], r[3], bytes(r[4]), r[5], bytes(r[6])) for r in rows]


def require_audit_key(key: str | None) -> bytes:
    if not key:
        raise AuditKeyMissing(
            "PAYMENTS_AUDIT_KEY is not set: sealing and checking sign with it. Set it to a long "
            "random secret kept outside the database (e.g. `openssl rand -hex 32`)."
        )
    return key.encode()


class EventLogSeal:
    def __init__(self, pool: ConnectionPool, key: str | None) -> None:
        self.pool = pool
        self.key = require_audit_key(key)

    def seal(self, now: datetime | None = None) -> Seal | None:
        """Extend the chain over events not yet sealed and record a seal; None if none new."""
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (SEAL_CLASS,))
            seals = _seals(conn)
            last = seals[-1] if seals else None
            link = last.chain_head if last else GENESIS
            after = last.to_position if last else 0
            first = None
            count = 0
            position = after
            with conn.cursor() as cursor:
                links: list[tuple[int, bytes]] = []
                for position, canonical in _events(conn, after, None):
                    link = next_link(link, canonical)
                    first = position if first is None else first
                    count += 1
                    links.append((position, link))
                    if len(links) >= PAGE:
                        cursor.executemany("INSERT INTO audit_chain VALUES (%s, %s)", links)
                        links.clear()
                if links:
                    cursor.executemany("INSERT INTO audit_chain VALUES (%s, %s)", links)
            if first is None:
                return None
            sealed_at = (now or datetime.now(UTC)).replace(microsecond=0)
            seal_id = (last.seal_id + 1) if last else 1
            seal = Seal(
                seal_id,
                first,
                position,
                count,
                link,
                sealed_at,
                seal_signature(self.key, seal_id, first, position, count, link, sealed_at),
            )
            conn.execute(
                "INSERT INTO audit_seals VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (
                    seal.seal_id,
                    seal.from_position,
                    seal.to_position,
                    seal.event_count,
                    seal.chain_head,
                    seal.sealed_at,
                    seal.signature,
                ),
            )
            return seal

    def check(self) -> CheckResult:
        """Recompute the chain over sealed history; name the first position that breaks."""
        with self.pool.connection() as conn, conn.transaction():
            link, after, events = GENESIS, 0, 0
            seals = _seals(conn)
            for done, seal in enumerate(seals):
                broken = self._check_seal_record(seal, after)
                if broken is None:
                    broken, link, count = _check_range(conn, seal, link)
                    events += count
                if broken is not None:
                    position, reason = broken
                    return CheckResult(False, done, events, position, reason)
                after = seal.to_position
            return CheckResult(True, len(seals), events)

    def _check_seal_record(self, seal: Seal, after: int) -> tuple[int, str] | None:
        expected = seal_signature(
            self.key, seal.seal_id, seal.from_position, seal.to_position,
            seal.event_count, seal.chain_head, seal.sealed_at,
        )  # fmt: skip
        if not hmac.compare_digest(expected, seal.signature):
            return seal.from_position, f"seal {seal.seal_id} was altered: signature mismatch"
        if seal.from_position <= after:
            return seal.from_position, f"seal {seal.seal_id} overlaps the previous seal"
        return None

    def head(self) -> Seal | None:
        with self.pool.connection() as conn:
            seals = _seals(conn)
        return seals[-1] if seals else None

    def signs_like_this_key(self) -> bool:
        """Whether the last seal checks with this key (True when nothing is sealed yet): a
        database restored beside another audit key fails every seal check."""
        head = self.head()
        return head is None or self._check_seal_record(head, head.from_position - 1) is None

    def unsealed_events(self) -> int:
        head = self.head()
        with self.pool.connection() as conn:
            return count_after(conn, head.to_position if head else 0)


def _check_range(
    conn: Connection, seal: Seal, link: bytes
) -> tuple[tuple[int, str] | None, bytes, int]:
    """Walk the events and the stored links of one seal side by side, in position order."""
    count, last = 0, seal.from_position - 1
    while True:
        rows = conn.execute(
            CHAIN_SIDE_BY_SIDE, {"last": last, "end": seal.to_position, "page": PAGE}
        ).fetchall()
        if not rows:
            break
        for position, originator_id, version, topic, state, stored in rows:
            if stored is None:
                return (
                    (position, f"event at position {position} was not in the sealed log"),
                    link,
                    count,
                )
            if originator_id is None:
                return (position, f"event at position {position} is missing"), link, count
            link = next_link(
                link, canonical_bytes(position, originator_id, version, topic, bytes(state))
            )
            if bytes(stored) != link:
                return (
                    (position, f"event at position {position} does not match its sealed hash"),
                    link,
                    count,
                )
            count += 1
        last = rows[-1][0]
    if count != seal.event_count or link != seal.chain_head:
        return (seal.to_position, f"seal {seal.seal_id}: chain head does not match"), link, count
    return None, link, count
