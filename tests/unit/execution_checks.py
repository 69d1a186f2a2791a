"""Checks of the execution rules PaymentOrder, Payout and Refund share (domain/execution.py)."""

from __future__ import annotations

import pytest

from payments.domain.errors import IllegalTransition
from payments.domain.execution import PspExecution


def assert_dead_letter_blocks_execution_until_replayed(
    aggregate: PspExecution, reason: str
) -> None:
    """Dead-lettered after its first attempt, it starts none until an operator replays it; the
    attempt after the replay is its second, the first since the replay."""
    aggregate.dead_letter()
    with pytest.raises(IllegalTransition):
        aggregate.start_execution()
    aggregate.replay_dead_letter(reason, actor="test")
    aggregate.start_execution()
    assert (aggregate.attempts, aggregate.attempts_since_replay) == (2, 1)
