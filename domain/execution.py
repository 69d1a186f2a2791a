"""The execution rules PaymentOrder and Payout share (ADR 0004, ADR 0006).

Both are executed at the PSP the same way: an attempt is recorded before each call, retries
are scheduled in events, a pending answer waits for a webhook or a re-query, and after the
last attempt an operator gets a dead letter to replay. This mixin holds those commands; each
aggregate keeps its own events (their topics name the aggregate) and their @event methods.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import Enum

from payments.domain.errors import IllegalTransition


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
    def is_terminal(self) -> bool:
        raise AttributeError("defined by the aggregate")

    @property
    def is_executing(self) -> bool:
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

    def replay_dead_letter(self, reason: str) -> None:
        """An operator sends a dead-lettered one back to the executor."""
        if not self.dead_lettered:
            raise IllegalTransition(self._state_name(), "replayed")
        self._dead_letter_replayed(reason=reason)

    def _require_executing(self, action: str) -> None:
        if not self.is_executing:
            raise IllegalTransition(self._state_name(), action)

    def _state_name(self) -> str:
        return f"{self.status.value}{' (dead-lettered)' if self.dead_lettered else ''}"
