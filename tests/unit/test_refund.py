"""Refunds in the domain (ADR 0014): requested against a captured order, executed like a
charge, their outcome saved with the order's completion or release (in-memory store)."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest

from payments.domain.application import (
    PaymentsApplication,
)
from payments.domain.commission import RefundCommissionPolicy
from payments.domain.errors import (
    IllegalTransition,
    InvalidCommand,
    NotFound,
    OrderNotRefundable,
    RefundConflict,
)
from payments.domain.execution import (
    Declined,
    FailureCode,
    Pending,
    Retryable,
    RetryPolicy,
    Succeeded,
)
from payments.domain.execution_commands import Answered, ExecutionCommands
from payments.domain.refund import Refund, RefundStatus
from payments.domain.refund_commands import RefundCommands, RequestRefund, refund_id_for_key
from payments.projections.views.order_status import apply_order_event
from tests.racing import all_at_once
from tests.unit.apps import make_app, place

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


@pytest.fixture
def app() -> PaymentsApplication:
    return make_app()


def captured(app: PaymentsApplication, amount: str = "10.00", *, order_id: str = "po_1") -> None:
    place(app, amount, order_id=order_id)
    order = app.get_order(order_id)
    order.start_execution()
    order.record_success("ch_1", source="psp")
    app.record(order)


def ask(
    app: PaymentsApplication,
    refund_id: str = "re_1",
    amount: int | None = None,
    *,
    order_id: str = "po_1",
    reason: str | None = "damaged",
) -> Refund:
    placement = RefundCommands(app).request_refund(
        RequestRefund(refund_id, order_id, amount, reason, requested_by="key_merchant")
    )
    return placement.refund


def settle(app: PaymentsApplication, refund_id: str, answer: Succeeded | Declined) -> Refund:
    """The executor's path: attempt started, then the PSP's answer, with the order's side."""
    commands = ExecutionCommands(app, random.Random(1))
    refund = RefundCommands(app).get(refund_id)
    [(_, started)] = commands.start_attempts([refund], lambda r: r)
    assert isinstance(started, Refund)
    [(_, answered)] = commands.record_answers(
        [started], lambda r: Answered(r, answer), NOW, RetryPolicy()
    )
    assert isinstance(answered, Refund)
    return answered


def topics_since(app: PaymentsApplication, start: int) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(start, 100)]


def test_a_partial_refund_reserves_on_the_order_and_requests_in_one_save(
    app: PaymentsApplication,
) -> None:
    captured(app)
    before = app.recorder.max_notification_id() or 0
    refund = ask(app, amount=300)
    assert topics_since(app, before + 1) == [
        "payments.PaymentOrder.RefundReserved.v1",
        "payments.Refund.Requested.v1",
    ]
    assert (refund.status, refund.amount_minor, refund.charge_reference) == (
        RefundStatus.REQUESTED,
        300,
        "ch_1",
    )
    order = app.get_order("po_1")
    assert (order.taken_minor, order.refundable_minor, order.refunded_minor) == (300, 700, 0)


def test_no_amount_refunds_the_rest(app: PaymentsApplication) -> None:
    captured(app)
    ask(app, "re_1", 250)
    rest = ask(app, "re_2", None)
    assert rest.amount_minor == 750
    assert app.get_order("po_1").refundable_minor == 0


def test_a_full_refund_that_succeeds_completes_the_reservation_in_the_same_save(
    app: PaymentsApplication,
) -> None:
    captured(app)
    ask(app, amount=1000)
    before = app.recorder.max_notification_id() or 0
    refund = settle(app, "re_1", Succeeded("re_psp_1"))
    assert refund.status is RefundStatus.SUCCEEDED
    assert topics_since(app, before + 1) == [
        "payments.Refund.ExecutionStarted.v1",
        "payments.Refund.Succeeded.v1",
        "payments.PaymentOrder.RefundCompleted.v1",
    ]
    order = app.get_order("po_1")
    assert (order.refunded_minor, order.refundable_minor, order.refunds_in_flight) == (1000, 0, {})


def test_a_failed_refund_releases_its_amount(app: PaymentsApplication) -> None:
    captured(app)
    ask(app, amount=400)
    refund = settle(app, "re_1", Declined(FailureCode.REJECTED, "refund_failed", "re_psp_1"))
    assert (refund.status, refund.failure_reason) == (RefundStatus.FAILED, "refund_failed")
    order = app.get_order("po_1")
    assert (order.refunded_minor, order.refundable_minor) == (0, 1000)
    names = [type(e).__name__ for e in app.events.get(order.id)]
    assert names[-2:] == ["RefundReserved", "RefundReleased"]


