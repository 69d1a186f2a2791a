"""The execution rules PaymentOrder, Refund and Payout share (ADR 0004, ADR 0006).

All three are executed at the PSP the same way: an attempt is recorded before each call, retries
are scheduled in events, a pending answer waits for a webhook or a re-query, and after the
last attempt an operator gets a dead letter to replay. This module holds those rules: the
PSP's classified answers, the retry policy, and the mixin with the shared commands. The events
those commands record are execution_events.py's, subclassed by each aggregate under its own
topics; each aggregate keeps its own outcome events and their @event methods.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, ClassVar

from payments.domain import execution_events as events
from payments.domain.errors import IllegalTransition
from payments.domain.execution_events import FailureCode as FailureCode  # its old home
from payments.domain.money import Money
from payments.domain.reasons import require_reason

# --- the PSP's answers, classified once (psp/client.py) (DESIGN §5) -----------------------


@dataclass(frozen=True, slots=True)
class Succeeded:
    psp_reference: str


@dataclass(frozen=True, slots=True)
class Declined:
    code: FailureCode
    reason: str
    psp_reference: str | None


@dataclass(frozen=True, slots=True)
class Pending:
    psp_reference: str


@dataclass(frozen=True, slots=True)
class Retryable:
    error: str


@dataclass(frozen=True, slots=True)
class NotFoundAtPsp:
    """A re-query found nothing for our reference: the call never reached the PSP."""


@dataclass(frozen=True, slots=True)
class Rejected:
    """A 4xx to a create call. Not a final refusal on its own word (DESIGN §11): a PSP (or a
    proxy before it) may have charged and then answered 404, or answered 400 to a repeated
    key; it becomes final only when a look-up by our reference finds nothing."""

    code: FailureCode
    reason: str


FinalAnswer = Succeeded | Declined
PspAnswer = Succeeded | Declined | Pending | Retryable
CallAnswer = PspAnswer | Rejected
LookupAnswer = Succeeded | Declined | Pending | Retryable | NotFoundAtPsp


def confirm_rejection(rejected: Rejected, lookup: LookupAnswer) -> PspAnswer:
    """What a 4xx means once the PSP was asked by reference: nothing there → the refusal
    is final; anything there → that is the answer; the look-up failed → ask again later."""
    if isinstance(lookup, NotFoundAtPsp):
        return Declined(rejected.code, rejected.reason, None)
    if isinstance(lookup, Retryable):
        return Retryable(f"{rejected.reason}; not yet confirmed: {lookup.error}")
    return lookup


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how patiently a retryable answer is tried again (ADR 0004)."""

    max_attempts: int = 5
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """Exponential backoff with full jitter (AWS Architecture Blog): a delay in
        [0, min(cap, base * 2**(attempt-1))]. The caller stores it in an event
        (next_attempt_at) so that a restart resumes the schedule."""
        return timedelta(
            seconds=full_jitter_delay(attempt, self.backoff_base_s, self.backoff_cap_s, rng)
        )


