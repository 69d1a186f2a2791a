"""Follows the event log and keeps the execution queue and dead letters in step with it.

Each batch of events and the feeder's position commit in one transaction, so a crash
or restart applies every event to the queue exactly once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.domain.checkout_commands import CheckoutCommands
from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.projections.event_store import load_aggregates
from payments.projections.followers import execution_queue as q

log = logging.getLogger("payments.executor.feeder")
FEEDER_LOCK = 7261002

ORDER_TOPICS = [
    cls.TOPIC
    for cls in (
        PaymentOrder.Created,
        PaymentOrder.RetryScheduled,
        PaymentOrder.PendingAtPsp,
        PaymentOrder.Succeeded,
        PaymentOrder.Failed,
        PaymentOrder.DeadLettered,
        PaymentOrder.DeadLetterReplayed,
        Payout.Created,
        Payout.RetryScheduled,
        Payout.PendingAtPsp,
        Payout.Paid,
        Payout.Failed,
        Payout.DeadLettered,
        Payout.DeadLetterReplayed,
    )
]


class ExecutionFeeder:
    name = "execution-feeder"

    def __init__(
        self,
        application: PaymentsApplication,
        pool: ConnectionPool,
        *,
        first_requery_delay: timedelta,
    ) -> None:
        self.application = application
        self.pool = pool
        self.first_requery_delay = first_requery_delay
        self.checkouts = CheckoutCommands(application)

    def run_once(self, limit: int = 1000) -> int:
        """Apply the next batch of order events to the queue; returns how many were applied."""
        with self.pool.connection() as conn, conn.transaction():
            locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (FEEDER_LOCK,)).fetchone()
            if not locked or not locked[0]:
                return 0  # another feeder holds the lock: it will do this work
            position = q.tracked_position(conn, self.name)
            notifications = self.application.recorder.select_notifications(
                position + 1, limit, topics=ORDER_TOPICS
            )
            if not notifications:
                return 0
            finished_orders: set[UUID] = set()
            # Pipeline mode: the queue statements of a batch go out without a round trip each.
            with conn.pipeline():
                for notification in notifications:
                    event = self.application.mapper.to_domain_event(notification)
                    self._apply(conn, event, finished_orders)
            # Before the position commits, so a crash here repeats this idempotent step.
            self._complete_checkouts(finished_orders)
            q.track(conn, self.name, notifications[-1].id)
        return len(notifications)

    def _apply(self, conn: Connection, event: Any, finished_orders: set[UUID]) -> None:
        order_uuid: UUID = event.originator_id
        if isinstance(event, PaymentOrder.Created | Payout.Created):
            q.enqueue_new(conn, order_uuid, event.timestamp)
        elif isinstance(event, PaymentOrder.RetryScheduled | Payout.RetryScheduled):
            q.enqueue(conn, order_uuid, "execute", event.next_attempt_at)
        elif isinstance(event, PaymentOrder.PendingAtPsp | Payout.PendingAtPsp):
            q.enqueue(conn, order_uuid, "requery", event.timestamp + self.first_requery_delay)
        elif isinstance(event, PaymentOrder.Succeeded | PaymentOrder.Failed):
            q.dequeue(conn, order_uuid)
            q.remove_dead_letter(conn, order_uuid)
            finished_orders.add(order_uuid)
        elif isinstance(event, PaymentOrder.DeadLettered):
            q.dequeue(conn, order_uuid)
            parked: PaymentOrder = self.application.repository.get(order_uuid)
            q.add_dead_letter(
                conn,
                order_uuid,
                parked.payment_order_id,
                event.attempts,
                event.last_error,
                event.timestamp,
            )
        elif isinstance(event, Payout.Paid | Payout.Failed):
            q.dequeue(conn, order_uuid)
            q.remove_dead_letter(conn, order_uuid)
        elif isinstance(event, Payout.DeadLettered):
            q.dequeue(conn, order_uuid)
            payout: Payout = self.application.repository.get(order_uuid)
            q.add_dead_letter(
                conn,
                order_uuid,
                payout.payout_id,
                event.attempts,
                event.last_error,
                event.timestamp,
                q.PAYOUT,
            )
        elif isinstance(event, PaymentOrder.DeadLetterReplayed | Payout.DeadLetterReplayed):
            q.remove_dead_letter(conn, order_uuid)
            q.enqueue(conn, order_uuid, "execute", event.timestamp)

    def _complete_checkouts(self, finished_orders: set[UUID]) -> None:
        """Mark done, in one save, every checkout whose orders are all SUCCESS or FAILED."""
        if not finished_orders:
            return
        orders = load_aggregates(self.application, self.pool, finished_orders)
        checkout_uuids = {checkout_uuid(order.checkout_id) for order in orders.values()}
        checkouts = load_aggregates(self.application, self.pool, checkout_uuids)
        pending = [c for c in checkouts.values() if not c.is_payment_done]
        members = load_aggregates(
            self.application,
            self.pool,
            (payment_order_uuid(i) for c in pending for i in c.payment_order_ids),
        )
        self.checkouts.complete(
            [
                (checkout, [members[payment_order_uuid(i)] for i in checkout.payment_order_ids])
                for checkout in pending
            ]
        )
