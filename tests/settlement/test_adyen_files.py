from __future__ import annotations

from decimal import Decimal

from payments.psp.settlement import (
    QuarantinedLine,
    RecordKind,
)
from payments.psp.settlement.adyen import JOURNAL_TYPES

from .conftest import every_record, open_file, quarantined, record, utc

K = RecordKind
ALL_TYPES = "adyen/all_types.csv"
ODD = "adyen/odd_amounts.csv"
OLDER = "adyen/older_layout_bom_crlf.csv"
NEWER = "adyen/newer_layout_reordered.csv"


def test_every_documented_journal_type_is_read_with_its_kind() -> None:
    records = every_record(ALL_TYPES)
    assert len(records) == 38
    assert {r.record_type for r in records} == set(JOURNAL_TYPES)
    for r in records:
        expected = JOURNAL_TYPES[r.record_type]
        if r.record_type == "Balancetransfer" and r.net_minor > 0:
            expected = K.PAYOUT_RETURN
        assert r.kind is expected, r.record_type


def test_a_settled_line_gives_signed_gross_net_and_fee_components() -> None:
    _, items = open_file(ALL_TYPES)
    settled = record(items, 2)
    assert (settled.record_type, settled.kind) == ("Settled", K.CAPTURE)
    assert (settled.gross_minor, settled.gross_currency, settled.net_minor) == (1000, "EUR", 970)
    assert settled.fees == (
        ("commission", 10),
        ("markup", 5),
        ("scheme_fees", 5),
        ("interchange", 10),
    )
    assert settled.fee_minor == 30
    assert settled.net_minor == settled.gross_minor - settled.fee_minor
    assert (settled.psp_reference, settled.merchant_reference) == ("8800000000000001", "order-1")
    assert settled.modification_reference == "9900000000000001"
    assert settled.booked_at == utc(2024, 1, 15, 9, 0, 1)  # 10:00:01 CET
    assert (settled.batch, settled.exchange_rate, settled.line_reference) == (
        "20240115",
        Decimal(1),
        "",
    )


def test_debit_lines_are_negative_and_keep_our_refund_reference() -> None:
    _, items = open_file(ALL_TYPES)
    refunded = record(items, 11)
    assert refunded.record_type == "Refunded"
    assert (refunded.gross_minor, refunded.net_minor, refunded.fee_minor) == (-1000, -1030, 30)
    assert refunded.modification_merchant_reference == "refund-10"


def test_net_only_lines_have_no_gross() -> None:
    _, items = open_file(ALL_TYPES)
    fee = record(items, 19)
    assert (fee.record_type, fee.kind) == ("Fee", K.FEE)
    assert (fee.gross_minor, fee.gross_currency, fee.currency) == (None, None, "EUR")
    assert (fee.net_minor, fee.fees) == (-250, ())
    assert fee.modification_reference == "Fee 18"
    payout = record(items, 26)
    assert (payout.record_type, payout.kind, payout.net_minor) == (
        "MerchantPayout",
        K.MERCHANT_PAYOUT,
        -250,
    )
    back = record(items, 38)
    assert (back.record_type, back.kind, back.net_minor) == (
        "Balancetransfer",
        K.PAYOUT_RETURN,
        400,
    )


