"""Which days are reconciled (DESIGN §8: no day skipped).

One row per day the daily reconciliation tried: reconciled (with its run), or failed (and
why: no file from the PSP, a file we cannot read, an error). A day due but never tried is
pending. `payments reconcile status`, `GET /reconciliations/days` and the
`payments_reconciliation_days_behind` metric read it; the backfill retries every day of the
look-back window that is not reconciled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from psycopg_pool import ConnectionPool

from payments.projections.pg import fetch_all

RECONCILED, FAILED, PENDING = "reconciled", "failed", "pending"

SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS reconciliation_days (
        day date PRIMARY KEY,
        state text NOT NULL CHECK (state IN ('reconciled', 'failed')),
        run_id text,
        detail text NOT NULL DEFAULT '',
        attempts integer NOT NULL DEFAULT 1,
        first_attempt_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
]


@dataclass(frozen=True, slots=True)
class DayStatus:
    day: date
    state: str  # reconciled, failed or pending
    run_id: str | None = None
    detail: str = ""
    attempts: int = 0
    updated_at: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "day": self.day.isoformat(),
            "state": self.state,
            "run_id": self.run_id,
            "detail": self.detail,
            "attempts": self.attempts,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


class DayBook:
    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool

    def reconciled(self, day: date, run_id: str, detail: str) -> None:
        self._record(day, RECONCILED, run_id, detail)

    def failed(self, day: date, why: str) -> None:
        self._record(day, FAILED, None, why)

    def _record(self, day: date, state: str, run_id: str | None, detail: str) -> None:
        with self.pool.connection() as conn, conn.transaction():
            conn.execute(
                """
                INSERT INTO reconciliation_days (day, state, run_id, detail)
                VALUES (%s, %s, %s, %s)
                ON CONFLICT (day) DO UPDATE SET
                    state = EXCLUDED.state,
                    run_id = COALESCE(EXCLUDED.run_id, reconciliation_days.run_id),
                    detail = EXCLUDED.detail,
                    attempts = reconciliation_days.attempts + 1,
                    updated_at = now()
                """,
                (day, state, run_id, detail[:2000]),
            )

    def recorded(self, first: date, last: date) -> dict[date, DayStatus]:
        rows = fetch_all(
            self.pool,
            "SELECT day, state, run_id, detail, attempts, updated_at "
            "FROM reconciliation_days WHERE day BETWEEN %s AND %s",
            (first, last),
        )
        return {row[0]: DayStatus(*row) for row in rows}

    def statuses(self, first: date, last: date) -> list[DayStatus]:
        """Every day from `first` to `last`, newest first; a day never tried is pending."""
        recorded = self.recorded(first, last)
        days = (last - timedelta(days=offset) for offset in range((last - first).days + 1))
        return [recorded.get(day) or DayStatus(day, PENDING) for day in days]

    def due(self, first: date, last: date) -> list[date]:
        """The days from `first` to `last` not reconciled yet, oldest first."""
        return sorted(
            status.day for status in self.statuses(first, last) if status.state != RECONCILED
        )
