"""The strict Adyen "Settlement details report" reader and writer the reconciliation engine uses.

It refuses a whole file at the first cell it does not understand. Kept unchanged for its callers;
read_settlement (reader.py) is the reader that quarantines such lines and reads on.

Amounts in the file are major units with at most the currency's decimals ("5.00", "7.5");
inside they are integers of minor units. An empty amount cell means zero, and zero is written
as an empty cell, as Adyen's own files do. Creation Date is "YYYY-MM-DD HH:MM:SS" in the
TimeZone named by the next column.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TextIO

from payments.psp.settlement.errors import SettlementFormatError

COLUMNS: tuple[str, ...] = (
    "Company Account",
    "Merchant Account",
    "Psp Reference",
    "Merchant Reference",
    "Payment Method",
    "Creation Date",
    "TimeZone",
    "Type",
    "Modification Reference",
    "Gross Currency",
    "Gross Debit (GC)",
    "Gross Credit (GC)",
    "Exchange Rate",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Commission (NC)",
    "Markup (NC)",
    "Scheme Fees (NC)",
    "Interchange (NC)",
    "Payment Method Variant",
    "Modification Merchant Reference",
    "Batch Number",
    "Reserved4",
    "Reserved5",
    "Reserved6",
    "Reserved7",
    "Reserved8",
    "Reserved9",
    "Reserved10",
)

# Journal types Adyen documents for this report; anything else is refused, not guessed at.
KNOWN_TYPES: frozenset[str] = frozenset(
    {
        "Settled",
        "SettledBulk",
        "Refunded",
        "RefundedBulk",
        "RefundedReversed",
        "Chargeback",
        "ChargebackReversed",
        "SecondChargeback",
        "Fee",
        "MiscCosts",
        "MerchantPayout",
        "Balancetransfer",
        "DepositCorrection",
        "InvoiceDeduction",
        "ReserveAdjustment",
        "PaymentCost",
        "SettledReversed",
    }
)

DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_DATE_SHAPE = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", re.ASCII)
_AMOUNT_SHAPE = re.compile(r"(\d+)(?:\.(\d+))?", re.ASCII)
_BATCH_SHAPE = re.compile(r"\d{1,18}", re.ASCII)


@dataclass(frozen=True)
class SettlementLine:
    """One normalised row of a settlement file; amounts are non-negative minor units."""

    psp_reference: str
    merchant_reference: str
    type: str
    creation_date: datetime
    currency: str
    gross_debit_minor: int = 0
    gross_credit_minor: int = 0
    net_debit_minor: int = 0
    net_credit_minor: int = 0
    commission_minor: int = 0
    markup_minor: int = 0
    scheme_fees_minor: int = 0
    interchange_minor: int = 0
    batch_number: int | None = None
    payment_method: str = ""
    line_number: int = 0
    modification_reference: str = ""
    payment_method_variant: str = ""
    time_zone: str = "UTC"


def format_minor(minor: int, exponent: int) -> str:
    """Minor units as a plain decimal string with exactly `exponent` decimals ("" for zero)."""
    if minor < 0:
        raise ValueError("settlement amounts are written as non-negative debit or credit")
    if minor == 0:
        return ""
    if exponent == 0:
        return str(minor)
    whole, fraction = divmod(minor, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}"


def parse_minor(text: str, exponent: int) -> int:
    """A plain decimal string with at most `exponent` decimals as minor units; "" is zero.

    Raises ValueError for signs, exponents, spaces, separators or too many decimals.
    """
    if text == "":
        return 0
    match = _AMOUNT_SHAPE.fullmatch(text)
    if match is None:
        raise ValueError(f"{text!r} is not a plain decimal amount")
    whole, fraction = str(match.group(1)), str(match.group(2) or "")
    if "." in text and not fraction:
        raise ValueError(f"{text!r} has a decimal point without decimals")
    if len(fraction) > exponent:
        raise ValueError(f"{text!r} has more than {exponent} decimals")
    scale: int = 10**exponent
    return int(whole) * scale + int(fraction.ljust(exponent, "0") or "0")


def write_settlement_csv(
    lines: Iterable[SettlementLine],
    out: TextIO,
    currency_exponent: int,
    *,
    company_account: str = "SandboxCompany",
    merchant_account: str = "SandboxMerchant",
) -> None:
    """Write the header and `lines` in order; the same input always gives the same bytes."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow(_row_of(line, currency_exponent, company_account, merchant_account))


def _row_of(
    line: SettlementLine, exponent: int, company_account: str, merchant_account: str
) -> list[str]:
    def amount(minor: int) -> str:
        return format_minor(minor, exponent)

    return [
        company_account,
        merchant_account,
        line.psp_reference,
        line.merchant_reference,
        line.payment_method,
        line.creation_date.strftime(DATE_FORMAT),
        line.time_zone,
        line.type,
        line.modification_reference,
        line.currency,
        amount(line.gross_debit_minor),
        amount(line.gross_credit_minor),
        "1",
        line.currency,
        amount(line.net_debit_minor),
        amount(line.net_credit_minor),
        amount(line.commission_minor),
        amount(line.markup_minor),
        amount(line.scheme_fees_minor),
        amount(line.interchange_minor),
        line.payment_method_variant,
        "",
        "" if line.batch_number is None else str(line.batch_number),
        *([""] * 7),
    ]


