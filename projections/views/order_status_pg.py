"""The order status view in PostgreSQL: tables order_status and checkouts."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from payments.domain.payment_order import PaymentOrder
from payments.projections.core import TrackedEvent
from payments.projections.pg import (
    Connection,
    PostgresView,
    fetch_all,
    fetch_one,
    qualify,
    row_values,
    tracking_ddl,
    upsert_rows,
)
from payments.projections.views.order_status import (
    NAME,
    CheckoutStatus,
    OrderFilter,
    OrderKey,
    OrderPage,
    OrderStatus,
    apply_checkout_event,
    apply_order_event,
    is_checkout_event,
    is_order_event,
    order_key,
)

log = logging.getLogger("payments.discrepancies")
ORDER_COLUMNS = tuple(f.name for f in dataclasses.fields(OrderStatus))
CHECKOUT_COLUMNS = tuple(f.name for f in dataclasses.fields(CheckoutStatus))
TABLES = ("order_status", "checkouts", "order_status_tracking")
Row = TypeVar("Row", OrderStatus, CheckoutStatus)


@dataclass(frozen=True, slots=True)
class OrderTotals:
    checkouts: int
    by_status: dict[str, tuple[int, int]]  # status: (orders, amount in minor units)
    by_hour: list[tuple[datetime, int]]  # hour: orders created in it


class PostgresOrderStatusView(PostgresView):
    name = NAME
    topics: frozenset[str] | None = None
    tables = TABLES

    @classmethod
    def ddl(cls, schema: str | None) -> list[str]:
        orders, checkouts = qualify(schema, "order_status"), qualify(schema, "checkouts")
        return [
            f"""
            CREATE TABLE IF NOT EXISTS {orders} (
                order_uuid uuid PRIMARY KEY,
                payment_order_id text COLLATE "C" NOT NULL UNIQUE,
                checkout_id text NOT NULL,
                seller_account text NOT NULL,
                amount_minor bigint NOT NULL,
                currency text NOT NULL,
                status text NOT NULL,
                attempts integer NOT NULL,
                psp_reference text,
                failure_code text,
                failure_reason text,
                last_error text,
                next_attempt_at timestamptz,
                pending_at_psp boolean NOT NULL,
                dead_lettered boolean NOT NULL,
                discrepancies integer NOT NULL,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                version bigint NOT NULL,
                position bigint NOT NULL
            )
            """,
            # ADR 0014: rows of orders recorded before carry no commission and held nothing.
            f"ALTER TABLE {orders} "
            "ADD COLUMN IF NOT EXISTS commission_minor bigint NOT NULL DEFAULT 0, "
            "ADD COLUMN IF NOT EXISTS funds_held boolean NOT NULL DEFAULT false, "
            "ADD COLUMN IF NOT EXISTS funds_released boolean NOT NULL DEFAULT false",
            # Issue #17: the rule holding an order for review; older rows NULL until a rebuild.
            f"ALTER TABLE {orders} ADD COLUMN IF NOT EXISTS risk_review text",
            f"CREATE INDEX IF NOT EXISTS order_status_created ON {orders} "
            "(created_at DESC, payment_order_id DESC)",
            f"CREATE INDEX IF NOT EXISTS order_status_status ON {orders} "
            "(status, created_at DESC, payment_order_id DESC)",
            f"CREATE INDEX IF NOT EXISTS order_status_seller ON {orders} "
            "(seller_account, created_at DESC, payment_order_id DESC)",
            f"CREATE INDEX IF NOT EXISTS order_status_checkout ON {orders} (checkout_id)",
            f"""
            CREATE TABLE IF NOT EXISTS {checkouts} (
                checkout_uuid uuid PRIMARY KEY,
                checkout_id text NOT NULL UNIQUE,
                payment_order_ids text[] NOT NULL,
                is_payment_done boolean NOT NULL,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                version bigint NOT NULL,
                position bigint NOT NULL
            )
            """,
            *tracking_ddl(schema, TABLES[-1]),
        ]

    # --- writes ----------------------------------------------------------------------------

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        order_events = [e for e in events if is_order_event(e)]
        checkout_events = [e for e in events if is_checkout_event(e)]
        if order_events:
            self._fold_orders(conn, order_events)
        if checkout_events:
            self._fold_checkouts(conn, checkout_events)

    def _fold_orders(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        table = self.t("order_status")
        rows = _folded(
            conn, table, ORDER_COLUMNS, events, lambda r: OrderStatus(*r), apply_order_event
        )
        if self.schema is None:  # the live view tells operators once; a rebuild does not
            for tracked in events:
                if isinstance(tracked.event, PaymentOrder.DiscrepancyRecorded):
                    log.warning(
                        "discrepancy: the PSP contradicts a recorded outcome",
                        extra={
                            "payment_order_id": rows[tracked.event.originator_id].payment_order_id,
                            "reported_outcome": tracked.event.reported_outcome,
                            "psp_reference": tracked.event.psp_reference,
                            "detail": tracked.event.detail,
                        },
                    )
        upsert_rows(
            conn,
            table,
            ORDER_COLUMNS,
            "order_uuid",
            [row_values(row, ORDER_COLUMNS) for row in rows.values()],
        )

    def _fold_checkouts(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        table = self.t("checkouts")
        rows = _folded(conn, table, CHECKOUT_COLUMNS, events, _checkout, apply_checkout_event)
        upsert_rows(
            conn,
            table,
            CHECKOUT_COLUMNS,
            "checkout_uuid",
            [row_values(row, CHECKOUT_COLUMNS) for row in rows.values()],
        )

    # --- reads -----------------------------------------------------------------------------

    def count_discrepancies(self) -> int:
        row = fetch_one(
            self.pool,
            f"SELECT count(*) FROM {self.t('order_status')} WHERE discrepancies > 0",
        )
        return int(row[0]) if row else 0

    def with_discrepancies(self, limit: int) -> list[OrderStatus]:
        """Orders whose recorded outcome the PSP contradicted, most recently changed first."""
        rows = fetch_all(
            self.pool,
            f"SELECT {', '.join(ORDER_COLUMNS)} FROM {self.t('order_status')} "
            "WHERE discrepancies > 0 ORDER BY updated_at DESC, payment_order_id LIMIT %s",
            (limit,),
        )
        return [OrderStatus(*row) for row in rows]

    def totals_since(self, since: datetime) -> OrderTotals:
        """Checkouts, and orders by status and by hour, created at or after `since`."""
        orders = self.t("order_status")
        with self.pool.connection() as conn:
            checkouts = conn.execute(
                f"SELECT count(*) FROM {self.t('checkouts')} WHERE created_at >= %s", (since,)
            ).fetchone()
            by_status = conn.execute(
                f"SELECT status, count(*), coalesce(sum(amount_minor), 0) FROM {orders} "
                "WHERE created_at >= %s GROUP BY status ORDER BY status",
                (since,),
            ).fetchall()
            by_hour = conn.execute(
                f"SELECT date_trunc('hour', created_at), count(*) FROM {orders} "
                "WHERE created_at >= %s GROUP BY 1 ORDER BY 1",
                (since,),
            ).fetchall()
        return OrderTotals(
            checkouts=int(checkouts[0]) if checkouts else 0,
            by_status={status: (int(n), int(amount)) for status, n, amount in by_status},
            by_hour=[(hour, int(n)) for hour, n in by_hour],
        )

    def get_order(self, payment_order_id: str) -> OrderStatus | None:
        found = self.get_orders([payment_order_id])
        return found[0] if found else None

    def get_orders(self, payment_order_ids: Sequence[str]) -> list[OrderStatus]:
        records = fetch_all(
            self.pool,
            f"SELECT {', '.join(ORDER_COLUMNS)} FROM {self.t('order_status')} "
            "WHERE payment_order_id = ANY(%b)",
            (list(payment_order_ids),),
        )
        by_id = {r.payment_order_id: r for r in (OrderStatus(*record) for record in records)}
        return [by_id[i] for i in payment_order_ids if i in by_id]

    def get_checkout(self, checkout_id: str) -> CheckoutStatus | None:
        record = fetch_one(
            self.pool,
            f"SELECT {', '.join(CHECKOUT_COLUMNS)} FROM {self.t('checkouts')} "
            "WHERE checkout_id = %s",
            (checkout_id,),
        )
        return _checkout(record) if record else None

    def list_orders(
        self, where: OrderFilter, *, limit: int, after: OrderKey | None = None
    ) -> OrderPage:
        conditions: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", where.status),
            ("seller_account", where.seller_account),
            ("checkout_id", where.checkout_id),
        ):
            if value is not None:
                conditions.append(f"{column} = %s")
                params.append(value)
        if where.created_from is not None:
            conditions.append("created_at >= %s")
            params.append(where.created_from)
        if where.created_to is not None:
            conditions.append("created_at < %s")
            params.append(where.created_to)
        for condition, amount in (
            ("amount_minor >= %s", where.amount_from_minor),
            ("amount_minor <= %s", where.amount_to_minor),
        ):
            if amount is not None:
                conditions.append(condition)
                params.append(amount)
        if after is not None:
            conditions.append("(created_at, payment_order_id) < (%s, %s)")
            params.extend([after.created_at, after.payment_order_id])
        clause = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        records = fetch_all(
            self.pool,
            f"SELECT {', '.join(ORDER_COLUMNS)} FROM {self.t('order_status')} {clause} "
            "ORDER BY created_at DESC, payment_order_id DESC LIMIT %s",
            [*params, limit + 1],
        )
        rows = [OrderStatus(*record) for record in records]
        items = rows[:limit]
        return OrderPage(items, order_key(items[-1]) if len(rows) > limit and items else None)


def _folded(
    conn: Connection,
    table: str,
    columns: Sequence[str],
    events: Sequence[TrackedEvent],
    row_of: Callable[[Sequence[Any]], Row],
    fold: Callable[[Row | None, Any, int], Row],
) -> dict[UUID, Row]:
    """The rows of the batch's aggregates (keyed by the first column, their uuid): each
    stored row, or none, folded with the aggregate's events of the batch."""
    rows: dict[UUID, Row | None] = {e.event.originator_id: None for e in events}
    for record in conn.execute(
        f"SELECT {', '.join(columns)} FROM {table} WHERE {columns[0]} = ANY(%b)", (list(rows),)
    ):
        rows[record[0]] = row_of(record)
    folded: dict[UUID, Row] = {}
    for tracked in events:
        key = tracked.event.originator_id
        rows[key] = folded[key] = fold(rows[key], tracked.event, tracked.notification_id)
    return folded


def _checkout(record: Sequence[Any]) -> CheckoutStatus:
    values = list(record)
    values[2] = tuple(values[2])
    return CheckoutStatus(*values)
