"""The one interface every settlement format implements, and the header handling they share."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from payments.psp.settlement.amounts import CellError
from payments.psp.settlement.csv_rows import CsvRows, Row, UnreadableRow
from payments.psp.settlement.errors import SettlementFormatError
from payments.psp.settlement.records import (
    QuarantinedLine,
    SettlementFormat,
    SettlementItem,
    SettlementRecord,
)


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """Choices a deployment makes about its files; the defaults suit most.

    stripe_metadata_key: the metadata key under which we store our reference on Stripe objects
    (read from the payment_metadata[KEY], transfer_metadata[KEY] and refund_metadata[KEY] columns).
    stripe_time_zone: the zone of Stripe's `created` column, used only when `created_utc` is
    absent (Stripe writes the zone the report was requested in, UTC by default).
    time_zones: extra time zone names, e.g. {"IST": "Asia/Kolkata"}, for the abbreviations we
    leave out because they are ambiguous.
    """

    stripe_metadata_key: str = "reference"
    stripe_time_zone: str = "UTC"
    time_zones: Mapping[str, str] = field(default_factory=dict)


class SettlementLayout(Protocol):
    """A settlement file format: recognises its header and reads its lines."""

    @property
    def name(self) -> SettlementFormat: ...

    def matches(self, header: Sequence[str]) -> bool:
        """Whether the file's first row is this format's header."""
        ...

    def records(self, rows: CsvRows, header: Row, options: ReadOptions) -> Iterator[SettlementItem]:
        """Every line after the header: a record, or quarantined; raises for a cut file."""
        ...


@dataclass(frozen=True, slots=True)
class Columns:
    """Where each column we use sits in a header, found by name."""

    names: tuple[str, ...]
    index: dict[str, int]

    def get(self, row: Sequence[str], name: str) -> str:
        """The cell of an optional column, "" when the header does not have it."""
        position = self.index.get(name)
        return "" if position is None else row[position]


def header_names(fields: Sequence[str]) -> tuple[str, ...]:
    return tuple(name.strip() for name in fields)


def bind_columns(
    header: Row,
    names: Sequence[str],
    *,
    essential: Collection[str],
    used: Callable[[str], bool],
    rows: CsvRows,
) -> Columns:
    """Index the used columns of `names`; refuse a header that lacks an essential one."""
    missing = [name for name in essential if name not in names]
    if missing:
        message = f"missing essential column{'s' if len(missing) > 1 else ''}: {', '.join(missing)}"
        raise SettlementFormatError(header.line_number, missing[0], message)
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        if not used(name):
            continue
        if name in index:
            raise SettlementFormatError(header.line_number, name, "column appears more than once")
        index[name] = position
    rows.ignore(name for name in names if not used(name))
    return Columns(tuple(names), index)


def misfit(row: Row | UnreadableRow, columns: Sequence[str]) -> QuarantinedLine | None:
    """A row that does not fit the header: quarantined, or refused when the file was cut there."""
    if isinstance(row, UnreadableRow):
        return QuarantinedLine(row.line_number, row.raw, "", row.reason)
    count, expected = len(row.fields), len(columns)
    if row.open_quote:
        column = columns[min(count, expected) - 1] if count else ""
        raise SettlementFormatError(
            row.line_number, column, "the file ends inside a quoted field: it was cut short"
        )
    if count == expected or (count > expected and not "".join(row.fields[expected:]).strip()):
        return None  # empty cells past the last column (a trailing comma) carry nothing
    if count < expected and not row.terminated:
        raise SettlementFormatError(
            row.line_number,
            columns[count],
            f"the last line ends after {count} of {expected} fields without a line break:"
            " the file was cut short",
        )
    return QuarantinedLine(
        row.line_number, row.raw, "", f"{count} fields where the header has {expected}"
    )


def body_item(
    row: Row | UnreadableRow, columns: Columns, parse: Callable[[Row], SettlementRecord]
) -> SettlementItem:
    """A data row as a record, or quarantined when it does not fit or a cell is not understood."""
    quarantined = misfit(row, columns.names)
    if quarantined is not None:
        return quarantined
    assert isinstance(row, Row)  # misfit returns the unreadable ones
    try:
        return parse(row)
    except CellError as error:
        return QuarantinedLine(row.line_number, row.raw, error.column, error.reason)
