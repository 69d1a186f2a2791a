"""`disputes`: each dispute's order, seller, status and evidence deadline, for listing
(GET /disputes, the console's Disputes page): newest first by the position of its `Opened`
event, or soonest deadline first, keyset paged, filtered by status, seller, order and
deadline. A row holds what the list filters and orders by; the answer itself is the dispute
read from its events, as GET /payments/{id}/dispute reads it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from payments.domain.dispute import Dispute, DisputeStatus
from payments.projections.core import TrackedEvent
from payments.projections.pg import Connection, PostgresView, fetch_all, qualify, tracking_ddl

NAME = "disputes"
# The events that change a row's status after Opened, and the status each leaves.
STATUS_AFTER: dict[type[Any], DisputeStatus] = {
    Dispute.EvidenceSubmitted: DisputeStatus.UNDER_REVIEW,
    Dispute.Won: DisputeStatus.WON,
    Dispute.Lost: DisputeStatus.LOST,
    Dispute.Reopened: DisputeStatus.LOST,
}


class DisputeOrder(Enum):
    NEWEST = "newest"  # the dispute opened last first
    DUE = "due"  # the soonest evidence deadline first


@dataclass(frozen=True, slots=True)
class DisputeFilter:
    status: str | None = None
    seller_account: str | None = None
    payment_order_id: str | None = None
    due_before: datetime | None = None  # evidence due strictly before this instant


@dataclass(frozen=True, slots=True)
class DisputeRow:
    psp_dispute_id: str
    evidence_due_by: datetime
    position: int  # of its Opened event: the newest-first order and every keyset's tie-break


_AFTER = {
    DisputeOrder.NEWEST: "(%(position)s::bigint IS NULL OR position < %(position)s)",
    DisputeOrder.DUE: "(%(position)s::bigint IS NULL "
    "OR (evidence_due_by, position) > (%(due)s::timestamptz, %(position)s))",
}
_ORDER_BY = {
    DisputeOrder.NEWEST: "position DESC",
    DisputeOrder.DUE: "evidence_due_by, position",
}


class DisputesView(PostgresView):
    name = NAME
    topics: frozenset[str] | None = frozenset(
        [str(Dispute.Opened.TOPIC), *(str(cls.TOPIC) for cls in STATUS_AFTER)]
    )
    tables = ("disputes", "disputes_tracking")

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        table = qualify(schema, "disputes")
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {table} (
                dispute_uuid uuid PRIMARY KEY,
                psp_dispute_id text NOT NULL UNIQUE,
                payment_order_id text NOT NULL,
                seller_account text NOT NULL,
                status text NOT NULL,
                evidence_due_by timestamptz NOT NULL,
                position bigint NOT NULL UNIQUE
            )
            """,
            f"CREATE INDEX IF NOT EXISTS disputes_due ON {table} (evidence_due_by, position)",
            f"CREATE INDEX IF NOT EXISTS disputes_status_due ON {table} "
            "(status, evidence_due_by, position)",
            f"CREATE INDEX IF NOT EXISTS disputes_seller ON {table} (seller_account, position)",
            f"CREATE INDEX IF NOT EXISTS disputes_order ON {table} (payment_order_id)",
            *tracking_ddl(schema, cls.tables[-1]),
        ]

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        table = self.t("disputes")
        for tracked in events:
            e = tracked.event
            if isinstance(e, Dispute.Opened):
                conn.execute(
                    f"INSERT INTO {table} (dispute_uuid, psp_dispute_id, payment_order_id, "
                    "seller_account, status, evidence_due_by, position) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (
                        e.originator_id,
                        e.psp_dispute_id,
                        e.payment_order_id,
                        e.seller_account,
                        DisputeStatus.NEEDS_RESPONSE.value,
                        e.evidence_due_by,
                        tracked.notification_id,
                    ),
                )
            elif (status := STATUS_AFTER.get(type(e))) is not None:
                conn.execute(
                    f"UPDATE {table} SET status = %s WHERE dispute_uuid = %s",
                    (status.value, e.originator_id),
                )

    def listed(
        self, where: DisputeFilter, order: DisputeOrder, limit: int, after: DisputeRow | None
    ) -> list[DisputeRow]:
        """Up to `limit` disputes the filter wants in `order`, from the one after `after`."""
        params: dict[str, Any] = {
            "position": None if after is None else after.position,
            "due": None if after is None else after.evidence_due_by,
            "status": where.status,
            "seller": where.seller_account,
            "order_id": where.payment_order_id,
            "due_before": where.due_before,
            "limit": limit,
        }
        rows = fetch_all(
            self.pool,
            f"SELECT psp_dispute_id, evidence_due_by, position FROM {self.t('disputes')} "
            f"WHERE {_AFTER[order]} "
            "AND (%(status)s::text IS NULL OR status = %(status)s) "
            "AND (%(seller)s::text IS NULL OR seller_account = %(seller)s) "
            "AND (%(order_id)s::text IS NULL OR payment_order_id = %(order_id)s) "
            "AND (%(due_before)s::timestamptz IS NULL OR evidence_due_by < %(due_before)s) "
            f"ORDER BY {_ORDER_BY[order]} LIMIT %(limit)s",
            params,
        )
        return [DisputeRow(str(r[0]), r[1], int(r[2])) for r in rows]

    def awaiting_evidence(self) -> tuple[int, datetime | None]:
        """How many disputes await evidence, and the soonest deadline among them (/metrics)."""
        [(count, soonest)] = fetch_all(
            self.pool,
            f"SELECT count(*), min(evidence_due_by) FROM {self.t('disputes')} WHERE status = %s",
            (DisputeStatus.NEEDS_RESPONSE.value,),
        )
        return int(count), soonest
