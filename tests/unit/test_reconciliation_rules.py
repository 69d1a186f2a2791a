"""The reconciliation rules, pure: settlement lines and our facts in, classes and bookings out.

No database, no clock: facts are built by hand (the history replay builds the same objects
from the log) and `as_of` is given.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from payments.domain.errors import InvalidCommand
from payments.domain.reconciliation import accounts
from payments.domain.reconciliation.classifier import Classifier
from payments.domain.reconciliation.expected import (
    Expected,
    OrderFacts,
    PayoutFacts,
    Settled,
)
from payments.domain.reconciliation.findings import Finding
from payments.domain.reconciliation.lines import LineKind, PspLine, UnreadableLine, line_identity
from payments.domain.reconciliation.memory import (
    Booking,
    booking_entries,
    nets_of,
    pack,
    total_entries,
    unpack,
)
from payments.domain.reconciliation.outcome import Classification, Rules
from payments.domain.reconciliation.resolutions import resolution_entries
from payments.projections.views import postings

NOW = datetime(2030, 1, 2, 12, 0, tzinfo=UTC)
K = LineKind


def a_line(number: int, kind: LineKind = K.CAPTURE, **fields: object) -> PspLine:
    values: dict[str, object] = {
        "source": "adyen",
        "line": number,
        "kind": kind,
        "record_type": "Settled",
        "psp_reference": "ch_1",
        "merchant_reference": "o1",
        "modification_reference": f"m{number}",
        "line_reference": "",
        "booked_at": NOW - timedelta(hours=1),
        "currency": "USD",
        "net_minor": 970,
        "gross_minor": 1000,
        "gross_currency": "USD",
        "fee_minor": 30,
        "batch": "7",
        "raw": f"raw line {number}",
    }
    values.update(fields)
    return PspLine(**values)  # type: ignore[arg-type]


def succeeded(order_id: str = "o1", amount: int = 1000, psp: str = "ch_1") -> OrderFacts:
    facts = OrderFacts(order_id, amount, "USD")
    facts.status, facts.psp_reference = "SUCCESS", psp
    facts.succeeded_at = (NOW - timedelta(hours=2)).isoformat()
    return facts


def expected(*orders: OrderFacts, payouts: tuple[PayoutFacts, ...] = ()) -> Expected:
    return Expected(
        through_position=1,
        orders={o.payment_order_id: o for o in orders},
        payouts={p.payout_id: p for p in payouts},
    )


def classify(facts: Expected, *lines: PspLine | UnreadableLine, **rules: object) -> Classification:
    classifier = Classifier(facts, Rules(currency="USD", as_of=NOW, **rules))  # type: ignore[arg-type]
    classifier.feed_all(lines)
    return classifier.finish()


def kinds(result: Classification) -> dict[str, str]:
    return {f.finding_id: f.kind for f in result.findings}


def bookings(result: Classification) -> list[Booking]:
    return [b for chunk in result.chunks for b in chunk.booked()]


def test_a_matched_capture_is_booked_with_its_net_and_fee_and_clears_the_receivable() -> None:
    result = classify(expected(succeeded()), a_line(2))
    [booking] = bookings(result)
    assert (booking.booking, booking.reference, booking.net_minor, booking.fee_minor) == (
        "capture", "o1", 970, 30,
    )  # fmt: skip
    assert booking_entries(booking) == {
        "psp_balance": 970, "psp_fees": 30, "write_offs": 0, "psp_receivable": -1000,
    }  # fmt: skip
    assert result.findings == []
    assert result.chunks[0].matched == 1


def test_a_net_only_capture_line_is_matched_on_net_plus_fee() -> None:
    line = a_line(2, gross_minor=None, gross_currency=None, net_minor=971, fee_minor=29)
    result = classify(expected(succeeded()), line)
    assert [b.booking for b in bookings(result)] == ["capture"]


def test_a_difference_within_the_tolerance_matches_and_is_written_off() -> None:
    line = a_line(2, gross_minor=997, net_minor=967)
    [booking] = bookings(classify(expected(succeeded()), line, tolerance_minor=3))
    assert booking.write_off_minor == 3
    assert sum(booking_entries(booking).values()) == 0
    beyond = classify(expected(succeeded()), line, tolerance_minor=2)
    assert kinds(beyond) == {"line-2": "amount_mismatch"}
    assert beyond.findings[0].adjustment == {
        "psp_balance": 967, "psp_fees": 30, "psp_receivable": -1000,
    }  # fmt: skip


def test_the_same_line_twice_is_a_duplicate_and_another_line_for_the_capture_a_duplicate_settlement() -> (
    None
):
    same = classify(expected(succeeded()), a_line(2), a_line(3, modification_reference="m2"))
    assert kinds(same) == {"line-3": "duplicate"}
    other = classify(expected(succeeded()), a_line(2), a_line(3))
    assert kinds(other) == {"line-3": "duplicate_settlement"}


def test_a_capture_booked_by_an_earlier_run_is_already_reconciled_or_settled_twice() -> None:
    line = a_line(2)
    order = succeeded()
    order.settled = Settled(line_identity(line), "run-1", 5, 970, 30)
    again = classify(expected(order), line)
    assert (kinds(again), again.chunks[0].already_reconciled, bookings(again)) == ({}, 1, [])
    order = succeeded()
    order.settled = Settled(line_identity(line), "run-1", 5, 970, 30)
    changed = classify(expected(order), replace(line, net_minor=960, fee_minor=40))
    [finding] = changed.findings
    assert finding.kind == "amount_mismatch"
    assert finding.adjustment == {"psp_balance": -10, "psp_fees": 10}
    order = succeeded()
    order.settled = Settled("another line", "run-1", 5, 970, 30)
    twice = classify(expected(order), line)
    assert kinds(twice) == {"line-2": "duplicate_settlement"}
    assert "run run-1 line 5" in twice.findings[0].detail


def test_fee_and_bank_lines_are_booked_once_per_line_identity() -> None:
    fee = a_line(2, K.FEE, record_type="Fee", gross_minor=None, gross_currency=None,
                 net_minor=-250, fee_minor=0, merchant_reference="", psp_reference="")  # fmt: skip
    bank = replace(fee, line=3, kind=K.MERCHANT_PAYOUT, record_type="MerchantPayout", net_minor=250)
    first = classify(expected(), fee, bank)
    assert [(b.booking, b.net_minor) for b in bookings(first)] == [("fee", -250), ("bank", 250)]
    assert total_entries(bookings(first)) == {"psp_fees": 250, "bank": -250}
    facts = expected()
    facts.seen_lines = {line_identity(fee): "run 1 line 2", line_identity(bank): "run 1 line 3"}
    second = classify(facts, replace(fee, line=9), replace(bank, line=10))
    assert (bookings(second), second.chunks[0].already_reconciled) == ([], 2)


@pytest.mark.parametrize(
    ("kind", "found"),
    [
        (K.REFUND, "unmatched_refund"),
        (K.REFUND_REVERSAL, "unmatched_refund"),
        (K.CAPTURE_REVERSAL, "unmatched_refund"),
        (K.CHARGEBACK, "unmatched_chargeback"),
        (K.CHARGEBACK_REVERSAL, "unmatched_chargeback"),
        (K.SECOND_CHARGEBACK, "unmatched_chargeback"),
        (K.CORRECTION, "unmatched_correction"),
        (K.OTHER, "not_reconciled"),
    ],
)
def test_lines_of_kinds_we_do_not_record_yet_are_their_own_class(
    kind: LineKind, found: str
) -> None:
    result = classify(expected(succeeded()), a_line(2, kind, record_type=kind.value))
    [finding] = [f for f in result.findings if f.line == 2]
    assert (finding.kind, finding.line) == (found, 2)
    if found != "not_reconciled":
        assert (finding.state, finding.raw, finding.payment_order_id) == (
            "open",
            "raw line 2",
            "o1",
        )


def test_unreadable_lines_and_foreign_currency_lines_are_exceptions_that_book_nothing() -> None:
    unknown = UnreadableLine(2, "a,b,Captured", "Type", "unknown record type", unknown_type=True)
    broken = UnreadableLine(3, "a,b,1e3", "Net Credit (NC)", "'1e3' is not a decimal amount")
    ours_in_eur = a_line(4, currency="EUR", gross_currency="EUR")
    nobodys = a_line(5, merchant_reference="x", currency="EUR", gross_currency="EUR")
    result = classify(expected(succeeded()), unknown, broken, ours_in_eur, nobodys)
    assert kinds(result) == {
        "line-2": "unknown_type",
        "line-3": "unreadable_line",
        "line-4": "currency_mismatch",
        "line-5": "foreign_currency",
        "order-o1": "awaiting_settlement",
    }
    assert bookings(result) == []
    assert {f.raw for f in result.findings if f.line} == {
        "a,b,Captured", "a,b,1e3", "raw line 4", "raw line 5",
    }  # fmt: skip
    for finding in result.findings[:4]:
        with pytest.raises(InvalidCommand):
            resolution_entries(finding, "accept_psp")


def test_an_executing_order_the_psp_settled_waits_for_the_psps_confirmation() -> None:
    order = OrderFacts("o1", 1000, "USD")
    order.status = "EXECUTING"
    [finding] = classify(expected(order), a_line(2)).findings
    assert (finding.kind, finding.state) == ("status_mismatch", "auto_fix")


def test_a_payout_line_of_a_later_batch_for_a_paid_payout_is_a_duplicate_settlement() -> None:
    payout = PayoutFacts("pay_1", 5000, "USD", "seller_1")
    payout.status, payout.psp_reference = "PAID", "tr_1"
    payout.paid_at = (NOW - timedelta(hours=3)).isoformat()
    line = a_line(2, K.PAYOUT, record_type="Balancetransfer", merchant_reference="pay_1",
                  psp_reference="tr_1", gross_minor=-5000, net_minor=-5000, fee_minor=0)  # fmt: skip
    payout.settled = Settled(line_identity(line), "run-1", 9, -5000, 0)
    again = replace(line, batch="8", modification_reference="again")
    [finding] = classify(expected(payouts=(payout,)), again).findings
    assert (finding.kind, finding.payout_id, finding.adjustment) == (
        "duplicate_settlement", "pay_1", {"psp_balance": -5000},
    )  # fmt: skip


def test_a_returned_payout_is_awaited_back_then_missing_with_its_due_date() -> None:
    payout = PayoutFacts("pay_1", 700, "USD", "seller_1")
    payout.status, payout.psp_reference = "RETURNED", "tr_1"
    payout.paid_at = (NOW - timedelta(days=5)).isoformat()
    payout.returned_at = (NOW - timedelta(hours=2)).isoformat()
    payout.settled = Settled("paid line", "run-1", 3, -700, 0)
    file_of_today = a_line(
        2, K.FEE, net_minor=-1, gross_minor=None, gross_currency=None, fee_minor=0
    )
    awaiting = classify(expected(payouts=(payout,)), file_of_today)
    [finding] = [f for f in awaiting.findings if f.payout_id]
    assert (finding.finding_id, finding.kind, finding.state) == (
        "payout-return-pay_1", "awaiting_settlement", "info",
    )  # fmt: skip
    assert finding.due == (NOW - timedelta(hours=2) + timedelta(days=3)).isoformat()
    payout.seen_line = payout.return_line = 0
    late = Classifier(expected(payouts=(payout,)), Rules("USD", NOW + timedelta(days=4)))
    late.feed(file_of_today)
    [missing] = [f for f in late.finish().findings if f.payout_id]
    assert (missing.kind, missing.state) == ("missing_at_psp", "open")
    assert resolution_entries(missing, "accept_psp") == {
        "psp_balance": -700, "seller:seller_1": 700,
    }  # fmt: skip
    with pytest.raises(InvalidCommand):
        resolution_entries(missing, "write_off")  # never a seller's balance


def test_a_batch_whose_lines_do_not_add_up_to_its_payout_line_is_one_exception() -> None:
    bank = a_line(3, K.MERCHANT_PAYOUT, record_type="MerchantPayout", net_minor=-960,
                  gross_minor=None, gross_currency=None, fee_minor=0, merchant_reference="")  # fmt: skip
    result = classify(expected(succeeded()), a_line(2), bank)
    assert kinds(result) == {"batch-7": "batch_mismatch"}
    assert result.findings[0].adjustment == {"psp_balance": -10}
    assert resolution_entries(result.findings[0], "write_off") == {
        "psp_balance": -10, "write_offs": 10,
    }  # fmt: skip


def test_resolutions_post_the_adjustment_balanced_by_write_offs_or_nothing() -> None:
    finding = Finding("line-2", "missing_internally", "open", line=2,
                      adjustment={"psp_balance": 970, "psp_fees": 30})  # fmt: skip
    assert resolution_entries(finding, "accept_psp") == {
        "psp_balance": 970, "psp_fees": 30, "write_offs": -1000,
    }  # fmt: skip
    assert resolution_entries(finding, "investigated") == {}
    assert resolution_entries(finding, "accept_ours") == {}
    with pytest.raises(InvalidCommand):
        resolution_entries(finding, "mark_duplicate")
    duplicate = replace(finding, kind="duplicate_settlement")
    assert resolution_entries(duplicate, "mark_duplicate") == {}
    missing = Finding("order-o1", "missing_at_psp", "open", adjustment={"psp_receivable": -1000})
    assert resolution_entries(missing, "write_off") == {"psp_receivable": -1000, "write_offs": 1000}


def test_bookings_travel_packed_and_come_back_the_same() -> None:
    booked = [Booking(2, "capture", "ab12", "o1", 970, 30, 3), Booking(9, "fee", "cd34", "", -5, 0)]
    assert list(unpack(pack(booked))) == booked
    assert list(unpack("")) == []


def test_the_domain_names_the_accounts_the_ledger_posts_to() -> None:
    assert (accounts.PSP_RECEIVABLE, accounts.PSP_BALANCE, accounts.PSP_FEES) == (
        postings.PSP_RECEIVABLE, postings.PSP_BALANCE, postings.PSP_FEES,
    )  # fmt: skip
    assert (accounts.WRITE_OFFS, accounts.BANK, accounts.PAYOUTS_IN_TRANSIT) == (
        postings.WRITE_OFFS, postings.BANK, postings.PAYOUTS_IN_TRANSIT,
    )  # fmt: skip
    assert accounts.seller("s1") == postings.seller_account("s1")


def test_the_fee_and_bank_nets_of_a_packed_chunk_are_read_without_unpacking_it() -> None:
    packed = pack(
        [
            Booking(2, "capture", "ab", "o1", 970, 30),
            Booking(3, "fee", "cd", "", -250, 0),
            Booking(4, "bank", "ef", "", -720, 0),
            Booking(5, "fee", "gh", "", 11, 0),
        ]
    )
    assert (nets_of(packed, "fee"), nets_of(packed, "bank")) == ([-250, 11], [-720])
    assert nets_of(pack([Booking(2, "capture", "ab", "o1", 970, 30)]), "fee") == []
