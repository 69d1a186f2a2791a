"""The events PaymentOrder, Refund and Payout record the same way while executed at the PSP
(ADR 0004), and what each assigns.

Each aggregate subclasses these under the same name with its own TOPIC
(`payments.<Aggregate>.<Event>.v1`, docs/events.md): stored history keeps its topics and
fields, and eventsourcing reads each by its topic. What the events carry and assign is
written here once; the commands that record them are PspExecution's and SucceedsOrFails'
(execution.py). A payout's outcomes (Paid, Failed, Returned) are its own, in payout.py.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from eventsourcing.domain import Aggregate

# Each apply() assigns the execution state of a PspExecution aggregate (execution.py, which
# imports this module): `aggregate` is typed Any to keep the import graph a tree.


class FailureCode(Enum):
    """Why a PSP refused a charge for good (stored in events; values never change)."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 (a failure code)
    REJECTED = "rejected"
    BLOCKED_BY_RISK = "blocked_by_risk"  # our risk rules, before any call (issue #17)


class ExecutionStarted(Aggregate.Event):
    """An attempt is about to call the PSP (saved before the call, always)."""

    attempt: int

    def apply(self, aggregate: Any) -> None:
        aggregate.status = aggregate.EXECUTING
        aggregate.attempts = self.attempt
        aggregate.attempts_since_replay += 1
        aggregate.next_attempt_at = None


class RetryScheduled(Aggregate.Event):
    attempt: int
    error: str
    next_attempt_at: datetime

    def apply(self, aggregate: Any) -> None:
        aggregate.last_error = self.error
        aggregate.next_attempt_at = self.next_attempt_at


class PendingAtPsp(Aggregate.Event):
    psp_reference: str

    def apply(self, aggregate: Any) -> None:
        aggregate.pending_at_psp = True
        aggregate.psp_reference = self.psp_reference
        aggregate.next_attempt_at = None


class DeadLettered(Aggregate.Event):
    attempts: int
    last_error: str

    def apply(self, aggregate: Any) -> None:
        aggregate.dead_lettered = True
        aggregate.next_attempt_at = None


class DeadLetterReplayed(Aggregate.Event):
    """An operator sent a dead letter back to the executor. PaymentOrder's and Payout's were
    recorded without actor and reference before v2 (their class_version is 2); Refund's always
    had them (version 1)."""

    reason: str
    actor: str  # an API key id, or "cli"
    reference: str  # the aggregate's id, so an audit trail needs nothing but the event

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["actor"] = state["reference"] = "unknown"  # recorded before keys existed

    def apply(self, aggregate: Any) -> None:
        aggregate.dead_lettered = False
        aggregate.attempts_since_replay = 0


class DiscrepancyRecorded(Aggregate.Event):
    """The PSP reported an outcome that contradicts the recorded one: kept, never applied."""

    reported_outcome: str
    psp_reference: str | None
    detail: str

    def apply(self, aggregate: Any) -> None:
        aggregate.discrepancies += 1


# --- the outcomes of a charge or a refund (SucceedsOrFails); a payout has its own ----------


class Succeeded(Aggregate.Event):
    psp_reference: str
    source: str

    def apply(self, aggregate: Any) -> None:
        aggregate.status = aggregate.SUCCEEDED
        aggregate._outcome_reached(self.psp_reference)


class Failed(Aggregate.Event):
    code: FailureCode
    reason: str
    psp_reference: str | None
    source: str

    def apply(self, aggregate: Any) -> None:
        aggregate.status = aggregate.FAILED
        aggregate.failure_code = self.code
        aggregate.failure_reason = self.reason
        aggregate._outcome_reached(self.psp_reference)