def test_odd_amounts_are_read_exactly() -> None:
    _, items = open_file(ODD)
    assert (record(items, 2).gross_minor, record(items, 2).net_minor) == (11, 11)  # ".11"
    assert (record(items, 3).gross_minor, record(items, 3).net_minor) == (-11, -11)  # debit "0.11"
    assert record(items, 4).net_minor == -11  # credit "-0.11"
    assert record(items, 5).net_minor == 11  # debit "-.11"
    line_6 = record(items, 6)  # "7.5", "7.2", ".3"
    assert (line_6.gross_minor, line_6.net_minor, line_6.fees) == (750, 720, (("commission", 30),))
    yen = record(items, 7)
    assert (yen.currency, yen.gross_minor, yen.net_minor, yen.fees) == (
        "JPY",
        1500,
        1455,
        (("interchange", 45),),
    )
    dinar = record(items, 8)
    assert (dinar.currency, dinar.gross_minor, dinar.net_minor, dinar.fee_minor) == (
        "BHD",
        1250,
        1200,
        50,
    )
    pounds = record(items, 9)  # another currency than the others: still a plain record
    assert (pounds.currency, pounds.net_minor, pounds.fee_minor) == ("GBP", 1164, 36)
    empty_fee = record(items, 21)
    assert (empty_fee.kind, empty_fee.net_minor) == (K.FEE, 0)
    payout = record(items, 22)
    assert (payout.kind, payout.net_minor, payout.booked_at) == (
        K.MERCHANT_PAYOUT,
        -1263,
        utc(2024, 2, 1, 23, 59, 59),
    )


def test_a_quarantined_line_keeps_its_raw_text() -> None:
    _, items = open_file(ODD)
    for line in range(10, 21):
        assert quarantined(items, line).raw.startswith("Co,Merch,"), line


def test_an_older_layout_with_fewer_columns_bom_and_crlf_reads() -> None:
    reader, items = open_file(OLDER)
    assert reader.header[0] == "Company Account"  # the byte-order mark is gone
    assert "Reserved4" not in reader.ignored_columns
    assert record(items, 2).booked_at == utc(2024, 1, 15, 9)  # CET
    assert record(items, 3).booked_at == utc(2024, 7, 15, 8)  # CEST
    assert record(items, 4).booked_at == utc(2024, 7, 15, 9)  # BST
    chargeback = record(items, 5)
    assert chargeback.booked_at == utc(2024, 1, 15, 18)  # PST
    assert (chargeback.kind, chargeback.gross_minor, chargeback.net_minor) == (
        K.CHARGEBACK,
        -2000,
        -3500,
    )
    assert record(items, 6).raw.endswith(",EUR,19.40,,,,,,,,12")  # no line break in raw


def test_a_newer_reordered_layout_with_more_and_unknown_columns_reads() -> None:
    reader, items = open_file(NEWER)
    assert reader.ignored_columns == (
        "Booking Date",
        "Booking Date TimeZone",
        "Store",
        "Company Account",
        "Merchant Account",
        "Payment Method",
        "Payment Method Variant",
        *(f"Reserved{n}" for n in range(4, 14)),
    )
    quoted = record(items, 2)
    assert quoted.merchant_reference == 'order 2, "gift"\nsecond line'
    assert quoted.raw.count("\n") == 1
    assert quoted.booked_at == utc(2024, 3, 31, 0, 30)  # 01:30 CET, before the clocks move
    assert quoted.fees == (
        ("commission", 100),
        ("markup", 50),
        ("scheme_fees", 50),
        ("interchange", 100),
    )
    assert record(items, 4).booked_at == utc(2024, 10, 27, 0, 30)  # the first 02:30 (CEST)
    gap = quarantined(items, 5)
    assert (gap.column, "does not exist" in gap.reason) == ("Creation Date", True)


def test_a_gross_in_another_currency_is_kept_with_its_rate() -> None:
    _, items = open_file(NEWER)
    converted = record(items, 6)
    assert (converted.gross_currency, converted.gross_minor) == ("USD", 5000)
    assert (converted.currency, converted.net_minor, converted.fee_minor) == ("EUR", 4410, 90)
    assert converted.exchange_rate == Decimal("0.9")
    assert converted.booked_at == utc(2024, 4, 1, 6, 30)  # +05:30


def test_each_currency_of_a_batch_closes_with_its_merchant_payout() -> None:
    _, items = open_file(NEWER)
    records = [item for item in items.values() if not isinstance(item, QuarantinedLine)]
    for currency in ("EUR", "USD"):
        lines = [r for r in records if r.currency == currency]
        assert lines[-1].kind is K.MERCHANT_PAYOUT
        assert sum(r.net_minor for r in lines) == 0, currency
    assert {r.batch for r in records} == {"31"}