_AMOUNT_FIELDS: tuple[tuple[str, str], ...] = (
    ("gross_debit_minor", "Gross Debit (GC)"),
    ("gross_credit_minor", "Gross Credit (GC)"),
    ("net_debit_minor", "Net Debit (NC)"),
    ("net_credit_minor", "Net Credit (NC)"),
    ("commission_minor", "Commission (NC)"),
    ("markup_minor", "Markup (NC)"),
    ("scheme_fees_minor", "Scheme Fees (NC)"),
    ("interchange_minor", "Interchange (NC)"),
)


def iter_settlement_lines(
    stream: TextIO,
    *,
    currency: str,
    exponent: int,
    other_currencies: Mapping[str, int] | None = None,
) -> Iterator[SettlementLine]:
    """Yield the file's lines one at a time; raise SettlementFormatError at the first bad cell.

    The layout is recognised from the header by column names (extra columns are tolerated, as
    Adyen lets merchants add some); the whole file is never held in memory. A row with fewer
    fields than the header is a truncated (or damaged) file. Blank lines are skipped.
    A line in a currency of `other_currencies` (code -> exponent) is parsed in that currency
    instead of refused (reconciliation reports it as a currency mismatch).
    """
    reader = csv.reader(stream, strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise SettlementFormatError(1, "", "empty file: no header line") from None
    except csv.Error as error:
        raise SettlementFormatError(1, "", f"unreadable header: {error}") from None
    index = _column_index(header)
    rows = _numbered_rows(reader)
    for line_number, row in rows:
        if len(row) < len(header):
            raise SettlementFormatError(
                line_number,
                header[len(row)],
                f"truncated row: {len(row)} of {len(header)} fields (the file may be cut short)",
            )
        if len(row) > len(header):
            raise SettlementFormatError(
                line_number, "", f"row has {len(row)} fields, the header has {len(header)}"
            )
        yield _line_of(row, index, line_number, currency, exponent, other_currencies)


def _numbered_rows(reader: _CsvReader) -> Iterator[tuple[int, list[str]]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise SettlementFormatError(reader.line_num, "", f"unreadable row: {error}") from None
        if row:
            yield reader.line_num, row


class _CsvReader(Protocol):
    line_num: int

    def __next__(self) -> list[str]: ...


def _column_index(header: list[str]) -> dict[str, int]:
    names = [name.strip() for name in header]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:]
    missing = [name for name in COLUMNS if name not in names]
    if len(missing) == len(COLUMNS):
        raise SettlementFormatError(1, names[0] if names else "", "unknown settlement layout")
    if missing:
        raise SettlementFormatError(1, missing[0], f"missing columns: {', '.join(missing)}")
    duplicates = {name for name in names if names.count(name) > 1 and name in COLUMNS}
    if duplicates:
        raise SettlementFormatError(1, sorted(duplicates)[0], "column appears more than once")
    return {name: names.index(name) for name in COLUMNS}


def _line_of(
    row: list[str],
    index: dict[str, int],
    line_number: int,
    currency: str,
    exponent: int,
    other_currencies: Mapping[str, int] | None = None,
) -> SettlementLine:
    def cell(column: str) -> str:
        return row[index[column]]

    def fail(column: str, message: str) -> SettlementFormatError:
        return SettlementFormatError(line_number, column, message)

    gross_currency = cell("Gross Currency")
    if gross_currency != currency and other_currencies and gross_currency in other_currencies:
        currency, exponent = gross_currency, other_currencies[gross_currency]
    for column in ("Gross Currency", "Net Currency"):
        if cell(column) != currency:
            raise fail(column, f"currency {cell(column)!r}, expected {currency!r}")
    journal_type = cell("Type")
    if journal_type not in KNOWN_TYPES:
        raise fail("Type", f"unknown type {journal_type!r}")
    date_text = cell("Creation Date")
    try:
        if _DATE_SHAPE.fullmatch(date_text) is None:
            raise ValueError(date_text)
        creation_date = datetime.fromisoformat(date_text)  # the shape is checked: fast path
    except ValueError:
        raise fail("Creation Date", f"{date_text!r} is not YYYY-MM-DD HH:MM:SS") from None
    amounts: dict[str, int] = {}
    for field_name, column in _AMOUNT_FIELDS:
        try:
            amounts[field_name] = parse_minor(cell(column), exponent)
        except ValueError as error:
            raise fail(column, str(error)) from None
    batch_text = cell("Batch Number")
    if batch_text and _BATCH_SHAPE.fullmatch(batch_text) is None:
        raise fail("Batch Number", f"{batch_text!r} is not a batch number")
    return SettlementLine(
        psp_reference=cell("Psp Reference"),
        merchant_reference=cell("Merchant Reference"),
        type=journal_type,
        creation_date=creation_date,
        currency=currency,
        batch_number=int(batch_text) if batch_text else None,
        payment_method=cell("Payment Method"),
        line_number=line_number,
        modification_reference=cell("Modification Reference"),
        payment_method_variant=cell("Payment Method Variant"),
        time_zone=cell("TimeZone"),
        **amounts,
    )
