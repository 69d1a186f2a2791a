from __future__ import annotations

import io

import pytest

from payments.psp.settlement import (
    RecordKind,
    SettlementFormatError,
    read_settlement,
)

from .conftest import FILES, open_file, record, utc

K = RecordKind
STL = "paypal/STL-20240820.01.011.CSV"


@pytest.mark.parametrize(
    ("line", "code", "kind", "gross", "fee", "net"),
    [
        (5, "T0006", K.CAPTURE, 3000, 117, 2883),
        (6, "T0001", K.PAYOUT, -5000, 0, -5000),  # MassPay sent
        (7, "T0000", K.PAYOUT, -1200, 0, -1200),  # a payment sent (DR)
        (8, "T0106", K.FEE, -1500, 0, -1500),  # chargeback processing fee
        (9, "T0400", K.MERCHANT_PAYOUT, -100000, 0, -100000),  # withdrawal to our bank
        (10, "T1107", K.REFUND, -1000, -30, -970),  # the fee came back (CR)
        (11, "T1201", K.CHARGEBACK, -3000, 0, -3000),
        (12, "T1202", K.CHARGEBACK_REVERSAL, 3000, 0, 3000),
        (13, "T1106", K.CHARGEBACK, -500, 0, -500),
        (14, "T1207", K.SECOND_CHARGEBACK, -3000, 0, -3000),
        (15, "T1108", K.FEE, 117, 0, 117),  # fee reversal
        (16, "T1101", K.MERCHANT_PAYOUT_RETURN, 100000, 0, 100000),
        (17, "T1114", K.PAYOUT_RETURN, 5000, 0, 5000),
        (18, "T0200", K.OTHER, -1000, 0, -1000),  # currency conversion
        (19, "T0300", K.CORRECTION, 2000, 0, 2000),  # funding from our bank
        (20, "T2103", K.CORRECTION, -2500, 0, -2500),  # reserve hold
        (21, "T1900", K.CORRECTION, 1, 0, 1),
        (34, "T0006", K.CAPTURE, 2000, 0, 2000),
    ],
)
def test_event_codes_give_kinds_and_signed_amounts(
    line: int, code: str, kind: RecordKind, gross: int, fee: int, net: int
) -> None:
    _, items = open_file(STL)
    item = record(items, line)
    assert (item.record_type, item.kind, item.currency) == (code, kind, "USD")
    assert (item.gross_minor, item.fee_minor, item.net_minor) == (gross, fee, net)


def test_references_and_times_of_a_capture_and_its_refund() -> None:
    _, items = open_file(STL)
    capture = record(items, 5)
    assert (capture.psp_reference, capture.line_reference, capture.modification_reference) == (
        "5A",
        "5A",
        "",
    )
    assert capture.merchant_reference == "order-5"
    assert capture.booked_at == utc(2024, 8, 20, 7, 1, 20)  # the completion time, -0700
    assert capture.batch is None
    refund = record(items, 10)
    assert (refund.psp_reference, refund.modification_reference) == ("5A", "10A")
    assert refund.booked_at == utc(2024, 8, 20, 12)  # no completion time: the initiation time


def test_hundredths_become_minor_units_of_each_currency() -> None:
    _, items = open_file(STL)
    yen = record(items, 23)  # 10000 hundredths is 100 yen; the fee 400 is 4 yen
    assert (yen.currency, yen.gross_minor, yen.fee_minor, yen.net_minor) == ("JPY", 100, 4, 96)
    euro = record(items, 29)
    assert (euro.currency, euro.net_minor, euro.merchant_reference) == ("EUR", 4340, "order-29")
    assert euro.booked_at == utc(2024, 8, 20, 19)  # +0200
    nothing = record(items, 22)
    assert (nothing.kind, nothing.gross_minor, nothing.net_minor) == (K.OTHER, None, 0)


def test_a_second_section_has_its_own_column_header() -> None:
    reader, items = open_file(STL)
    reordered = record(items, 34)
    assert reordered.merchant_reference == 'order-34, "quoted"'
    assert reordered.booked_at == utc(2024, 8, 20, 18)
    assert "Some New Column" in reader.ignored_columns
    assert "Consumer ID" in reader.ignored_columns
    assert "CH" not in reader.ignored_columns


def test_a_file_without_its_ff_footer_was_cut_and_is_refused() -> None:
    lines = (FILES / STL).read_bytes().splitlines(keepends=True)
    cut = b"".join(lines[:-3])  # ends after the RF row: RC and FF are missing
    with pytest.raises(SettlementFormatError) as caught:
        list(read_settlement(io.BytesIO(cut)))
    assert (caught.value.line, "FF footer" in caught.value.message) == (39, True)


def test_a_body_line_cut_without_a_line_break_is_refused_naming_the_missing_column() -> None:
    lines = (FILES / STL).read_bytes().splitlines(keepends=True)
    cut = b"".join(lines[:4]) + lines[4][:40]  # '"SB","5A","order-5","","","T0006",2024/08'
    with pytest.raises(SettlementFormatError) as caught:
        list(read_settlement(io.BytesIO(cut)))
    assert (caught.value.line, caught.value.column) == (5, "Transaction Completion Date")