def full_jitter_delay(attempt: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """A delay in [0, min(cap, base * 2**(attempt-1))] seconds for the given attempt (>= 1)."""
    ceiling = min(cap_s, base_s * 2 ** max(0, attempt - 1))
    return rng.uniform(0, ceiling)


class PspExecution:
    status: Enum
    amount_minor: int
    currency: str
    attempts: int
    attempts_since_replay: int
    next_attempt_at: datetime | None
    last_error: str | None
    psp_reference: str | None
    pending_at_psp: bool
    dead_lettered: bool
    discrepancies: int

    # The aggregate's statuses: while an attempt runs, and those that end it.
    EXECUTING: ClassVar[Enum]
    TERMINAL: ClassVar[frozenset[Enum]]

    # The aggregate's subclasses of the shared events, each with the aggregate's own TOPIC.
    ExecutionStarted: ClassVar[type[events.ExecutionStarted]]
    RetryScheduled: ClassVar[type[events.RetryScheduled]]
    PendingAtPsp: ClassVar[type[events.PendingAtPsp]]
    DeadLettered: ClassVar[type[events.DeadLettered]]
    DeadLetterReplayed: ClassVar[type[events.DeadLetterReplayed]]
    DiscrepancyRecorded: ClassVar[type[events.DiscrepancyRecorded]]

    NOUN = "aggregate"  # what a discrepancy's detail calls it: "payout", "refund"

    def _init_execution(self) -> None:
        """The execution state of a new aggregate (called from its Created event)."""
        self.attempts = 0
        self.attempts_since_replay = 0
        self.next_attempt_at = None
        self.last_error = None
        self.psp_reference = None
        self.pending_at_psp = False
        self.dead_lettered = False
        self.discrepancies = 0

    def _record(self, event_class: type[Any], **fields: Any) -> None:
        """Trigger one of the shared events (the aggregate is an eventsourcing Aggregate)."""
        aggregate: Any = self
        aggregate.trigger_event(event_class, **fields)

    # --- what the outcome events assign (called from the aggregate's @event methods) -----

    def _outcome_reached(self, psp_reference: str | None) -> None:
        if psp_reference is not None:
            self.psp_reference = psp_reference
        self.pending_at_psp = False
        self.dead_lettered = False
        self.next_attempt_at = None

    @property
    def amount(self) -> Money:
        return Money(self.amount_minor, self.currency)

    @property
    def reference(self) -> str:
        raise AttributeError("defined by the aggregate")

    @property
    def is_terminal(self) -> bool:
        return self.status in self.TERMINAL

    @property
    def is_executing(self) -> bool:
        return self.status is self.EXECUTING

    @property
    def needs_executor(self) -> bool:
        """Still the executor's: neither terminal nor parked in the dead-letter queue."""
        return not (self.is_terminal or self.dead_lettered)

    @property
    def was_interrupted(self) -> bool:
        """An attempt started and no outcome was recorded: the executor died mid-call."""
        return self.is_executing and self.next_attempt_at is None and not self.pending_at_psp

    def record_final_answer(self, answer: Succeeded | Declined, source: str) -> bool:
        """The PSP's final word: the aggregate's own success or failure command."""
        raise AttributeError("defined by the aggregate")

    def start_execution(self) -> None:
        """Record that an attempt is about to call the PSP (before the call, always)."""
        if self.is_terminal or self.dead_lettered:
            raise IllegalTransition(self._state_name(), "EXECUTING")
        self._record(self.ExecutionStarted, attempt=self.attempts + 1)

    def schedule_retry(self, error: str, next_attempt_at: datetime) -> None:
        """A retryable PSP answer: try again at next_attempt_at (computed by the caller)."""
        self._require_executing("schedule a retry")
        self._record(
            self.RetryScheduled, attempt=self.attempts, error=error, next_attempt_at=next_attempt_at
        )

    def mark_pending(self, psp_reference: str) -> None:
        """The PSP accepted the call but has no outcome yet; a webhook or re-query ends it."""
        self._require_executing("mark pending")
        if self.pending_at_psp and self.psp_reference == psp_reference:
            return
        self._record(self.PendingAtPsp, psp_reference=psp_reference)

    def dead_letter(self) -> None:
        """Give up retrying: park it for an operator, with its attempt history."""
        self._require_executing("dead-letter")
        if self.dead_lettered:
            return
        self._record(self.DeadLettered, attempts=self.attempts, last_error=self.last_error or "")

    def replay_dead_letter(self, reason: str, actor: str) -> None:
        """An operator (`actor`: their key id) sends a dead-lettered one back to the executor."""
        require_reason(reason)
        if not self.dead_lettered:
            raise IllegalTransition(self._state_name(), "replayed")
        self._record(self.DeadLetterReplayed, reason=reason, actor=actor, reference=self.reference)

    def record_psp_answer(
        self,
        answer: PspAnswer,
        *,
        now: datetime,
        policy: RetryPolicy,
        rng: random.Random,
        requery: bool = False,
    ) -> None:
        """What the executor's call (or re-query) answered decides the next step (ADR 0004):
        a final answer ends it; pending waits; retryable schedules the next attempt with
        backoff, or dead-letters it after policy.max_attempts since the last replay. A failed
        re-query, or one of something already pending at the PSP, changes nothing stored."""
        if isinstance(answer, Succeeded | Declined):
            self.record_final_answer(answer, source="psp")
        elif self.is_terminal or not self.is_executing:
            return
        elif isinstance(answer, Pending):
            self.mark_pending(answer.psp_reference)
        elif not (self.pending_at_psp or requery):
            if self.attempts_since_replay >= policy.max_attempts:
                self.schedule_retry(answer.error, now)
                self.dead_letter()
            else:
                self.schedule_retry(answer.error, now + policy.delay(self.attempts, rng))

    def _discrepancy(self, reported: str, psp_reference: str | None) -> None:
        """The PSP reports an outcome that contradicts the one recorded: kept, never applied."""
        self._record(
            self.DiscrepancyRecorded,
            reported_outcome=reported,
            psp_reference=psp_reference,
            detail=f"{self.NOUN} is {self.status.value} with psp_reference {self.psp_reference}",
        )

    def _require_executing(self, action: str) -> None:
        if not self.is_executing:
            raise IllegalTransition(self._state_name(), action)

    def _state_name(self) -> str:
        return f"{self.status.value}{' (dead-lettered)' if self.dead_lettered else ''}"


class SucceedsOrFails(PspExecution):
    """A charge or a refund: the PSP's final word is a success, or a refusal with its code."""

    SUCCEEDED: ClassVar[Enum]
    FAILED: ClassVar[Enum]
    Succeeded: ClassVar[type[events.Succeeded]]
    Failed: ClassVar[type[events.Failed]]
    failure_code: FailureCode | None
    failure_reason: str | None

    def holds(self, answer: FinalAnswer) -> bool:
        """Whether `answer` is the final outcome already recorded (a success with the same PSP
        reference, or a refusal): recording it again changes nothing, so a webhook that only
        claims it needs no look-up at the PSP (DESIGN §11 confirms what would make an
        aggregate terminal; this one already is, by a confirmed answer)."""
        if isinstance(answer, Succeeded):
            return self.status is self.SUCCEEDED and self.psp_reference == answer.psp_reference
        return self.status is self.FAILED

    def record_final_answer(self, answer: FinalAnswer, source: str) -> bool:
        if isinstance(answer, Succeeded):
            return self.record_success(answer.psp_reference, source)
        return self.record_failure(answer.code, answer.reason, answer.psp_reference, source)

    def record_success(self, psp_reference: str, source: str) -> bool:
        """Record the PSP's success; True when it changed the aggregate, False for a repeat."""
        if self.status is self.SUCCEEDED and self.psp_reference == psp_reference:
            return False
        if self.is_terminal:
            self._discrepancy(self.SUCCEEDED.value, psp_reference)
            return False
        self._require_executing("record a success")
        terms = self._success_terms()
        self._record(self.Succeeded, psp_reference=psp_reference, source=source, **terms)
        return True

    def record_failure(
        self, code: FailureCode, reason: str, psp_reference: str | None, source: str
    ) -> bool:
        """Record a final refusal; True when it changed the aggregate, False for a repeat."""
        if self.status is self.FAILED:
            return False
        if self.status is self.SUCCEEDED:
            self._discrepancy(self.FAILED.value, psp_reference)
            return False
        self._require_executing("record a failure")
        self._record(
            self.Failed, code=code, reason=reason, psp_reference=psp_reference, source=source
        )
        return True

    def _success_terms(self) -> dict[str, Any]:
        """What the Succeeded event carries besides the PSP's reference and the source."""
        return {}
