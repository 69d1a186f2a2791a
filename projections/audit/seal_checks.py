"""What the seals say now, and the last check of the chain: who checked, when, the answer.

A check (`EventLogSeal.check`) recomputes the chain over sealed history; recording each one
(audit_seal_checks) lets the console show the last one and who ran it, without rerunning it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from psycopg_pool import ConnectionPool

from payments.projections.audit.seal import CheckResult, EventLogSeal, Seal
from payments.projections.pg import fetch_one

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS audit_seal_checks (
        checked_at timestamptz NOT NULL,
        checked_by text NOT NULL,
        ok boolean NOT NULL,
        seals_checked bigint NOT NULL,
        events_checked bigint NOT NULL,
        first_broken_position bigint,
        reason text,
        PRIMARY KEY (checked_at, checked_by)
    )
    """,
]


@dataclass(frozen=True, slots=True)
class SealCheck:
    checked_at: datetime
    checked_by: str  # an API key id, or `cli`
    result: CheckResult


@dataclass(frozen=True, slots=True)
class SealState:
    """The seals as stored: how many, over how many events, the last one, what is not sealed."""

    seals: int
    events_sealed: int
    head: Seal | None
    unsealed_events: int
    last_check: SealCheck | None


def check_and_record(sealer: EventLogSeal, checked_by: str) -> SealCheck:
    """Check the chain now and keep the answer as the last check."""
    result = sealer.check()
    check = SealCheck(datetime.now(UTC), checked_by, result)
    with sealer.pool.connection() as conn:
        conn.execute(
            "INSERT INTO audit_seal_checks VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (check.checked_at, checked_by, result.ok, result.seals_checked,
             result.events_checked, result.first_broken_position, result.reason),
        )  # fmt: skip
    return check


def last_check(pool: ConnectionPool) -> SealCheck | None:
    row = fetch_one(
        pool,
        "SELECT checked_at, checked_by, ok, seals_checked, events_checked, "
        "first_broken_position, reason FROM audit_seal_checks "
        "ORDER BY checked_at DESC LIMIT 1",
    )
    return SealCheck(row[0], row[1], CheckResult(*row[2:])) if row else None


def seal_state(sealer: EventLogSeal) -> SealState:
    row = fetch_one(
        sealer.pool,
        "SELECT count(*), coalesce(sum(event_count), 0) FROM audit_seals",
    )
    assert row is not None, "an aggregate always answers one row"
    return SealState(
        int(row[0]), int(row[1]), sealer.head(), sealer.unsealed_events(), last_check(sealer.pool)
    )
