"""Time and peak memory of reading a large Adyen settlement file (not a test: run it by hand).

    .venv/bin/python -m tests.settlement.measure_adyen_read [LINES]

Writes a file of LINES lines (default 1,000,000) to a temporary folder, streaming, then reads it
back with read_settlement and prints the read time and the process's peak resident memory.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from payments.psp.settlement import (
    RecordKind,
    SettlementFormat,
    SettlementRecord,
    read_settlement,
    write_adyen_csv,
)


def _records(count: int) -> Iterator[SettlementRecord]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for number in range(count):
        gross = 1_000 + number % 50_000
        fees = (("commission", 12), ("interchange", gross // 100))
        yield SettlementRecord(
            line_number=0,
            format=SettlementFormat.ADYEN,
            record_type="Settled",
            kind=RecordKind.CAPTURE,
            psp_reference=f"{8_800_000_000_000_000 + number}",
            merchant_reference=f"order-{number}",
            modification_reference=f"{9_900_000_000_000_000 + number}",
            modification_merchant_reference="",
            line_reference="",
            booked_at=start + timedelta(seconds=number),
            currency="EUR",
            net_minor=gross - 12 - gross // 100,
            gross_minor=gross,
            gross_currency="EUR",
            fees=fees,
            exchange_rate=None,
            batch="42",
            raw="",
        )


def main(lines: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "settlement.csv"
        with path.open("w", encoding="utf-8", newline="") as out:
            write_adyen_csv(_records(lines), out)
        size = path.stat().st_size
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        records = quarantined = net = 0
        with path.open("rb") as stream:
            for item in read_settlement(stream):
                if isinstance(item, SettlementRecord):
                    records += 1
                    net += item.net_minor
                else:
                    quarantined += 1
        elapsed = time.perf_counter() - started
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(f"file: {lines:,} lines, {size / 2**20:.0f} MiB")
    print(f"read: {records:,} records, {quarantined:,} quarantined, net sum {net}")
    print(f"time: {elapsed:.1f} s ({elapsed / max(lines, 1) * 1e6:.1f} us a line)")
    print(f"peak resident memory: {peak / 1024:.0f} MiB (before reading: {before / 1024:.0f} MiB)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
