"""PayPal "Settlement report" (STL): typed rows, the first field of each naming its kind.

RH report header, FH file header, SH section header, CH column header (the names of the SB
columns that follow it), SB section body (one transaction), SF/SC section footer and count,
RF/RC report footer and count, FF file footer. Only SB rows are records; every file ends with FF,
so a file without it was cut short. Amounts are unsigned whole numbers in hundredths of the
major unit whatever the currency ("$100.00 and 100 yen are both 10000"), signed by the CR/DR
column beside them; the fee is a cost (Fee Debit or Credit DR is + to fee_minor). Times are
"YYYY/MM/DD HH:MM:SS +HHMM". The transaction event code (Tnnnn) says what the line is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from functools import partial

from payments.psp.settlement.amounts import CellError, currency_of
from payments.psp.settlement.csv_rows import CsvRows, Row, UnreadableRow
from payments.psp.settlement.errors import SettlementFormatError
from payments.psp.settlement.layout import (
    Columns,
    ReadOptions,
    bind_columns,
    body_item,
    header_names,
)
from payments.psp.settlement.records import (
    QuarantinedLine,
    RecordKind,
    SettlementFormat,
    SettlementItem,
    SettlementRecord,
)

K = RecordKind
# Event codes by their class (the first three characters), then the ones that differ from it.
CODE_CLASSES: dict[str, RecordKind] = {
    "T00": K.CAPTURE,  # a payment: received (CR) is a capture, sent (DR) a payout
    "T01": K.FEE, "T02": K.OTHER, "T03": K.CORRECTION, "T04": K.MERCHANT_PAYOUT,
    "T05": K.OTHER, "T06": K.OTHER, "T07": K.CORRECTION, "T08": K.OTHER, "T09": K.OTHER,
    "T10": K.OTHER, "T11": K.OTHER, "T12": K.CORRECTION, "T13": K.OTHER, "T14": K.OTHER,
    "T15": K.CORRECTION, "T16": K.OTHER, "T17": K.MERCHANT_PAYOUT, "T18": K.OTHER,
    "T19": K.CORRECTION, "T20": K.OTHER, "T21": K.CORRECTION, "T22": K.OTHER, "T30": K.OTHER,
    "T50": K.OTHER, "T97": K.OTHER, "T98": K.OTHER, "T99": K.OTHER,
}  # fmt: skip
EVENT_CODES: dict[str, RecordKind] = {
    "T1101": K.MERCHANT_PAYOUT_RETURN,  # reversal of an ACH withdrawal
    "T1106": K.CHARGEBACK,  # payment reversal initiated by PayPal
    "T1107": K.REFUND,  # payment refund initiated by the merchant
    "T1108": K.FEE,  # fee reversal
    "T1109": K.FEE,  # fee refund
    "T1110": K.CORRECTION,  # hold for dispute investigation
    "T1111": K.CORRECTION,  # cancellation of that hold
    "T1114": K.PAYOUT_RETURN,  # MassPay reversal
    "T1115": K.PAYOUT_RETURN,  # MassPay refund
    "T1201": K.CHARGEBACK,
    "T1202": K.CHARGEBACK_REVERSAL,
    "T1205": K.CHARGEBACK_REVERSAL,  # reimbursement of a chargeback
    "T1207": K.SECOND_CHARGEBACK,  # chargeback re-presentment rejected
    "T1208": K.CHARGEBACK_REVERSAL,  # chargeback cancelled
}
ESSENTIAL: tuple[str, ...] = (
    "Transaction ID",
    "Transaction Event Code",
    "Transaction Initiation Date",
    "Transaction Debit or Credit",
    "Gross Transaction Amount",
    "Gross Transaction Currency",
    "Fee Debit or Credit",
    "Fee Amount",
)
OPTIONAL: tuple[str, ...] = (
    "Invoice ID",
    "PayPal Reference ID",
    "PayPal Reference ID Type",
    "Transaction Completion Date",
    "Fee Currency",
    "Custom Field",
)
_USED = frozenset((*ESSENTIAL, *OPTIONAL, "CH"))  # CH heads the column that holds each row's type
STRUCTURE = frozenset({"RH", "FH", "SH", "SF", "SC", "RF", "RC", "FF"})
_CODE = re.compile(r"T[0-9]{4}", re.ASCII)
_TIME = re.compile(r"[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}", re.ASCII)


class PayPalSettlementReport:
    """The PayPal STL layout behind the SettlementLayout interface."""

    name = SettlementFormat.PAYPAL

    def matches(self, header: Sequence[str]) -> bool:
        return bool(header) and header[0].strip() == "RH"

    def records(self, rows: CsvRows, header: Row, options: ReadOptions) -> Iterator[SettlementItem]:
        columns: Columns | None = None  # of the latest CH row
        last: Row | UnreadableRow = header
        for row in rows:
            last = row
            if isinstance(row, UnreadableRow) or row.fields[0].strip() == "SB":
                if columns is None:
                    raise SettlementFormatError(row.line_number, "", "a body row before any CH")
                yield body_item(row, columns, partial(_record, columns=columns))
                continue
            kind = row.fields[0].strip()
            if kind == "CH":
                names = header_names(row.fields)
                columns = bind_columns(
                    row, names, essential=ESSENTIAL, used=_USED.__contains__, rows=rows
                )
            elif kind not in STRUCTURE:
                yield QuarantinedLine(row.line_number, row.raw, "", f"unknown row type {kind!r}")
        if not isinstance(last, Row) or last.fields[0].strip() != "FF" or last.open_quote:
            raise SettlementFormatError(
                last.line_number + 1, "", "the file ends without its FF footer: it was cut short"
            )


def _record(row: Row, columns: Columns) -> SettlementRecord:
    cells, get, at = row.fields, columns.get, columns.index
    code = cells[at["Transaction Event Code"]].strip()
    currency, exponent = currency_of(
        cells[at["Gross Transaction Currency"]], "Gross Transaction Currency"
    )
    gross = None
    if cells[at["Gross Transaction Amount"]].strip():
        gross = _signed(
            cells, at, "Gross Transaction Amount", "Transaction Debit or Credit", exponent
        )
    fee = -_signed(cells, at, "Fee Amount", "Fee Debit or Credit", exponent)
    fee_currency = get(cells, "Fee Currency").strip().upper()
    if fee and fee_currency and fee_currency != currency:
        raise CellError("Fee Currency", f"fee in {fee_currency}, gross in {currency}")
    kind = _kind(code, gross or 0)
    transaction_id = cells[at["Transaction ID"]]
    referenced = get(cells, "PayPal Reference ID")
    is_txn = get(cells, "PayPal Reference ID Type").strip() == "TXN" and referenced
    psp = referenced if is_txn else transaction_id
    completed = get(cells, "Transaction Completion Date").strip()
    time_column = "Transaction Completion Date" if completed else "Transaction Initiation Date"
    return SettlementRecord(
        line_number=row.line_number,
        format=SettlementFormat.PAYPAL,
        record_type=code,
        kind=kind,
        psp_reference=psp,
        merchant_reference=get(cells, "Invoice ID") or get(cells, "Custom Field"),
        modification_reference=transaction_id if psp != transaction_id else "",
        modification_merchant_reference="",
        line_reference=transaction_id,
        booked_at=_utc(cells[at[time_column]], time_column),
        currency=currency,
        net_minor=(gross or 0) - fee,
        gross_minor=gross,
        gross_currency=None if gross is None else currency,
        fees=(("fee", fee),) if fee else (),
        exchange_rate=None,
        batch=None,
        raw=row.raw,
    )


def _kind(code: str, gross: int) -> RecordKind:
    kind = EVENT_CODES.get(code) or (CODE_CLASSES.get(code[:3]) if _CODE.fullmatch(code) else None)
    if kind is None:
        raise CellError("Transaction Event Code", f"unknown transaction event code {code!r}")
    if kind is K.CAPTURE and gross < 0:
        return K.PAYOUT
    return kind


def _signed(
    cells: list[str], at: dict[str, int], amount: str, direction: str, exponent: int
) -> int:
    """The amount, + for CR (money to us) and - for DR; no CR/DR only with nothing to sign."""
    minor = _hundredths(cells[at[amount]], exponent, amount)
    sign = cells[at[direction]].strip()
    if sign == "CR" or (sign == "" and minor == 0):
        return minor
    if sign == "DR":
        return -minor
    raise CellError(direction, f"{sign!r} is neither CR nor DR")


def _hundredths(text: str, exponent: int, column: str) -> int:
    """An unsigned amount in hundredths of the major unit, as minor units of its currency."""
    value = text.strip()
    if not value:
        return 0
    if not value.isascii() or not value.isdigit() or len(value) > 32:
        raise CellError(column, f"{text!r} is not an unsigned whole number of hundredths")
    hundredths = int(value)
    if exponent >= 2:
        scale: int = 10 ** (exponent - 2)
        return hundredths * scale
    divisor: int = 10 ** (2 - exponent)
    if hundredths % divisor:
        raise CellError(column, f"{text!r} hundredths is not a whole amount of its currency")
    return hundredths // divisor


def _utc(text: str, column: str) -> datetime:
    value = text.strip()
    if _TIME.fullmatch(value) is None:
        raise CellError(column, f"{text!r} is not YYYY/MM/DD HH:MM:SS +HHMM")
    try:
        return datetime.strptime(value, "%Y/%m/%d %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        raise CellError(column, f"{text!r} is not a valid date and time") from None
