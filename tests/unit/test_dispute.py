"""Disputes, given what the PSP confirms, expecting Dispute and PaymentOrder events out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.application import (
    OrderLine,
    PaymentsApplication,
    PlaceCheckout,
)
from payments.domain.commission import RefundCommissionPolicy, Split
from payments.domain.dispute import (
    Dispute,
    DisputeClosed,
    DisputeStatus,
    EvidenceTooLate,
    PspDispute,
    evidence_summary,
)
from payments.domain.dispute_commands import (
    DisputeCommands,
    DisputeMismatch,
    NoDispute,
    dispute_split,
    refunds_taken_minor,
)
from payments.domain.errors import IllegalTransition, NotFound
from payments.domain.money import Money
from payments.domain.payment_order import PaymentOrder
from payments.projections.views.order_status import apply_order_event
from payments.projections.views.order_terms import TermsBook
from payments.projections.views.postings import POSTING_RULES, check_balanced
from tests.unit import apps

DUE = datetime(2030, 1, 8, tzinfo=UTC)


def make_app() -> PaymentsApplication:
    return apps.make_app(commission="10%")  # 1000 of an order of 10000


def captured(app: PaymentsApplication, order_id: str = "po_1", amount: str = "100") -> None:
    apps.place(app, amount, order_id=order_id, seller="seller_1")
    order = app.get_order(order_id)
    order.start_execution()
    order.record_success(f"ch_{order_id}", source="psp")
    app.record(order)


def facts(status: DisputeStatus = DisputeStatus.NEEDS_RESPONSE, **changes: object) -> PspDispute:
    values: dict[str, object] = {
        "psp_dispute_id": "dp_1",
        "charge_id": "ch_po_1",
        "charge_reference": "po_1",
        "amount_minor": 10000,
        "currency": "USD",
        "fee_minor": 1500,
        "reason": "fraudulent",
        "status": status,
        "evidence_due_by": DUE,
    }
    values.update(changes)
    return PspDispute(**values)  # type: ignore[arg-type]


def topics(app: PaymentsApplication, after: int) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(after + 1, 100)]


@pytest.fixture
def app() -> PaymentsApplication:
    application = make_app()
    captured(application)
    return application


def commands(app: PaymentsApplication, policy: str = "keep") -> DisputeCommands:
    return DisputeCommands(app, RefundCommissionPolicy(policy))


def test_opening_saves_the_dispute_and_the_order_taking_together(app: PaymentsApplication) -> None:
    head = app.recorder.max_notification_id() or 0
    recording = commands(app).record_psp_dispute(facts())
    assert recording.changed
    assert recording.position == head + 2
    assert topics(app, head) == [
        "payments.Dispute.Opened.v1",
        "payments.PaymentOrder.DisputeOpened.v1",
    ]
    dispute = recording.dispute
    assert (dispute.status, dispute.amount_minor, dispute.fee_minor) == (
        DisputeStatus.NEEDS_RESPONSE,
        10000,
        1500,
    )
    assert (dispute.seller_share_minor, dispute.platform_share_minor) == (10000, 0)
    assert app.get_order("po_1").disputed_minor == 10000


def test_return_policy_takes_the_commission_back_from_the_platform(
    app: PaymentsApplication,
) -> None:
    dispute = commands(app, "return").record_psp_dispute(facts()).dispute
    assert (dispute.seller_share_minor, dispute.platform_share_minor) == (9000, 1000)


def test_the_same_dispute_confirmed_twice_is_recorded_once(app: PaymentsApplication) -> None:
    commands(app).record_psp_dispute(facts())
    head = app.recorder.max_notification_id() or 0
    again = commands(app).record_psp_dispute(facts())
    assert not again.changed
    assert again.position is None
    assert topics(app, head) == []


def test_won_gives_back_exactly_the_shares_withdrawn(app: PaymentsApplication) -> None:
    disputes = commands(app, "return")
    disputes.record_psp_dispute(facts())
    head = app.recorder.max_notification_id() or 0
    assert disputes.record_psp_dispute(facts(DisputeStatus.WON)).changed
    assert topics(app, head) == [
        "payments.Dispute.Won.v1",
        "payments.PaymentOrder.DisputeClosed.v1",
    ]
    won = [e for e in app.events.get(Dispute.create_id("dp_1")) if isinstance(e, Dispute.Won)]
    assert (won[0].seller_share_minor, won[0].platform_share_minor) == (9000, 1000)
    assert app.get_order("po_1").disputed_minor == 0
    assert not disputes.record_psp_dispute(facts(DisputeStatus.WON)).changed


def test_lost_keeps_the_amount_taken(app: PaymentsApplication) -> None:
    disputes = commands(app)
    disputes.record_psp_dispute(facts())
    assert disputes.record_psp_dispute(facts(DisputeStatus.LOST)).changed
    assert disputes.dispute_of_order("po_1").status is DisputeStatus.LOST
    assert app.get_order("po_1").disputed_minor == 10000
    assert not disputes.record_psp_dispute(facts(DisputeStatus.LOST)).changed


def test_a_stale_open_state_after_the_decision_changes_nothing(app: PaymentsApplication) -> None:
    disputes = commands(app)
    disputes.record_psp_dispute(facts(DisputeStatus.LOST))
    assert not disputes.record_psp_dispute(facts(DisputeStatus.NEEDS_RESPONSE)).changed
    assert not disputes.record_psp_dispute(facts(DisputeStatus.WON)).changed  # lost is final
    assert disputes.dispute_of_order("po_1").status is DisputeStatus.LOST


def test_first_seen_decided_is_opened_and_decided_in_one_save(app: PaymentsApplication) -> None:
    head = app.recorder.max_notification_id() or 0
    commands(app).record_psp_dispute(facts(DisputeStatus.WON))
    assert topics(app, head) == [
        "payments.Dispute.Opened.v1",
        "payments.Dispute.Won.v1",
        "payments.PaymentOrder.DisputeOpened.v1",
        "payments.PaymentOrder.DisputeClosed.v1",
    ]


def test_lost_after_won_is_a_second_chargeback(app: PaymentsApplication) -> None:
    disputes = commands(app, "return")
    disputes.record_psp_dispute(facts())
    disputes.record_psp_dispute(facts(DisputeStatus.WON))
    head = app.recorder.max_notification_id() or 0
    assert disputes.record_psp_dispute(facts(DisputeStatus.LOST)).changed
    assert topics(app, head) == [
        "payments.Dispute.Reopened.v1",
        "payments.PaymentOrder.DisputeClosed.v1",
    ]
    dispute = disputes.dispute_of_order("po_1")
    assert dispute.status is DisputeStatus.LOST
    assert dispute.reopened
    assert (dispute.seller_share_minor, dispute.platform_share_minor) == (9000, 1000)
    assert app.get_order("po_1").disputed_minor == 10000
    assert not disputes.record_psp_dispute(facts(DisputeStatus.LOST)).changed


def test_a_dispute_before_the_capture_is_recorded_is_too_early() -> None:
    app = make_app()
    app.place_checkout(
        PlaceCheckout("co_2", {"email": "b@example.com"}, "tok", {}, (
            OrderLine("po_1", "seller_1", Money.parse("100", "USD")),
        ))
    )  # fmt: skip
    with pytest.raises(IllegalTransition):
        commands(app).record_psp_dispute(facts())
    assert commands(app).find("dp_1") is None


def test_a_dispute_of_an_unknown_order_or_another_charge_is_refused(
    app: PaymentsApplication,
) -> None:
    with pytest.raises(NotFound):
        commands(app).record_psp_dispute(facts(charge_reference="po_unknown"))
    with pytest.raises(DisputeMismatch):
        commands(app).record_psp_dispute(facts(charge_id="ch_other"))
    with pytest.raises(DisputeMismatch):
        commands(app).record_psp_dispute(facts(currency="EUR"))
    assert commands(app).find("dp_1") is None


def test_more_disputed_than_is_left_is_capped_and_the_rest_is_the_sellers() -> None:
    app = make_app()
    captured(app)
    order = app.get_order("po_1")
    policy = RefundCommissionPolicy.RETURN
    # 4000 taken before (say refunds): 6000 left, split pro rata; the 4000 beyond on the seller.
    assert dispute_split(order, 4000, 10000, policy) == Split(4000 + 5400, 600)
    assert dispute_split(order, 10000, 2500, policy) == Split(2500, 0)
    assert dispute_split(order, 0, 10000, RefundCommissionPolicy.KEEP) == Split(10000, 0)


def test_evidence_is_recorded_once_with_a_short_summary(app: PaymentsApplication) -> None:
    disputes = commands(app)
    disputes.record_psp_dispute(facts())
    before = DUE - timedelta(days=1)
    target = disputes.evidence_target("po_1", before)
    text = "winning_evidence: " + "receipt " * 100
    assert disputes.record_evidence(target.psp_dispute_id, "key_1", text) is not None
    assert disputes.record_evidence(target.psp_dispute_id, "key_1", text) is None
    dispute = disputes.dispute_of_order("po_1")
    assert dispute.status is DisputeStatus.UNDER_REVIEW
    submitted = [e for e in app.events.get(dispute.id) if isinstance(e, Dispute.EvidenceSubmitted)]
    assert len(submitted) == 1
    assert submitted[0].submitted_by == "key_1"
    assert submitted[0].summary == evidence_summary(text)
    assert len(submitted[0].summary) == 100
    with pytest.raises(DisputeClosed):
        disputes.evidence_target("po_1", before)  # under review: evidence goes in once


def test_evidence_after_the_deadline_or_when_closed_is_refused(app: PaymentsApplication) -> None:
    disputes = commands(app)
    disputes.record_psp_dispute(facts())
    with pytest.raises(EvidenceTooLate):
        disputes.evidence_target("po_1", DUE)
    disputes.record_psp_dispute(facts(DisputeStatus.LOST))
    with pytest.raises(DisputeClosed):
        disputes.evidence_target("po_1", DUE - timedelta(days=1))


def test_an_order_without_dispute_has_none_to_answer(app: PaymentsApplication) -> None:
    with pytest.raises(NoDispute):
        commands(app).evidence_target("po_1", DUE)
    with pytest.raises(NotFound):
        commands(app).dispute_of_order("po_unknown")


def test_the_order_refuses_a_dispute_outcome_it_never_opened() -> None:
    app = make_app()
    captured(app)
    order: PaymentOrder = app.get_order("po_1")
    with pytest.raises(IllegalTransition):
        order.close_dispute("dp_x", "won")
    assert order.take_dispute("dp_x", 100)
    assert not order.take_dispute("dp_x", 100)
    assert order.latest_dispute_id == "dp_x"


def _ledger(app: PaymentsApplication) -> list[tuple[str, dict[str, int]]]:
    """Each dispute event's posting: its kind and signed entries (debit +)."""
    posted = []
    for event in app.events.get(Dispute.create_id("dp_1")):
        rule = POSTING_RULES.get(type(event))
        result = None if rule is None else rule(event, TermsBook())
        if result is not None:
            check_balanced(result.postings)
            entries = {p.account: p.debit_minor - p.credit_minor for p in result.postings}
            posted.append((result.kind, entries))
    return posted


