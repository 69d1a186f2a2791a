"""Adyen "Settlement details report": one line per booking in a payout batch.

Columns are found by name, so older files with fewer trailing ReservedN columns, newer ones with
more, and reordered or added columns all read; the columns we need are essential. Gross is in
Gross Currency (credit - debit, converted to the net currency at Exchange Rate); net and the four
fee columns (Commission, Markup, Scheme Fees, Interchange) are in Net Currency. Fee, payout and
correction lines carry only net amounts: their Gross Currency is empty and their gross is None.
Creation Date is the wall-clock time in the TimeZone column's zone (times.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import partial

from payments.psp.settlement.amounts import CellError, currency_of, parse_optional_major, parse_rate
from payments.psp.settlement.csv_rows import CsvRows, Row
from payments.psp.settlement.layout import (
    Columns,
    ReadOptions,
    bind_columns,
    body_item,
    header_names,
)
from payments.psp.settlement.records import (
    RecordKind,
    SettlementFormat,
    SettlementItem,
    SettlementRecord,
)
from payments.psp.settlement.times import ZoneResolver, local_to_utc

K = RecordKind
# Journal types of the Settlement details report, with what each means to us.
JOURNAL_TYPES: dict[str, RecordKind] = {
    "Settled": K.CAPTURE,
    "SettledBulk": K.CAPTURE,
    "SettledInstallment": K.CAPTURE,
    "SettledExternallyWithInfo": K.CAPTURE,
    "SettledInstallmentExternallyWithInfo": K.CAPTURE,
    "SettledReversed": K.CAPTURE_REVERSAL,
    "Refunded": K.REFUND,
    "RefundedBulk": K.REFUND,
    "RefundedInstallment": K.REFUND,
    "RefundedExternallyWithInfo": K.REFUND,
    "RefundedInstallmentExternallyWithInfo": K.REFUND,
    "RefundedReversed": K.REFUND_REVERSAL,
    "Chargeback": K.CHARGEBACK,
    "ChargebackExternallyWithInfo": K.CHARGEBACK,
    "ChargebackReversed": K.CHARGEBACK_REVERSAL,
    "ChargebackReversedExternallyWithInfo": K.CHARGEBACK_REVERSAL,
    "SecondChargeback": K.SECOND_CHARGEBACK,
    "Fee": K.FEE,
    "MiscCosts": K.FEE,
    "PaymentCost": K.FEE,
    "AuthorisationSchemeFee": K.FEE,
    "AdvancementCommissionExternallyWithInfo": K.FEE,
    "Balancetransfer": K.PAYOUT,  # a debit; a credit is the transfer coming back (PAYOUT_RETURN)
    "PaidOut": K.PAYOUT,
    "PaidOutReversed": K.PAYOUT_RETURN,
    "MerchantPayout": K.MERCHANT_PAYOUT,
    "BankInstructionReturned": K.MERCHANT_PAYOUT_RETURN,
    "DepositCorrection": K.CORRECTION,
    "InvoiceDeduction": K.CORRECTION,
    "ReserveAdjustment": K.CORRECTION,
    "ManualCorrected": K.CORRECTION,
    "MatchedStatement": K.CORRECTION,
    "MerchantPayin": K.CORRECTION,
    "MerchantPayinReversed": K.CORRECTION,
    "InternalCompanyPayout": K.OTHER,
    "InternalTransfer": K.OTHER,
    "EpaPaid": K.OTHER,
}
FEE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("commission", "Commission (NC)"),
    ("markup", "Markup (NC)"),
    ("scheme_fees", "Scheme Fees (NC)"),
    ("interchange", "Interchange (NC)"),
)
ESSENTIAL: tuple[str, ...] = (
    "Psp Reference",
    "Merchant Reference",
    "Creation Date",
    "TimeZone",
    "Type",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    *(column for _, column in FEE_COLUMNS),
)
OPTIONAL: tuple[str, ...] = (
    "Modification Reference",
    "Modification Merchant Reference",
    "Exchange Rate",
    "Batch Number",
)
_USED = frozenset(ESSENTIAL + OPTIONAL)
SIGNATURE = frozenset(
    {"Psp Reference", "Merchant Account", "Creation Date", "TimeZone", "Type", "Net Currency"}
)


class AdyenSettlementDetails:
    """The Adyen layout behind the SettlementLayout interface."""

    name = SettlementFormat.ADYEN

    def matches(self, header: Sequence[str]) -> bool:
        """Three of its telling columns: a header missing an essential one is still Adyen's."""
        return len(SIGNATURE.intersection(header_names(header))) >= 3

    def records(self, rows: CsvRows, header: Row, options: ReadOptions) -> Iterator[SettlementItem]:
        names = header_names(header.fields)
        columns = bind_columns(
            header, names, essential=ESSENTIAL, used=_USED.__contains__, rows=rows
        )
        parse = partial(_record, columns=columns, zones=ZoneResolver(options.time_zones))
        for row in rows:
            yield body_item(row, columns, parse)


