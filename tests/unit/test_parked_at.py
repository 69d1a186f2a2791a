"""Whether a dead letter was parked at an instant, as the past overview replays it from the
aggregate's own events (projections/audit/past_operations.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.projections.audit.past_operations import parked_at
from payments.projections.core import TrackedEvent

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
ORDER = uuid.uuid4()


def at(minute: int, kind: type[Any], **fields: Any) -> TrackedEvent:
    event = kind(
        originator_id=ORDER,
        originator_version=minute + 1,
        timestamp=T0 + timedelta(minutes=minute),
        **fields,
    )
    return TrackedEvent(minute + 1, kind.TOPIC, event)


PARKED = at(1, PaymentOrder.DeadLettered, attempts=4, last_error="psp 500")
REPLAYED = at(3, PaymentOrder.DeadLetterReplayed, reason="up", actor="k", reference="po_1")
PARKED_AGAIN = at(5, PaymentOrder.DeadLettered, attempts=4, last_error="psp 500")


@pytest.mark.parametrize(
    ("minute", "parked"),
    [(0, False), (1, True), (2, True), (3, False), (4, False), (5, True), (9, True)],
)
def test_parked_from_its_dead_letter_until_a_replay_and_again(minute: int, parked: bool) -> None:
    events = [PARKED, REPLAYED, PARKED_AGAIN]
    assert parked_at(events, T0 + timedelta(minutes=minute)) is parked


def test_an_outcome_reached_anyway_takes_it_off_the_list() -> None:
    paid = at(
        2, Payout.Paid, psp_reference="po_1", source="webhook", seller_account="s_1",
        amount_minor=100, currency="USD",
    )  # fmt: skip
    parked = at(1, Payout.DeadLettered, attempts=4, last_error="psp 500")
    assert parked_at([parked, paid], T0 + timedelta(minutes=1)) is True
    assert parked_at([parked, paid], T0 + timedelta(minutes=2)) is False
