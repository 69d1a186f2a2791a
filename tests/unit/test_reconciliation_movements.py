"""Refund and dispute lines against the movements of ours they report (issue #15), pure.

Refunded, Chargeback and its dispute Fee, ChargebackReversed and SecondChargeback lines as the
sandbox writes them (psp/sandbox/movements.py), matched to movements built by hand the way the
history replay builds them from Refund and Dispute events.
"""

from __future__ import annotations

from datetime import timedelta

from payments.domain.reconciliation.accounts import PSP_BALANCE, PSP_RECEIVABLE
from payments.domain.reconciliation.classifier import Classifier
from payments.domain.reconciliation.expected import (
    CHARGEBACK,
    CHARGEBACK_REVERSAL,
    DISPUTE_FEE,
    REFUND,
    SECOND_CHARGEBACK,
    SUCCESS,
    Expected,
    MovementFacts,
    Settled,
)
from payments.domain.reconciliation.lines import LineKind, PspLine, line_identity
from payments.domain.reconciliation.memory import booking_entries, total_entries
from payments.domain.reconciliation.outcome import Rules
from tests.unit.test_reconciliation_rules import NOW, a_line, bookings, classify, kinds, succeeded

K = LineKind
AMOUNT, REFUNDED, DISPUTED, FEE = 1000, 300, 700, 15


def movement(
    kind: str, key: str, signed: int, status: str = SUCCESS, hours_ago: int = 1
) -> MovementFacts:
    facts = MovementFacts(kind, key, "o1", signed, "USD")
    facts.status, facts.psp_reference = status, "re_1" if kind == REFUND else key
    facts.happened_at = (
        (NOW - timedelta(hours=hours_ago)).isoformat() if status == SUCCESS else None
    )
    return facts


def facts(*movements: MovementFacts, capture_in_file: bool = False) -> Expected:
    """Our order o1 (1000) and movements; its capture settled by an earlier file unless this
    file carries it."""
    order = succeeded()
    if not capture_in_file:
        order.settled = Settled("f" * 16, "run-0", 2, 970, 30)
    found = Expected(through_position=1, orders={"o1": order})
    for made in movements:
        found.add_movement(made)
        if made.kind == REFUND and made.psp_reference:
            found.refunds_by_psp[made.psp_reference] = made.movement_id
    return found


def refund_line(number: int, amount: int = REFUNDED, **fields: object) -> PspLine:
    values: dict[str, object] = {
        "record_type": "Refunded", "merchant_reference": "r1", "modification_reference": "re_1",
        "gross_minor": -amount, "net_minor": -amount, "fee_minor": 0,
    }  # fmt: skip
    values.update(fields)
    return a_line(number, K.REFUND, **values)


def dispute_line(number: int, kind: LineKind, record_type: str, net: int) -> PspLine:
    gross = None if kind is K.FEE else net
    return a_line(
        number, kind, record_type=record_type, modification_reference="dp_1", net_minor=net,
        gross_minor=gross, gross_currency=None if gross is None else "USD", fee_minor=0,
    )  # fmt: skip


def capture_line() -> PspLine:
    return a_line(2)  # 1000 gross, 970 net, 30 fee


def test_a_refund_line_matches_our_succeeded_refund_and_clears_what_the_refund_credited() -> None:
    result = classify(facts(movement(REFUND, "r1", -REFUNDED)), refund_line(3))
    [booking] = bookings(result)
    assert (booking.booking, booking.reference) == ("refund", "refund:r1")
    assert booking_entries(booking) == {
        "psp_balance": -300, "psp_fees": 0, "write_offs": 0, "psp_receivable": 300,
    }  # fmt: skip
    assert result.findings == []
    assert result.chunks[0].matched == 1


def test_a_refund_line_is_found_by_the_psps_refund_id_when_it_names_not_ours() -> None:
    line = refund_line(3, merchant_reference="something-else")
    [booking] = bookings(classify(facts(movement(REFUND, "r1", -REFUNDED)), line))
    assert booking.reference == "refund:r1"


def test_a_chargeback_and_its_dispute_fee_match_the_opened_dispute() -> None:
    opened = (movement(CHARGEBACK, "dp_1", -DISPUTED), movement(DISPUTE_FEE, "dp_1", -FEE))
    lines = (dispute_line(3, K.CHARGEBACK, "Chargeback", -DISPUTED),
             dispute_line(4, K.FEE, "Fee", -FEE))  # fmt: skip
    result = classify(facts(*opened), *lines)
    assert [(b.booking, b.reference) for b in bookings(result)] == [
        ("chargeback", "chargeback:dp_1"), ("dispute_fee", "dispute_fee:dp_1"),
    ]  # fmt: skip
    assert total_entries(bookings(result)) == {PSP_RECEIVABLE: 715, PSP_BALANCE: -715}
    assert result.findings == []


def test_a_reversal_matches_the_won_dispute_and_a_second_chargeback_the_reopened_one() -> None:
    won = movement(CHARGEBACK_REVERSAL, "dp_1", DISPUTED)
    reopened = movement(SECOND_CHARGEBACK, "dp_1", -DISPUTED)
    lines = (dispute_line(3, K.CHARGEBACK_REVERSAL, "ChargebackReversed", DISPUTED),
             dispute_line(4, K.SECOND_CHARGEBACK, "SecondChargeback", -DISPUTED))  # fmt: skip
    result = classify(facts(won, reopened), *lines)
    [back, again] = bookings(result)
    assert booking_entries(back)[PSP_BALANCE] == 700
    assert booking_entries(back)[PSP_RECEIVABLE] == -700
    assert booking_entries(again)[PSP_RECEIVABLE] == 700
    assert result.findings == []