def _record(row: Row, columns: Columns, zones: ZoneResolver) -> SettlementRecord:
    cells, at = row.fields, columns.index
    record_type = cells[at["Type"]]
    kind = JOURNAL_TYPES.get(record_type.strip())
    if kind is None:
        raise CellError("Type", f"unknown record type {record_type!r}")
    currency, exponent = currency_of(cells[at["Net Currency"]], "Net Currency")
    net_debit = parse_optional_major(cells[at["Net Debit (NC)"]], exponent, "Net Debit (NC)")
    net_credit = parse_optional_major(cells[at["Net Credit (NC)"]], exponent, "Net Credit (NC)")
    fees = []
    for name, column in FEE_COLUMNS:
        minor = parse_optional_major(cells[at[column]], exponent, column)
        if minor:
            fees.append((name, minor))
    gross_minor, gross_currency = _gross(cells, at)
    zone = zones.zone(cells[at["TimeZone"]], "TimeZone")
    batch = columns.get(cells, "Batch Number").strip()
    net_minor = (net_credit or 0) - (net_debit or 0)
    if kind is K.PAYOUT and record_type.strip() == "Balancetransfer" and net_minor > 0:
        kind = K.PAYOUT_RETURN  # a transfer credited back to us
    return SettlementRecord(
        line_number=row.line_number,
        format=SettlementFormat.ADYEN,
        record_type=record_type,
        kind=kind,
        psp_reference=cells[at["Psp Reference"]],
        merchant_reference=cells[at["Merchant Reference"]],
        modification_reference=columns.get(cells, "Modification Reference"),
        modification_merchant_reference=columns.get(cells, "Modification Merchant Reference"),
        line_reference="",
        booked_at=local_to_utc(cells[at["Creation Date"]], zone, "Creation Date"),
        currency=currency,
        net_minor=net_minor,
        gross_minor=gross_minor,
        gross_currency=gross_currency,
        fees=tuple(fees),
        exchange_rate=parse_rate(columns.get(cells, "Exchange Rate"), "Exchange Rate"),
        batch=batch or None,
        raw=row.raw,
    )


def _gross(cells: list[str], at: dict[str, int]) -> tuple[int | None, str | None]:
    """Gross credit - debit in Gross Currency; None on a net-only line (no gross currency)."""
    currency_text = cells[at["Gross Currency"]]
    debit_text, credit_text = cells[at["Gross Debit (GC)"]], cells[at["Gross Credit (GC)"]]
    if not currency_text.strip():
        if debit_text.strip() or credit_text.strip():
            raise CellError("Gross Currency", "a gross amount without a gross currency")
        return None, None
    currency, exponent = currency_of(currency_text, "Gross Currency")
    debit = parse_optional_major(debit_text, exponent, "Gross Debit (GC)")
    credit = parse_optional_major(credit_text, exponent, "Gross Credit (GC)")
    return (credit or 0) - (debit or 0), currency