def test_retryable_and_pending_answers_keep_the_reservation(app: PaymentsApplication) -> None:
    captured(app)
    ask(app, amount=100)
    commands = ExecutionCommands(app, random.Random(1))
    refund = RefundCommands(app).get("re_1")
    [(_, started)] = commands.start_attempts([refund], lambda r: r)
    [(_, retried)] = commands.record_answers(
        [started], lambda r: Answered(r, Retryable("503")), NOW, RetryPolicy()
    )
    assert retried.next_attempt_at is not None
    assert not retried.is_terminal
    [(_, again)] = commands.start_attempts([retried], lambda r: r)
    [(_, pending)] = commands.record_answers(
        [again], lambda r: Answered(r, Pending("re_psp_1")), NOW, RetryPolicy()
    )
    assert pending.pending_at_psp
    assert app.get_order("po_1").refunds_in_flight == {"re_1": 100}


def test_a_webhook_outcome_is_recorded_once_with_the_order(app: PaymentsApplication) -> None:
    captured(app)
    ask(app, amount=100)
    commands = ExecutionCommands(app, random.Random(1))
    commands.start_attempts([RefundCommands(app).get("re_1")], lambda r: r)
    refunds = RefundCommands(app)
    assert refunds.record_answer("re_1", Succeeded("re_psp_1"), source="webhook")
    assert not refunds.record_answer("re_1", Succeeded("re_psp_1"), source="webhook")
    assert app.get_order("po_1").refunded_minor == 100
    # A contradiction is recorded, never applied.
    failed = Declined(FailureCode.REJECTED, "refund_failed", "re_psp_1")
    assert not refunds.record_answer("re_1", failed, source="webhook")
    assert refunds.get("re_1").discrepancies == 1
    assert app.get_order("po_1").refunded_minor == 100


def test_an_outcome_before_any_attempt_is_refused(app: PaymentsApplication) -> None:
    captured(app)
    ask(app, amount=100)
    with pytest.raises(IllegalTransition):
        RefundCommands(app).record_answer("re_1", Succeeded("re_psp_1"), source="webhook")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (0, "must be greater than zero"),
        (-5, "must be greater than zero"),
        (1001, "must be at most 10.00"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_written(
    app: PaymentsApplication, amount: int, message: str
) -> None:
    captured(app)
    before = app.recorder.max_notification_id()
    with pytest.raises(InvalidCommand) as refused:
        ask(app, amount=amount)
    assert [(e.field, message in e.message) for e in refused.value.errors] == [("amount", True)]
    assert app.recorder.max_notification_id() == before


def test_nothing_left_is_refused(app: PaymentsApplication) -> None:
    captured(app)
    ask(app, "re_1", None)
    with pytest.raises(InvalidCommand, match="nothing is left"):
        ask(app, "re_2", None)
    with pytest.raises(InvalidCommand, match="nothing is left"):
        ask(app, "re_3", 1)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 201, "line\nbreak"])
def test_bad_reasons_are_refused(app: PaymentsApplication, reason: str) -> None:
    captured(app)
    with pytest.raises(InvalidCommand, match="reason"):
        ask(app, reason=reason)


def test_only_a_captured_order_can_be_refunded(app: PaymentsApplication) -> None:
    place(app, order_id="po_new")
    with pytest.raises(OrderNotRefundable, match="NOT_STARTED"):
        ask(app, order_id="po_new")
    order = app.get_order("po_new")
    order.start_execution()
    order.record_failure(FailureCode.CARD_DECLINED, "declined", None, source="psp")
    app.record(order)
    with pytest.raises(OrderNotRefundable, match="FAILED"):
        ask(app, order_id="po_new")
    with pytest.raises(NotFound):
        ask(app, order_id="po_unknown")


def test_a_repeated_request_answers_the_same_refund_and_another_body_conflicts(
    app: PaymentsApplication,
) -> None:
    captured(app)
    first = ask(app, "re_1", 300)
    placement = RefundCommands(app).request_refund(
        RequestRefund("re_1", "po_1", 300, "damaged", requested_by="key_merchant")
    )
    assert not placement.created
    assert placement.refund.id == first.id
    assert (
        RefundCommands(app)
        .request_refund(RequestRefund("re_1", "po_1", None, None, requested_by="key_merchant"))
        .refund.amount_minor
        == 300
    )
    with pytest.raises(RefundConflict):
        ask(app, "re_1", 301)
    assert app.get_order("po_1").refundable_minor == 700


