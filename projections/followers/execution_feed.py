"""The execution feed: keeps the execution queue and the dead letters in step with the log.

Each batch of events and the feed's position commit in one transaction (PostgresView), so a
crash or restart applies every event to the queue exactly once. A batch that finishes the
last order of a checkout also records that checkout's PaymentDone, before its position
commits, so a crash there repeats only that idempotent step.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from psycopg_pool import ConnectionPool

from payments.domain.application import PaymentsApplication
from payments.domain.checkout import Checkout
from payments.domain.checkout_commands import CheckoutCommands
from payments.domain.ids import checkout_uuid, payment_order_uuid
from payments.domain.payment_order import PaymentOrder, Status
from payments.domain.payout import Payout
from payments.domain.refund import Refund
from payments.projections.core import TrackedEvent
from payments.projections.event_store import load_aggregates
from payments.projections.followers import execution_queue as q
from payments.projections.followers.follower import FeedView
from payments.projections.followers.open_checkouts import OpenCheckouts
from payments.projections.pg import Connection

TOPICS = frozenset(
    cls.TOPIC
    for cls in (
        Checkout.Created,  # which orders a checkout has: remembered until they are final
        Checkout.CreatedInClear,
        PaymentOrder.Created,
        PaymentOrder.RetryScheduled,
        PaymentOrder.PendingAtPsp,
        PaymentOrder.Succeeded,
        PaymentOrder.Failed,
        PaymentOrder.DeadLettered,
        PaymentOrder.DeadLetterReplayed,
        PaymentOrder.RiskAssessed,
        PaymentOrder.RiskReviewed,
        Payout.Created,
        Payout.RetryScheduled,
        Payout.PendingAtPsp,
        Payout.Paid,
        Payout.Failed,
        Payout.DeadLettered,
        Payout.DeadLetterReplayed,
        Refund.Requested,
        Refund.RetryScheduled,
        Refund.PendingAtPsp,
        Refund.Succeeded,
        Refund.Failed,
        Refund.DeadLettered,
        Refund.DeadLetterReplayed,
    )
)


class ExecutionFeed(FeedView):
    name = "execution_feed"
    topics: frozenset[str] | None = TOPICS
    tables = ("execution_feed_tracking",)  # the queue itself outlives the feed's position
    former_name = "execution-feeder"

    def __init__(
        self,
        pool: ConnectionPool,
        application: PaymentsApplication,
        *,
        first_requery_delay: timedelta,
    ) -> None:
        super().__init__(pool, application)
        self.first_requery_delay = first_requery_delay
        self.checkouts = CheckoutCommands(application)
        # The checkouts whose creation this process applied, until their orders are final.
        self._open = OpenCheckouts()

    def _apply(self, conn: Connection, events: Sequence[TrackedEvent]) -> None:
        finished: dict[UUID, Status] = {}  # orders made final by this batch
        changes = q.QueueChanges()
        for tracked in events:
            self._apply_one(changes, tracked.event)
            if (final := PaymentOrder.final_status_of(tracked.event)) is not None:
                finished[tracked.event.originator_id] = final
        changes.write(conn)
        self._complete_checkouts(finished)

    def _apply_one(self, changes: q.QueueChanges, event: Any) -> None:
        aggregate_uuid: UUID = event.originator_id
        if isinstance(event, Checkout.Created):
            self._open.checkout_created(event.checkout_id, event.payment_order_ids)
            return
        if isinstance(event, PaymentOrder.Created):
            self._open.order_created(aggregate_uuid, event.checkout_id, event.payment_order_id)
        if isinstance(event, PaymentOrder.Created | Payout.Created | Refund.Requested):
            changes.enqueue_new(aggregate_uuid, event.timestamp)
        elif isinstance(
            event, PaymentOrder.RetryScheduled | Payout.RetryScheduled | Refund.RetryScheduled
        ):
            changes.enqueue(aggregate_uuid, "execute", event.next_attempt_at)
        elif isinstance(
            event, PaymentOrder.PendingAtPsp | Payout.PendingAtPsp | Refund.PendingAtPsp
        ):
            changes.enqueue(aggregate_uuid, "requery", event.timestamp + self.first_requery_delay)
        elif isinstance(event, PaymentOrder.RiskAssessed | PaymentOrder.RiskReviewed):
            self._apply_risk(changes, event)
        elif isinstance(
            event,
            PaymentOrder.Succeeded
            | PaymentOrder.Failed
            | Payout.Paid
            | Payout.Failed
            | Refund.Succeeded
            | Refund.Failed,
        ):
            changes.dequeue(aggregate_uuid)
            changes.remove_dead_letter(aggregate_uuid)
        elif isinstance(
            event, PaymentOrder.DeadLettered | Payout.DeadLettered | Refund.DeadLettered
        ):
            changes.dequeue(aggregate_uuid)
            parked = self.application.load(aggregate_uuid, snapshots=False)
            if not isinstance(parked, PaymentOrder | Payout | Refund):
                raise AggregateNotFoundError(aggregate_uuid)
            reference, target = (
                (parked.payment_order_id, q.CHARGE)
                if isinstance(parked, PaymentOrder)
                else (parked.payout_id, q.PAYOUT)
                if isinstance(parked, Payout)
                else (parked.refund_id, q.REFUND)
            )
            changes.add_dead_letter(
                aggregate_uuid,
                reference,
                event.attempts,
                event.last_error,
                event.timestamp,
                target,
            )
        elif isinstance(
            event,
            PaymentOrder.DeadLetterReplayed | Payout.DeadLetterReplayed | Refund.DeadLetterReplayed,
        ):
            changes.remove_dead_letter(aggregate_uuid)
            changes.enqueue(aggregate_uuid, "execute", event.timestamp)

    @staticmethod
    def _apply_risk(changes: q.QueueChanges, event: Any) -> None:
        """An order the risk rules hold waits off the queue (the executor would not charge
        it either); approved, it is due now; declined, it is done (issue #17)."""
        aggregate_uuid: UUID = event.originator_id
        if isinstance(event, PaymentOrder.RiskReviewed) and event.approved:
            changes.enqueue(aggregate_uuid, "execute", event.timestamp)
        elif isinstance(event, PaymentOrder.RiskReviewed) or event.outcome != "allow":
            changes.dequeue(aggregate_uuid)

    def _complete_checkouts(self, finished: dict[UUID, Status]) -> None:
        """Mark done, in one save, every checkout whose orders are all SUCCESS or FAILED:
        the orders this batch made final are known by their events (PaymentOrder.
        final_status_of), and the other orders of a checkout whose creation this process
        applied by the memory of theirs; only a checkout so completed is loaded. An order
        the memory does not know is loaded, with its checkout and that one's other orders."""
        if not finished:
            return
        complete, unknown = self._open.ended(finished)
        candidates = self._loaded_candidates(finished, unknown)
        loaded = {checkout.checkout_id for checkout, _ in candidates}
        for checkout in load_aggregates(
            self.application, self.pool, {checkout_uuid(i) for i in complete.keys() - loaded}
        ).values():
            if not checkout.is_payment_done:
                candidates.append((checkout, complete[checkout.checkout_id]))
        self.checkouts.complete(candidates)

    def _loaded_candidates(
        self, finished: dict[UUID, Status], unknown: set[UUID]
    ) -> list[tuple[Checkout, Sequence[Status | None]]]:
        """The checkouts of the orders the memory does not know, with every order's status:
        from this batch, or loaded."""
        if not unknown:
            return []
        checkout_ids = {
            o.checkout_id for o in load_aggregates(self.application, self.pool, unknown).values()
        }
        checkouts = load_aggregates(
            self.application, self.pool, {checkout_uuid(i) for i in checkout_ids}
        )
        pending = [c for c in checkouts.values() if not c.is_payment_done]
        statuses: dict[UUID, Status | None] = dict(finished)
        others = {payment_order_uuid(i) for c in pending for i in c.payment_order_ids}
        for u, order in load_aggregates(
            self.application, self.pool, others - statuses.keys()
        ).items():
            statuses[u] = order.status
        return [
            (checkout, [statuses.get(payment_order_uuid(i)) for i in checkout.payment_order_ids])
            for checkout in pending
        ]
