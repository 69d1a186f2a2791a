"""Read any settlement file we know: detect its format from the header, stream its records.

A file is refused (SettlementFormatError naming line and column) only when it cannot be read at
all: empty, not UTF-8 text, no header we know, a missing essential column, or cut short. Every
other line comes out as a SettlementRecord or, when we cannot understand it, a QuarantinedLine.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import IO

from payments.psp.settlement.adyen import AdyenSettlementDetails
from payments.psp.settlement.csv_rows import CsvRows, Row
from payments.psp.settlement.errors import SettlementFormatError
from payments.psp.settlement.layout import ReadOptions, SettlementLayout
from payments.psp.settlement.paypal import PayPalSettlementReport
from payments.psp.settlement.records import SettlementFormat, SettlementItem
from payments.psp.settlement.stripe import StripeItemizedPayoutReconciliation

LAYOUTS: dict[SettlementFormat, SettlementLayout] = {
    SettlementFormat.ADYEN: AdyenSettlementDetails(),
    SettlementFormat.STRIPE: StripeItemizedPayoutReconciliation(),
    SettlementFormat.PAYPAL: PayPalSettlementReport(),
}


def detect_format(header_fields: Sequence[str]) -> SettlementFormat:
    """The format whose header this is; refuses (line 1) a header no format recognises."""
    for layout in LAYOUTS.values():
        if layout.matches(header_fields):
            return layout.name
    first = header_fields[0] if header_fields else ""
    known = ", ".join(LAYOUTS)
    raise SettlementFormatError(1, first, f"no known settlement layout ({known}) has this header")


class SettlementReader:
    """The records of one file, in order. `format` and `header` are known from the start;
    `ignored_columns` (header columns no record uses) once the column header is read, which is
    before the first record. Iterating may still raise SettlementFormatError if the file turns
    out to be cut short.
    """

    def __init__(
        self, rows: CsvRows, header: Row, layout: SettlementLayout, options: ReadOptions
    ) -> None:
        self.format = layout.name
        self.header = tuple(header.fields)
        self._rows = rows
        self._items = layout.records(rows, header, options)
        self._first: list[SettlementItem] = []
        first = next(self._items, None)  # reads the column header, so its problems show now
        if first is not None:
            self._first.append(first)

    @property
    def ignored_columns(self) -> tuple[str, ...]:
        return tuple(self._rows.ignored_columns)

    def __iter__(self) -> Iterator[SettlementItem]:
        if self._first:
            yield self._first.pop()
        yield from self._items


def read_settlement(
    stream: IO[bytes] | IO[str],
    format: SettlementFormat | str | None = None,
    options: ReadOptions | None = None,
) -> SettlementReader:
    """Open a settlement file for reading; `format` forces a layout instead of detecting it.

    Prefer a binary stream (open(path, "rb")); a text one must be opened with newline="".
    """
    rows = CsvRows(stream)
    header = next(rows, None)
    if header is None:
        raise SettlementFormatError(1, "", "empty file: no header line")
    if not isinstance(header, Row) or header.open_quote:
        raise SettlementFormatError(header.line_number, "", "the header line is not valid CSV")
    try:
        chosen = detect_format(header.fields) if format is None else SettlementFormat(format)
    except SettlementFormatError as error:  # the header is the first line that is not blank
        raise SettlementFormatError(header.line_number, error.column, error.message) from None
    return SettlementReader(rows, header, LAYOUTS[chosen], options or ReadOptions())
