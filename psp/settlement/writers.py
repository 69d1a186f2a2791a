"""Settlement records written in a provider's layout, for tests and the sandbox.

The same records always give the same bytes, and reading what was written gives the records back
(line_number and raw aside) for any record the layout can carry. A record read from another
format is written with the layout's own type for its kind. Times are written in UTC to the second.
Lines end with CRLF: Python's csv module quotes a field holding a line break only when that
character is part of the line terminator, so with LF alone a bare CR in a reference would break
the line.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import TextIO

from payments.domain.money import currency_exponent
from payments.psp.settlement.adyen import FEE_COLUMNS
from payments.psp.settlement.amounts import format_major
from payments.psp.settlement.records import RecordKind, SettlementFormat, SettlementRecord
from payments.psp.settlement.strict_adyen import COLUMNS as ADYEN_COLUMNS

K = RecordKind
ADYEN_TYPE_OF_KIND: dict[RecordKind, str] = {
    K.CAPTURE: "Settled",
    K.CAPTURE_REVERSAL: "SettledReversed",
    K.REFUND: "Refunded",
    K.REFUND_REVERSAL: "RefundedReversed",
    K.CHARGEBACK: "Chargeback",
    K.CHARGEBACK_REVERSAL: "ChargebackReversed",
    K.SECOND_CHARGEBACK: "SecondChargeback",
    K.FEE: "Fee",
    K.PAYOUT: "Balancetransfer",
    K.PAYOUT_RETURN: "Balancetransfer",
    K.MERCHANT_PAYOUT: "MerchantPayout",
    K.MERCHANT_PAYOUT_RETURN: "BankInstructionReturned",
    K.CORRECTION: "DepositCorrection",
    K.OTHER: "InternalTransfer",
}
STRIPE_CATEGORY_OF_KIND: dict[RecordKind, str] = {
    K.CAPTURE: "charge",
    K.CAPTURE_REVERSAL: "partial_capture_reversal",
    K.REFUND: "refund",
    K.REFUND_REVERSAL: "refund_failure",
    K.CHARGEBACK: "dispute",
    K.CHARGEBACK_REVERSAL: "dispute_reversal",
    K.SECOND_CHARGEBACK: "dispute",
    K.FEE: "fee",
    K.PAYOUT: "transfer",
    K.PAYOUT_RETURN: "transfer_reversal",
    K.MERCHANT_PAYOUT: "payout",
    K.MERCHANT_PAYOUT_RETURN: "payout_reversal",
    K.CORRECTION: "other_adjustment",
    K.OTHER: "other_adjustment",
}
_TIME = "%Y-%m-%d %H:%M:%S"


def write_adyen_csv(
    records: Iterable[SettlementRecord],
    out: TextIO,
    *,
    company_account: str = "SandboxCompany",
    merchant_account: str = "SandboxMerchant",
) -> None:
    """The Settlement details report layout (30 columns); fee components other than Adyen's four
    are added to Commission (NC)."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(ADYEN_COLUMNS)
    for record in records:
        writer.writerow(_adyen_row(record, company_account, merchant_account))


def _adyen_row(record: SettlementRecord, company: str, merchant: str) -> list[str]:
    exponent = currency_exponent(record.currency)
    fee_cells = dict.fromkeys((name for name, _ in FEE_COLUMNS), 0)
    for name, minor in record.fees:
        fee_cells[name if name in fee_cells else "commission"] += minor
    gross_cells = ["", "", ""]
    if record.gross_minor is not None and record.gross_currency is not None:
        gross_exponent = currency_exponent(record.gross_currency)
        gross_cells = [record.gross_currency, *_debit_credit(record.gross_minor, gross_exponent)]
    is_adyen = record.format is SettlementFormat.ADYEN
    return [
        company,
        merchant,
        record.psp_reference,
        record.merchant_reference,
        "",
        record.booked_at.strftime(_TIME),
        "UTC",
        record.record_type if is_adyen else ADYEN_TYPE_OF_KIND[record.kind],
        record.modification_reference,
        *gross_cells,
        "" if record.exchange_rate is None else format(record.exchange_rate, "f"),
        record.currency,
        *_debit_credit(record.net_minor, exponent),
        *(_amount(minor, exponent) for minor in fee_cells.values()),
        "",
        record.modification_merchant_reference,
        record.batch or "",
        *([""] * 7),
    ]


def _debit_credit(minor: int, exponent: int) -> tuple[str, str]:
    return (_amount(-minor, exponent), "") if minor < 0 else ("", _amount(minor, exponent))


def _amount(minor: int, exponent: int) -> str:
    return format_major(minor, exponent) if minor else ""


def stripe_columns(metadata_key: str = "reference") -> tuple[str, ...]:
    return (
        "automatic_payout_id",
        "balance_transaction_id",
        "created_utc",
        "currency",
        "gross",
        "fee",
        "net",
        "reporting_category",
        "source_id",
        "description",
        "payment_intent_id",
        "charge_id",
        f"payment_metadata[{metadata_key}]",
        f"refund_metadata[{metadata_key}]",
    )


def write_stripe_itemized_csv(
    records: Iterable[SettlementRecord], out: TextIO, *, metadata_key: str = "reference"
) -> None:
    """The Itemized payout reconciliation layout. Our references go in the metadata columns of
    `metadata_key`; a psp_reference starting "pi_" goes in payment_intent_id, any other in
    charge_id. Stripe has one currency per line: a record whose gross is in another currency is
    refused (ValueError); an exchange rate is not written."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(stripe_columns(metadata_key))
    for record in records:
        writer.writerow(_stripe_row(record))


def _stripe_row(record: SettlementRecord) -> list[str]:
    if record.gross_currency not in (None, record.currency):
        raise ValueError(f"line {record.line_number}: gross and net in different currencies")
    exponent = currency_exponent(record.currency)
    psp = record.psp_reference
    is_stripe = record.format is SettlementFormat.STRIPE
    gross = "" if record.gross_minor is None else format_major(record.gross_minor, exponent)
    return [
        record.batch or "",
        record.line_reference,
        record.booked_at.strftime(_TIME),
        record.currency.lower(),
        gross,
        format_major(record.fee_minor, exponent),
        format_major(record.net_minor, exponent),
        record.record_type if is_stripe else STRIPE_CATEGORY_OF_KIND[record.kind],
        record.modification_reference or psp,
        "",
        psp if psp.startswith("pi_") else "",
        "" if psp.startswith("pi_") else psp,
        record.merchant_reference,
        record.modification_merchant_reference,
    ]
