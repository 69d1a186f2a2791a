"""The execution rules PaymentOrder and Payout share (ADR 0004, ADR 0006).

Both are executed at the PSP the same way: an attempt is recorded before each call, retries
are scheduled in events, a pending answer waits for a webhook or a re-query, and after the
last attempt an operator gets a dead letter to replay. This module holds those rules: the
PSP's classified answers, the retry policy, and the mixin with the shared commands; each
aggregate keeps its own events (their topics name the aggregate) and their @event methods.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from payments.domain.errors import IllegalTransition


class FailureCode(Enum):
    """Why a PSP refused a charge for good (stored in events; values never change)."""

    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    INVALID_TOKEN = "invalid_token"  # noqa: S105 (a failure code)
    REJECTED = "rejected"
    BLOCKED_BY_RISK = "blocked_by_risk"  # our risk rules, before any call (issue #17)


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
    attempts: int
    attempts_since_replay: int
    next_attempt_at: datetime | None
    last_error: str | None
    psp_reference: str | None
    pending_at_psp: bool
    dead_lettered: bool
    discrepancies: int

    # The aggregate's @event methods, one per shared event.
    _execution_started: Callable[..., None]
    _retry_scheduled: Callable[..., None]
    _pending_at_psp: Callable[..., None]
    _dead_lettered: Callable[..., None]
    _dead_letter_replayed: Callable[..., None]
    _discrepancy_recorded: Callable[..., None]

    NOUN = "aggregate"  # what a discrepancy's detail calls it: "order", "payout", "refund"

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

    # --- what the shared events assign (called from the aggregate's @event methods) ------

    def _attempt_started(self, attempt: int) -> None:
        self.attempts = attempt
        self.attempts_since_replay += 1
        self.next_attempt_at = None

    def _outcome_reached(self, psp_reference: str | None) -> None:
        if psp_reference is not None:
            self.psp_reference = psp_reference
        self.pending_at_psp = False
        self.dead_lettered = False
        self.next_attempt_at = None

    @property
    def reference(self) -> str:
        raise AttributeError("defined by the aggregate")

    @property
    def is_terminal(self) -> bool:
        raise AttributeError("defined by the aggregate")

    @property
    def is_executing(self) -> bool:
        raise AttributeError("defined by the aggregate")

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
        self._execution_started(attempt=self.attempts + 1)

    def schedule_retry(self, error: str, next_attempt_at: datetime) -> None:
        """A retryable PSP answer: try again at next_attempt_at (computed by the caller)."""
        self._require_executing("schedule a retry")
        self._retry_scheduled(attempt=self.attempts, error=error, next_attempt_at=next_attempt_at)

    def mark_pending(self, psp_reference: str) -> None:
        """The PSP accepted the call but has no outcome yet; a webhook or re-query ends it."""
        self._require_executing("mark pending")
        if self.pending_at_psp and self.psp_reference == psp_reference:
            return
        self._pending_at_psp(psp_reference=psp_reference)

    def dead_letter(self) -> None:
        """Give up retrying: park it for an operator, with its attempt history."""
        self._require_executing("dead-letter")
        if self.dead_lettered:
            return
        self._dead_lettered(attempts=self.attempts, last_error=self.last_error or "")

    def replay_dead_letter(self, reason: str, actor: str) -> None:
        """An operator (`actor`: their key id) sends a dead-lettered one back to the executor."""
        if not self.dead_lettered:
            raise IllegalTransition(self._state_name(), "replayed")
        self._dead_letter_replayed(reason=reason, actor=actor, reference=self.reference)

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
        self._discrepancy_recorded(
            reported_outcome=reported,
            psp_reference=psp_reference,
            detail=f"{self.NOUN} is {self.status.value} with psp_reference {self.psp_reference}",
        )

    def _require_executing(self, action: str) -> None:
        if not self.is_executing:
            raise IllegalTransition(self._state_name(), action)

    def _state_name(self) -> str:
        return f"{self.status.value}{' (dead-lettered)' if self.dead_lettered else ''}"
