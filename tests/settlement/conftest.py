from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from payments.psp.settlement import (
    QuarantinedLine,
    ReadOptions,
    SettlementItem,
    SettlementReader,
    SettlementRecord,
    read_settlement,
)

FILES = Path(__file__).parent / "files"
PAYPAL_STRUCTURE = {"RH", "FH", "SH", "CH", "SF", "SC", "RF", "RC", "FF"}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def open_file(
    relative: str, options: ReadOptions | None = None
) -> tuple[SettlementReader, dict[int, SettlementItem]]:
    """Read a fixture; the items by line number (each line yields at most one item)."""
    with (FILES / relative).open("rb") as stream:
        reader = read_settlement(stream, options=options)
        items: dict[int, SettlementItem] = {}
        for item in reader:
            assert item.line_number not in items
            items[item.line_number] = item
    return reader, items


def every_record(relative: str) -> list[SettlementRecord]:
    """Read a fixture none of whose lines is quarantined: its records."""
    _, items = open_file(relative)
    records = [item for item in items.values() if isinstance(item, SettlementRecord)]
    assert len(records) == len(items)
    return records


def data_line_numbers(relative: str) -> set[int]:
    """The first line of every data record, counted with the csv module, not with our reader."""
    text = (FILES / relative).read_bytes().decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text, newline=""))
    starts: set[int] = set()
    previous_end = 0
    for fields in reader:
        start, previous_end = previous_end + 1, reader.line_num
        if not any(field.strip() for field in fields):
            continue
        if relative.startswith("paypal/"):
            if fields[0] not in PAYPAL_STRUCTURE:
                starts.add(start)
        elif start > 1:
            starts.add(start)
    return starts


def record(items: dict[int, SettlementItem], line: int) -> SettlementRecord:
    item = items[line]
    assert isinstance(item, SettlementRecord), item
    return item


def quarantined(items: dict[int, SettlementItem], line: int) -> QuarantinedLine:
    item = items[line]
    assert isinstance(item, QuarantinedLine), item
    return item
