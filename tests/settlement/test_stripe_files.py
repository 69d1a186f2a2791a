from __future__ import annotations

import pytest

from payments.psp.settlement import ReadOptions, RecordKind
from payments.psp.settlement.stripe import REPORTING_CATEGORIES

from .conftest import every_record, open_file, record, utc

K = RecordKind
ALL = "stripe/all_categories_bom_crlf.csv"
ODD = "stripe/reordered_odd.csv"
LOCAL = "stripe/local_time_only.csv"


def test_every_reporting_category_is_read_with_its_kind() -> None:
    records = every_record(ALL)
    assert len(records) == len(REPORTING_CATEGORIES)
    assert {r.record_type for r in records} == set(REPORTING_CATEGORIES)
    assert all(r.kind is REPORTING_CATEGORIES[r.record_type] for r in records)


def test_a_charge_line_with_its_references() -> None:
    reader, items = open_file(ALL)
    charge = record(items, 2)
    assert (charge.currency, charge.gross_minor, charge.net_minor, charge.fees) == (
        "USD",
        1000,
        941,
        (("fee", 59),),
    )
    assert (charge.psp_reference, charge.modification_reference) == ("pi_2", "ch_2")
    assert (charge.line_reference, charge.batch, charge.merchant_reference) == (
        "txn_2",
        "po_1",
        "order-2",
    )
    assert charge.booked_at == utc(2024, 5, 1, 12, 2)
    assert reader.header[0] == "automatic_payout_id"  # byte-order mark dropped
    assert "customer_email" in reader.ignored_columns
    assert "created" in reader.ignored_columns  # created_utc is the one we read


def test_lines_without_a_payment_use_their_source_and_description() -> None:
    _, items = open_file(ALL)
    refund = record(items, 5)
    assert (refund.record_type, refund.psp_reference, refund.modification_reference) == (
        "refund",
        "obj_5",
        "",
    )
    assert (refund.merchant_reference, refund.net_minor, refund.fees) == ("refund line", -100, ())


def test_odd_amounts_references_and_currencies() -> None:
    reader, items = open_file(ODD)
    yen = record(items, 2)
    assert (yen.currency, yen.gross_minor, yen.fee_minor, yen.net_minor) == ("JPY", 1500, 45, 1455)
    refund = record(items, 3)
    assert (refund.kind, refund.gross_minor, refund.net_minor) == (K.REFUND, -11, -11)
    assert (refund.merchant_reference, refund.modification_merchant_reference) == (
        "order-3",
        "refund-3",
    )
    assert (refund.psp_reference, refund.modification_reference) == ("pi_3", "re_3")
    comma = record(items, 4)  # a report asked for with decimal_separator=","
    assert (comma.currency, comma.gross_minor, comma.fee_minor, comma.net_minor) == (
        "EUR",
        1050,
        30,
        1020,
    )
    dispute = record(items, 5)
    assert (dispute.kind, dispute.gross_minor, dispute.fee_minor, dispute.net_minor) == (
        K.CHARGEBACK,
        -2000,
        1500,
        -3500,
    )
    transfer = record(items, 10)
    assert (transfer.kind, transfer.merchant_reference, transfer.psp_reference) == (
        K.PAYOUT,
        "payout-10",
        "tr_10",
    )
    fee = record(items, 11)
    assert (fee.kind, fee.merchant_reference, fee.psp_reference) == (
        K.FEE,
        "Billing - Usage Fee (2024-05)",
        "",
    )
    multi_line = record(items, 13)
    assert multi_line.merchant_reference == 'Order "13", two\nlines'
    assert reader.ignored_columns == ("unknown_future_column", "payment_metadata[other_key]")


def test_another_metadata_key_can_carry_our_reference() -> None:
    _, items = open_file(ODD, ReadOptions(stripe_metadata_key="other_key"))
    assert record(items, 2).merchant_reference == ""
    assert record(items, 11).merchant_reference == "Billing - Usage Fee (2024-05)"


def test_without_created_utc_the_local_created_column_is_read_in_the_configured_zone() -> None:
    reader, items = open_file(LOCAL, ReadOptions(stripe_time_zone="America/New_York"))
    assert record(items, 2).booked_at == utc(2024, 1, 10, 14)  # EST
    refund = record(items, 3)
    assert (refund.booked_at, refund.currency, refund.net_minor) == (
        utc(2024, 7, 10, 13),  # EDT
        "CAD",
        -500,
    )
    assert reader.ignored_columns == ()
    _, as_utc = open_file(LOCAL)
    assert record(as_utc, 2).booked_at == utc(2024, 1, 10, 9)


def test_an_unknown_configured_stripe_time_zone_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="stripe_time_zone"):
        open_file(LOCAL, ReadOptions(stripe_time_zone="Nowhere/Special"))