def test_ledger_withdraws_on_opening_reinstates_on_a_win_and_again_on_a_reopen(
    app: PaymentsApplication,
) -> None:
    disputes = commands(app, "return")
    for status in (DisputeStatus.NEEDS_RESPONSE, DisputeStatus.WON, DisputeStatus.LOST):
        disputes.record_psp_dispute(facts(status))
    assert _ledger(app) == [
        (
            "dispute_opened",
            {
                "dispute_fees": 1500,
                "platform_revenue": 1000,
                "psp_receivable": -11500,
                "seller:seller_1": 9000,
            },
        ),
        (
            "dispute_won",
            {"platform_revenue": -1000, "psp_receivable": 10000, "seller:seller_1": -9000},
        ),
        (
            "dispute_reopened",
            {"platform_revenue": 1000, "psp_receivable": -10000, "seller:seller_1": 9000},
        ),
    ]


def test_a_lost_dispute_posts_nothing_more(app: PaymentsApplication) -> None:
    disputes = commands(app)
    disputes.record_psp_dispute(facts())
    disputes.record_psp_dispute(facts(DisputeStatus.LOST))
    assert [kind for kind, _ in _ledger(app)] == ["dispute_opened"]
    assert _ledger(app)[0][1] == {
        "dispute_fees": 1500,
        "psp_receivable": -11500,
        "seller:seller_1": 10000,
    }


def test_what_refunds_took_counts_succeeded_and_in_flight(app: PaymentsApplication) -> None:
    order = app.get_order("po_1")
    assert refunds_taken_minor(order) == 0  # no refund yet
    order.refunded_minor = 3000  # as the refunds side of the order keeps them
    order.refunds_in_flight = {"rf_1": 1000}
    assert refunds_taken_minor(order) == 4000


def test_the_order_status_fold_applies_dispute_events(app: PaymentsApplication) -> None:
    disputes = commands(app)
    for status in (DisputeStatus.NEEDS_RESPONSE, DisputeStatus.WON, DisputeStatus.LOST):
        disputes.record_psp_dispute(facts(status))
    order = app.get_order("po_1")
    row = None
    for position, event in enumerate(app.events.get(order.id), start=1):
        row = apply_order_event(row, event, position)  # the view rebuilds the order from a row
    assert row is not None
    assert (row.version, row.status) == (order.version, "SUCCESS")
