"""PaymentOrder status machine, given events in, expecting events out."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from payments.domain.errors import IllegalTransition
from payments.domain.execution import Declined, FailureCode, Succeeded
from payments.domain.payment_order import TERMINAL, PaymentOrder, Status
from tests.projections.events import new_order
from tests.unit.execution_checks import assert_dead_letter_blocks_execution_until_replayed


def event_names(order: PaymentOrder) -> list[str]:
    return [type(e).__name__ for e in order.collect_events()]


def test_new_order_is_not_started_and_records_created() -> None:
    order = new_order("po_1")
    assert order.status is Status.NOT_STARTED
    assert event_names(order) == ["Created"]


def test_execution_then_success_records_each_step() -> None:
    order = new_order("po_1")
    order.collect_events()
    order.start_execution()
    assert order.record_success("ch_1", source="psp")
    assert event_names(order) == ["ExecutionStarted", "Succeeded"]
    assert (order.status, order.attempts, order.psp_reference) == (Status.SUCCESS, 1, "ch_1")


def test_repeated_success_with_same_reference_is_a_no_op() -> None:
    order = new_order("po_1")
    order.start_execution()
    order.record_success("ch_1", source="psp")
    order.collect_events()
    assert not order.record_success("ch_1", source="webhook")
    assert event_names(order) == []


def test_holds_only_the_outcome_already_recorded() -> None:
    """What a webhook may skip the PSP look-up for: exactly the recorded final outcome."""
    declined = Declined(FailureCode.CARD_DECLINED, "declined", "ch_2")
    order = new_order("po_1")
    assert not order.holds(Succeeded("ch_1"))
    assert not order.holds(declined)
    order.start_execution()
    assert not order.holds(Succeeded("ch_1"))
    assert not order.holds(declined)
    order.record_success("ch_1", source="psp")
    assert order.holds(Succeeded("ch_1"))
    assert not order.holds(Succeeded("ch_other"))
    assert not order.holds(declined)
    failed = new_order("po_2")
    failed.start_execution()
    failed.record_failure(FailureCode.CARD_DECLINED, "declined", "ch_2", source="psp")
    assert failed.holds(declined)
    assert failed.holds(Declined(FailureCode.CARD_DECLINED, "x", None))
    assert not failed.holds(Succeeded("ch_2"))


def test_conflicting_outcome_is_recorded_as_discrepancy_not_applied() -> None:
    order = new_order("po_1")
    order.start_execution()
    order.record_success("ch_1", source="psp")
    order.collect_events()
    assert not order.record_failure(FailureCode.CARD_DECLINED, "declined", None, source="webhook")
    assert event_names(order) == ["DiscrepancyRecorded"]
    assert order.status is Status.SUCCESS


def test_retry_keeps_executing_with_next_attempt_time() -> None:
    order = new_order("po_1")
    order.start_execution()
    when = datetime(2030, 1, 1, tzinfo=UTC)
    order.schedule_retry("503 from PSP", when)
    order.start_execution()
    assert (order.status, order.attempts, order.next_attempt_at) == (Status.EXECUTING, 2, None)


def test_cannot_record_outcome_before_execution_started() -> None:
    order = new_order("po_1")
    with pytest.raises(IllegalTransition):
        order.record_success("ch_1", source="psp")


def test_terminal_order_cannot_start_again() -> None:
    order = new_order("po_1")
    order.start_execution()
    order.record_failure(FailureCode.INSUFFICIENT_FUNDS, "no funds", "ch_9", source="psp")
    with pytest.raises(IllegalTransition):
        order.start_execution()


def test_dead_letter_blocks_execution_until_replayed() -> None:
    order = new_order("po_1")
    order.start_execution()
    assert_dead_letter_blocks_execution_until_replayed(order, "PSP recovered")


def test_success_after_dead_letter_clears_it() -> None:
    order = new_order("po_1")
    order.start_execution()
    order.dead_letter()
    order.record_success("ch_2", source="requery")
    assert order.status is Status.SUCCESS
    assert not order.dead_lettered


def test_replay_of_order_not_dead_lettered_is_refused() -> None:
    order = new_order("po_1")
    with pytest.raises(IllegalTransition):
        order.replay_dead_letter("why", actor="test")


def _lives() -> list[PaymentOrder]:
    """Orders taken through every way an order ends, or does not end, with their events."""
    succeeded, failed = new_order("po_s"), new_order("po_f")
    succeeded.start_execution()
    succeeded.schedule_retry("503", datetime(2030, 1, 1, tzinfo=UTC))
    succeeded.start_execution()
    succeeded.mark_pending("ch_s")
    succeeded.record_success("ch_s", source="psp")
    succeeded.record_failure(FailureCode.CARD_DECLINED, "late", "ch_s", source="webhook")
    failed.start_execution()
    failed.dead_letter()
    failed.replay_dead_letter("recovered", actor="test")
    failed.start_execution()
    failed.record_failure(FailureCode.CARD_DECLINED, "declined", "ch_f", source="psp")
    declined, reviewed_out, reviewed_in = new_order("po_d"), new_order("po_r"), new_order("po_a")
    declined.assess_risk("decline", "velocity", {"count": 9}, "too many")
    reviewed_out.assess_risk("review", "amount", {"amount": 9}, "large")
    reviewed_out.review_risk(False, "fraud", actor="ops")
    reviewed_in.assess_risk("review", "amount", {"amount": 9}, "large")
    reviewed_in.review_risk(True, "fine", actor="ops")
    allowed = new_order("po_ok")
    allowed.assess_risk("allow", None, {}, "")
    return [succeeded, failed, declined, reviewed_out, reviewed_in, allowed]


def test_final_status_of_names_exactly_the_events_that_end_an_order() -> None:
    """What the execution feed knows from an event without loading the order: the event
    that makes the order SUCCESS or FAILED says so, and no other event says anything."""
    ended = 0
    for order in _lives():
        replayed: PaymentOrder | None = None
        for event in order.collect_events():
            before = None if replayed is None else replayed.status
            replayed = event.mutate(replayed)
            assert replayed is not None
            final = PaymentOrder.final_status_of(event)
            if before not in TERMINAL and replayed.status in TERMINAL:
                assert final is replayed.status, type(event).__name__
                ended += 1
            else:
                assert final is None, type(event).__name__
    assert ended == 4  # succeeded, failed, declined by the rules, declined in review
