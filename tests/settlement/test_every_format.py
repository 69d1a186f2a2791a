"""What every format's reader owes each line of its fixtures: a record, or a quarantined line naming its cell."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from payments.psp.settlement import RecordKind, SettlementFormat
from payments.psp.settlement.adyen import JOURNAL_TYPES
from payments.psp.settlement.stripe import REPORTING_CATEGORIES

from .conftest import data_line_numbers, open_file, quarantined

ADYEN, STRIPE, PAYPAL = SettlementFormat.ADYEN, SettlementFormat.STRIPE, SettlementFormat.PAYPAL
K = RecordKind
ADYEN_ODD = "adyen/odd_amounts.csv"
STRIPE_ODD = "stripe/reordered_odd.csv"
STL = "paypal/STL-20240820.01.011.CSV"


@pytest.mark.parametrize(
    ("name", "settlement_format", "count"),
    [
        ("adyen/all_types.csv", ADYEN, 38),
        (ADYEN_ODD, ADYEN, 21),
        ("adyen/older_layout_bom_crlf.csv", ADYEN, 5),
        ("adyen/newer_layout_reordered.csv", ADYEN, 8),
        ("stripe/all_categories_bom_crlf.csv", STRIPE, 37),
        (STRIPE_ODD, STRIPE, 12),
        (STL, PAYPAL, 28),
    ],
)
def test_every_data_line_is_a_record_or_quarantined(
    name: str, settlement_format: SettlementFormat, count: int
) -> None:
    reader, items = open_file(name)
    assert reader.format is settlement_format
    assert set(items) == data_line_numbers(name)
    assert len(items) == count


@pytest.mark.parametrize(
    ("name", "line", "column", "reason"),
    [
        (ADYEN_ODD, 10, "Gross Credit (GC)", "more than 2 decimals"),
        (ADYEN_ODD, 11, "Net Credit (NC)", "not a decimal amount"),
        (ADYEN_ODD, 12, "Net Currency", "unknown currency 'XYZ'"),
        (ADYEN_ODD, 13, "Gross Currency", "unknown currency 'ABC'"),
        (ADYEN_ODD, 14, "Creation Date", "not a valid date"),
        (ADYEN_ODD, 15, "TimeZone", "unknown time zone 'CST'"),
        (ADYEN_ODD, 16, "Type", "unknown record type 'Captured'"),
        (ADYEN_ODD, 17, "Exchange Rate", "not an exchange rate"),
        (ADYEN_ODD, 18, "Gross Currency", "without a gross currency"),
        (ADYEN_ODD, 19, "", "8 fields where the header has 30"),
        (ADYEN_ODD, 20, "", "not valid CSV"),
        (STRIPE_ODD, 6, "reporting_category", "unknown reporting category 'mystery_category'"),
        (STRIPE_ODD, 7, "net", "not a decimal amount"),
        (STRIPE_ODD, 8, "currency", "unknown currency 'xyz'"),
        (STRIPE_ODD, 9, "created_utc", "not a valid date"),
        (STRIPE_ODD, 12, "net", "'' is not a decimal amount"),
        (STL, 24, "Gross Transaction Amount", "not a whole amount"),
        (STL, 25, "Transaction Event Code", "unknown transaction event code 'T7777'"),
        (STL, 26, "Transaction Debit or Credit", "neither CR nor DR"),
        (STL, 27, "Gross Transaction Amount", "not an unsigned whole number"),
        (STL, 28, "Fee Currency", "fee in EUR"),
        (STL, 35, "", "unknown row type 'ZZ'"),
        (STL, 36, "", "7 fields where the header has 11"),
    ],
)
def test_lines_we_cannot_understand_are_quarantined_naming_the_cell(
    name: str, line: int, column: str, reason: str
) -> None:
    _, items = open_file(name)
    item = quarantined(items, line)
    assert (item.column, reason in item.reason) == (column, True), item


@pytest.mark.parametrize(
    ("kinds", "record_type", "kind"),
    [
        (JOURNAL_TYPES, "Settled", K.CAPTURE),
        (JOURNAL_TYPES, "Refunded", K.REFUND),
        (JOURNAL_TYPES, "Chargeback", K.CHARGEBACK),
        (JOURNAL_TYPES, "MerchantPayout", K.MERCHANT_PAYOUT),
        (JOURNAL_TYPES, "Balancetransfer", K.PAYOUT),
        (JOURNAL_TYPES, "SecondChargeback", K.SECOND_CHARGEBACK),
        (JOURNAL_TYPES, "ChargebackReversed", K.CHARGEBACK_REVERSAL),
        (JOURNAL_TYPES, "RefundedReversed", K.REFUND_REVERSAL),
        (JOURNAL_TYPES, "SettledReversed", K.CAPTURE_REVERSAL),
        (JOURNAL_TYPES, "DepositCorrection", K.CORRECTION),
        (JOURNAL_TYPES, "InvoiceDeduction", K.CORRECTION),
        (JOURNAL_TYPES, "ReserveAdjustment", K.CORRECTION),
        (JOURNAL_TYPES, "Fee", K.FEE),
        (JOURNAL_TYPES, "MiscCosts", K.FEE),
        (JOURNAL_TYPES, "PaymentCost", K.FEE),
        (REPORTING_CATEGORIES, "charge", K.CAPTURE),
        (REPORTING_CATEGORIES, "refund", K.REFUND),
        (REPORTING_CATEGORIES, "refund_failure", K.REFUND_REVERSAL),
        (REPORTING_CATEGORIES, "dispute", K.CHARGEBACK),
        (REPORTING_CATEGORIES, "dispute_reversal", K.CHARGEBACK_REVERSAL),
        (REPORTING_CATEGORIES, "fee", K.FEE),
        (REPORTING_CATEGORIES, "transfer", K.PAYOUT),
        (REPORTING_CATEGORIES, "transfer_reversal", K.PAYOUT_RETURN),
        (REPORTING_CATEGORIES, "payout", K.MERCHANT_PAYOUT),
        (REPORTING_CATEGORIES, "payout_reversal", K.MERCHANT_PAYOUT_RETURN),
        (REPORTING_CATEGORIES, "other_adjustment", K.CORRECTION),
    ],
)
def test_the_kinds_of_the_main_record_types(
    kinds: Mapping[str, RecordKind], record_type: str, kind: RecordKind
) -> None:
    assert kinds[record_type] is kind
