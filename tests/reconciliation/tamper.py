"""Edit a settlement file the way a careless system or a forger would, keeping it parseable."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

Rows = list[list[str]]


def read_rows(text: str) -> tuple[list[str], Rows]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def write_rows(header: list[str], rows: Rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def cell(header: list[str], row: list[str], column: str) -> str:
    return row[header.index(column)]


def set_cell(header: list[str], row: list[str], column: str, value: str) -> None:
    row[header.index(column)] = value


def add_amount(header: list[str], row: list[str], column: str, delta: Decimal) -> None:
    value = Decimal(cell(header, row, column) or "0") + delta
    set_cell(header, row, column, "" if value == 0 else f"{value:.2f}")


def settled_indexes(header: list[str], rows: Rows) -> list[int]:
    return [i for i, row in enumerate(rows) if cell(header, row, "Type") == "Settled"]


def payout_row(header: list[str], rows: Rows) -> list[str]:
    [row] = [row for row in rows if cell(header, row, "Type") == "MerchantPayout"]
    return row
