"""The executor's commands (ADR 0004): attempts recorded before the PSP is called, answers
recorded after, for charges (PaymentOrder), payouts (Payout) and refunds (Refund) alike."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate

from payments.domain.application import PaymentsApplication
from payments.domain.execution import PspAnswer, RetryPolicy
from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.refund import Refund
from payments.domain.refund_commands import settle_order_of

Executable = PaymentOrder | Payout | Refund
W = TypeVar("W")


@dataclass(frozen=True, slots=True)
class Answered:
    """The PSP's answer for one aggregate; `requery` when it came from a look-up."""

    aggregate: Executable
    answer: PspAnswer
    requery: bool = False


class ExecutionCommands:
    def __init__(self, application: PaymentsApplication, rng: random.Random) -> None:
        self.application = application
        self.rng = rng

    def load(self, aggregate_id: UUID) -> Executable:
        """A PaymentOrder, Payout or Refund: the executor's queue holds all, by aggregate id."""
        aggregate = self.application.load(aggregate_id, snapshots=False)
        if not isinstance(aggregate, PaymentOrder | Payout | Refund):
            raise AggregateNotFoundError(aggregate_id)
        return aggregate

    def start_attempts(
        self, items: Sequence[W], aggregate_of: Callable[[W], Executable]
    ) -> list[tuple[W, Executable]]:
        """ExecutionStarted for every aggregate about to be called, saved before any call.

        After a concurrent write, each is decided again on fresh state: one that a webhook
        or another path settled (or made pending) meanwhile is not called.
        """

        def started(aggregate: Executable) -> Executable:
            aggregate.start_execution()
            return aggregate

        def fresh_started(item: W) -> Executable | None:
            fresh = self.load(aggregate_of(item).id)
            if not fresh.needs_executor or fresh.pending_at_psp:
                return None
            return started(fresh)

        return self.application.save_each(
            items, lambda item: started(aggregate_of(item)), fresh_started
        )

    def record_answers(
        self,
        items: Sequence[W],
        answered: Callable[[W], Answered],
        now: datetime,
        policy: RetryPolicy,
    ) -> list[tuple[W, Executable]]:
        """Each aggregate's answer decides its next step (Executable.record_psp_answer), all
        saved at once; after a concurrent write, each on fresh state. A refund's outcome is
        saved with its order's completion or release (settle_order_of)."""

        def recorded(aggregate: Executable, item: W) -> Executable:
            entry = answered(item)
            aggregate.record_psp_answer(
                entry.answer, now=now, policy=policy, rng=self.rng, requery=entry.requery
            )
            return aggregate

        return self.application.save_each(
            items,
            lambda item: recorded(answered(item).aggregate, item),
            lambda item: recorded(self.load(answered(item).aggregate.id), item),
            companions=self._companions,
        )

    def _companions(self, aggregate: Executable) -> list[Aggregate]:
        if isinstance(aggregate, Refund):
            return settle_order_of(self.application, aggregate)
        return []