def test_the_split_is_recorded_in_the_events_by_policy() -> None:
    kept = make_app(RefundCommissionPolicy.KEEP, "10%")
    captured(kept)
    refund = ask(kept, amount=333)
    assert (refund.seller_share_minor, refund.platform_share_minor) == (333, 0)

    returned = make_app(RefundCommissionPolicy.RETURN, "10%")
    captured(returned)
    parts = [ask(returned, f"re_{i}", amount) for i, amount in enumerate([333, 333, 334])]
    assert sum(p.platform_share_minor for p in parts) == 100  # exactly the commission
    assert all(p.seller_share_minor + p.platform_share_minor == p.amount_minor for p in parts)
    succeeded = settle(returned, "re_0", Succeeded("re_psp_0"))
    [event] = [e for e in returned.events.get(succeeded.id) if isinstance(e, Refund.Succeeded)]
    assert (event.seller_share_minor, event.platform_share_minor) == (
        parts[0].seller_share_minor,
        parts[0].platform_share_minor,
    )


def test_twenty_concurrent_requests_for_the_last_cent_accept_exactly_one(
    app: PaymentsApplication,
) -> None:
    captured(app, "0.01")
    accepted: list[str] = []
    refused: list[str] = []

    def request(i: int) -> None:
        try:
            ask(app, f"re_{i}", 1)
            accepted.append(f"re_{i}")
        except InvalidCommand:
            refused.append(f"re_{i}")

    all_at_once(20, request)
    assert len(accepted) == 1
    assert len(refused) == 19
    order = app.get_order("po_1")
    assert order.refund_ids == tuple(accepted)
    assert order.taken_minor == 1


def test_the_order_status_fold_applies_refund_events(app: PaymentsApplication) -> None:
    captured(app)
    ask(app, amount=100)
    settle(app, "re_1", Succeeded("re_psp_1"))
    row = None
    for position, event in enumerate(app.events.get(app.get_order("po_1").id), start=1):
        row = apply_order_event(row, event, position)
    assert row is not None
    assert row.status == "SUCCESS"


def test_refund_ids_are_deterministic_per_key() -> None:
    assert refund_id_for_key("k1 abc") == refund_id_for_key("k1 abc")
    assert refund_id_for_key("k1 abc") != refund_id_for_key("k2 abc")
    assert len(refund_id_for_key("x")) <= 64


def test_the_posting_rule_books_the_split_of_the_event() -> None:
    from payments.projections.views.postings import (
        PLATFORM_REVENUE,
        POSTING_RULES,
        PSP_RECEIVABLE,
        check_balanced,
    )

    app = make_app(RefundCommissionPolicy.RETURN, "10%")
    captured(app)
    ask(app, amount=500)
    succeeded = settle(app, "re_1", Succeeded("re_psp_1"))
    [event] = [e for e in app.events.get(succeeded.id) if isinstance(e, Refund.Succeeded)]
    posted = POSTING_RULES[Refund.Succeeded](event, None)
    assert posted is not None
    check_balanced(posted.postings)
    assert (posted.kind, posted.payment_order_id) == ("refund", "po_1")
    assert {(p.account, p.debit_minor, p.credit_minor) for p in posted.postings} == {
        ("seller:seller_a", 450, 0),
        (PLATFORM_REVENUE, 50, 0),
        (PSP_RECEIVABLE, 0, 500),
    }


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("succeeded", Succeeded("re_x")),
        ("pending", Pending("re_x")),
        ("failed", Declined(FailureCode.REJECTED, "refund_failed", "re_x")),
    ],
)
def test_refund_answers_are_classified_like_charges(status: str, expected: object) -> None:
    from payments.psp.answers import outcome_of_refund

    body = {"id": "re_x", "status": status, "failure_code": "refund_failed"}
    assert outcome_of_refund(body) == expected
    assert isinstance(outcome_of_refund({"id": "re_x", "status": "odd"}), Retryable)


def test_refund_webhooks_are_read_as_refund_notices() -> None:
    import json

    from payments.psp.webhooks import IgnoredNotice, RefundNotice, read_event

    def body(kind: str, status: str) -> bytes:
        refund = {"id": "re_psp", "reference": "re_ours", "status": status}
        return json.dumps({"id": "evt_1", "type": kind, "data": {"object": refund}}).encode()

    notice = read_event(body("refund.succeeded", "succeeded"))
    assert notice == RefundNotice("evt_1", "refund.succeeded", "re_ours", Succeeded("re_psp"))
    assert isinstance(read_event(body("refund.pending", "pending")), IgnoredNotice)