def test_a_day_of_captures_refunds_and_disputes_leaves_nothing_on_psp_receivable() -> None:
    """Our events' postings (ADR 0014) and the day's lines: the receivable returns to zero."""
    ours = facts(
        movement(REFUND, "r1", -REFUNDED),
        movement(CHARGEBACK, "dp_1", -DISPUTED),
        movement(DISPUTE_FEE, "dp_1", -FEE),
        movement(CHARGEBACK_REVERSAL, "dp_1", DISPUTED),
        capture_in_file=True,
    )
    lines = (
        capture_line(),
        refund_line(3),
        dispute_line(4, K.CHARGEBACK, "Chargeback", -DISPUTED),
        dispute_line(5, K.FEE, "Fee", -FEE),
        dispute_line(6, K.CHARGEBACK_REVERSAL, "ChargebackReversed", DISPUTED),
    )
    result = classify(ours, *lines)
    assert result.findings == []
    # pay-in Dr 1000; refund succeeded Cr 300; dispute opened Cr 700 + 15; dispute won Dr 700
    posted_by_our_events = AMOUNT - REFUNDED - (DISPUTED + FEE) + DISPUTED
    settled = total_entries(bookings(result))
    assert posted_by_our_events + settled[PSP_RECEIVABLE] == 0
    # what the PSP holds for us: the capture's net, less what it paid back and kept
    assert settled[PSP_BALANCE] == 970 - REFUNDED - DISPUTED - FEE + DISPUTED


def test_refund_and_dispute_lines_that_disagree_with_ours_are_exceptions() -> None:
    ours = facts(
        movement(REFUND, "r1", -REFUNDED),
        movement(REFUND, "r2", -100, status="REQUESTED"),
        movement(CHARGEBACK, "dp_1", -DISPUTED),
    )
    result = classify(
        ours,
        refund_line(3, amount=299),
        refund_line(4, amount=100, merchant_reference="r2", modification_reference="re_2"),
        refund_line(5, merchant_reference="r9", modification_reference="re_9"),
        dispute_line(6, K.CHARGEBACK, "Chargeback", -DISPUTED - 1),
        a_line(7, K.CHARGEBACK, record_type="Chargeback", modification_reference="dp_9"),
        dispute_line(8, K.FEE, "Fee", -FEE),  # no fee recorded: names our order, not booked
        a_line(
            9,
            K.FEE,
            record_type="Fee",
            merchant_reference="",
            net_minor=-250,
            gross_minor=None,
            gross_currency=None,
            fee_minor=0,
        ),
    )
    assert kinds(result) == {
        "line-3": "amount_mismatch",
        "line-4": "status_mismatch",
        "line-5": "unmatched_refund",
        "line-6": "amount_mismatch",
        "line-7": "unmatched_chargeback",
        "line-8": "unmatched_chargeback",
    }
    mismatch = result.findings[0]
    assert mismatch.movement == "refund:r1"
    assert (mismatch.payment_order_id, mismatch.expected_minor, mismatch.psp_minor) == (
        "o1", -300, -299,
    )  # fmt: skip
    assert mismatch.adjustment == {PSP_BALANCE: -299, PSP_RECEIVABLE: 300}
    assert [b.booking for b in bookings(result)] == ["fee"]  # an ordinary fee line


def test_a_refund_line_is_booked_once_across_files_and_a_second_one_is_a_duplicate() -> None:
    line = refund_line(3)
    booked = movement(REFUND, "r1", -REFUNDED)
    booked.settled = Settled(line_identity(line), "run-1", 3, -REFUNDED, 0)
    result = classify(facts(booked), line)
    assert bookings(result) == []
    assert result.findings == []
    assert result.chunks[0].already_reconciled == 1

    other = movement(REFUND, "r1", -REFUNDED)
    other.settled = Settled("0" * 16, "run-1", 3, -REFUNDED, 0)
    assert kinds(classify(facts(other), line)) == {"line-3": "duplicate_settlement"}

    again = refund_line(5, modification_reference="re_2")
    twice = classify(facts(movement(REFUND, "r1", -REFUNDED)), line, refund_line(4), again)
    assert kinds(twice) == {"line-4": "duplicate", "line-5": "duplicate_settlement"}
    assert len(bookings(twice)) == 1


def test_a_refund_or_dispute_not_in_the_file_awaits_settlement_then_is_missing() -> None:
    ours = facts(
        movement(REFUND, "r1", -REFUNDED),
        movement(CHARGEBACK, "dp_1", -DISPUTED),
        capture_in_file=True,
    )
    result = classify(ours, capture_line())
    awaiting = {f.finding_id: f for f in result.findings}
    assert {k: f.kind for k, f in awaiting.items()} == {
        "refund-r1": "awaiting_settlement",
        "chargeback-dp_1": "awaiting_settlement",
    }
    assert awaiting["refund-r1"].movement == "refund:r1"
    assert awaiting["refund-r1"].due == (NOW - timedelta(hours=1) + timedelta(days=3)).isoformat()

    ours = facts(movement(REFUND, "r1", -REFUNDED), capture_in_file=True)
    later = Classifier(ours, Rules("USD", NOW + timedelta(days=4)))
    later.feed(capture_line())
    late = later.finish()
    [missing] = late.findings
    assert (missing.finding_id, missing.kind, missing.state) == ("refund-r1", "missing_at_psp",
                                                                 "open")  # fmt: skip
    assert missing.adjustment == {PSP_RECEIVABLE: 300}


def test_a_refund_in_flight_or_failed_is_not_awaited() -> None:
    ours = facts(
        movement(REFUND, "r1", -REFUNDED, status="REQUESTED"),
        movement(REFUND, "r2", -100, status="FAILED"),
        capture_in_file=True,
    )
    assert classify(ours, capture_line()).findings == []
