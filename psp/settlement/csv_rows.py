"""A settlement file as CSV rows, read one at a time, each with its line number and raw text.

Bytes are decoded as UTF-8 line by line (a byte-order mark before the first line is dropped), so
a file that is not UTF-8 text is refused naming the line. Lines end with LF or CRLF; quoted fields
may hold commas, quotes ("") and line breaks. Blank lines, and lines of nothing but empty fields,
are skipped. What a *cut* file looks like is recorded on the row, for the layout to judge against
its header: a quoted field still open at the end of the file, or a last line without a line
break (a complete last line may lack one; a last line with fewer fields than the header is cut).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from payments.psp.settlement.errors import SettlementFormatError


@dataclass(frozen=True, slots=True)
class Row:
    """One CSV record: `line_number` is its first line (a quoted line break spans several)."""

    line_number: int
    fields: list[str]
    raw: str
    terminated: bool  # False only for a last line that ends without a line break
    open_quote: bool  # the file ended inside a quoted field: cut in the middle of the record


@dataclass(frozen=True, slots=True)
class UnreadableRow:
    """A record the CSV rules themselves reject (e.g. a stray quote) in the middle of the file."""

    line_number: int
    raw: str
    reason: str


class CsvRows:
    """Iterates the rows of a binary (preferred) or text stream; never holds the whole file.

    A text stream should be opened with newline="" so line breaks inside quotes stay as they are.
    Layouts note the header columns they do not use with `ignore`.
    """

    def __init__(self, stream: IO[bytes] | IO[str]) -> None:
        self._stream = stream
        self._pending: list[str] = []
        self._physical = 0  # physical lines handed to the csv reader so far
        self._eof = False
        self._reader = csv.reader(self._lines(), strict=True)
        self.ignored_columns: list[str] = []

    def ignore(self, columns: Iterable[str]) -> None:
        for column in columns:
            if column not in self.ignored_columns:
                self.ignored_columns.append(column)

    def __iter__(self) -> Iterator[Row | UnreadableRow]:
        return self

    def __next__(self) -> Row | UnreadableRow:
        while True:
            first_line = self._physical + 1
            try:
                fields = next(self._reader)
            except csv.Error as error:
                return self._after_error(first_line, error)
            raw, terminated = self._take_raw()
            if any(field and not field.isspace() for field in fields):
                return Row(first_line, fields, raw, terminated, open_quote=False)

    def _after_error(self, first_line: int, error: csv.Error) -> Row | UnreadableRow:
        raw, _ = self._take_raw()
        if self._eof and "unexpected end of data" in str(error):
            partial = next(csv.reader([raw], strict=False), [])
            return Row(first_line, partial, raw, terminated=False, open_quote=True)
        return UnreadableRow(first_line, raw, f"not valid CSV: {error}")

    def _take_raw(self) -> tuple[str, bool]:
        text = "".join(self._pending)
        self._pending.clear()
        stripped = text.rstrip("\r\n")
        return stripped, stripped != text

    def _lines(self) -> Iterator[str]:
        lines: Iterator[bytes | str] = iter(self._stream)
        while True:
            try:
                line = next(lines)
            except StopIteration:
                break
            except UnicodeDecodeError as error:  # a text stream decodes for itself
                raise SettlementFormatError(self._physical + 1, "", _not_utf8(error)) from None
            self._physical += 1
            if isinstance(line, str):
                text = line
            else:
                try:
                    text = line.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise SettlementFormatError(self._physical, "", _not_utf8(error)) from None
            if "\x00" in text:
                raise SettlementFormatError(
                    self._physical, "", "not text: the line holds NUL bytes"
                )
            if self._physical == 1:
                text = text.removeprefix("\ufeff")
            self._pending.append(text)
            yield text
        self._eof = True


def _not_utf8(error: UnicodeDecodeError) -> str:
    return f"not UTF-8 text: {error.reason} at byte {error.start}"
