"""`payouts`: each payout's seller and status, for listing (GET /payouts, the console's
Payouts page): newest first by the position of its `Created` event, keyset paged, filtered by
seller and status. A row holds what the list filters and orders by; the answer itself is
the payout read from its events, as GET /payouts/{id} reads it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from payments.domain.payout import Payout, PayoutStatus
from payments.projections.core import TrackedEvent
from payments.projections.pg import Connection, PostgresView, fetch_all, qualify, tracking_ddl

PAYOUTS_NAME = "payouts"
# The events that change what a row holds, and the status each leaves the payout in.
STATUS_AFTER: dict[type[Any], PayoutStatus] = {
    Payout.ExecutionStarted: PayoutStatus.EXECUTING,
    Payout.Paid: PayoutStatus.PAID,
    Payout.Failed: PayoutStatus.FAILED,
    Payout.Returned: PayoutStatus.RETURNED,
}


@dataclass(frozen=True, slots=True)
class PayoutFilter:
    seller_account: str | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class PayoutRow:
    payout_id: str
    position: int  # of its Created event: the list's order and keyset


class PayoutsView(PostgresView):
    name = PAYOUTS_NAME
    topics: frozenset[str] | None = frozenset(
        [str(Payout.Created.TOPIC), *(str(cls.TOPIC) for cls in STATUS_AFTER)]
    )
    tables = ("payouts", "payouts_tracking")

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        table = qualify(schema, "payouts")
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {table} (
                payout_uuid uuid PRIMARY KEY,
                payout_id text NOT NULL UNIQUE,
                seller_account text NOT NULL,
                status text NOT NULL,
                position bigint NOT NULL UNIQUE
            )
            """,
            f"CREATE INDEX IF NOT EXISTS payouts_seller ON {table} (seller_account, position)",
            f"CREATE INDEX IF NOT EXISTS payouts_status ON {table} (status, position)",
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        table = self.t("payouts")
        for tracked in events:
            e = tracked.event
            if isinstance(e, Payout.Created):
                conn.execute(
                    f"INSERT INTO {table} (payout_uuid, payout_id, seller_account, status, "
                    "position) VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (
                        e.originator_id,
                        e.payout_id,
                        e.seller_account,
                        PayoutStatus.REQUESTED.value,
                        tracked.notification_id,
                    ),
                )
            elif (status := STATUS_AFTER.get(type(e))) is not None:
                conn.execute(
                    f"UPDATE {table} SET status = %s WHERE payout_uuid = %s",
                    (status.value, e.originator_id),
                )

    def newest(self, where: PayoutFilter, limit: int, before: int | None) -> list[PayoutRow]:
        """Payouts created before position `before` (all: None), newest first."""
        rows = fetch_all(
            self.pool,
            f"SELECT payout_id, position FROM {self.t('payouts')} "
            "WHERE (%s::bigint IS NULL OR position < %s) "
            "AND (%s::text IS NULL OR seller_account = %s) "
            "AND (%s::text IS NULL OR status = %s) ORDER BY position DESC LIMIT %s",
            (
                before,
                before,
                where.seller_account,
                where.seller_account,
                where.status,
                where.status,
                limit,
            ),
        )
        return [PayoutRow(str(row[0]), int(row[1])) for row in rows]
