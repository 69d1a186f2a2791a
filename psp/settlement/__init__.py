"""Settlement files of the PSPs: read them into normalised records, and write them for tests.

    with open(path, "rb") as stream:
        reader = read_settlement(stream)  # or format="adyen" | "stripe" | "paypal"
        for item in reader:
            if isinstance(item, QuarantinedLine): ...  # a line we could not understand
            else: ...  # a SettlementRecord

The strict Adyen reader (iter_settlement_lines, SettlementLine, write_settlement_csv) is the one
the reconciliation engine and the sandbox use today; it is kept as it was.
"""

from payments.psp.settlement.errors import SettlementFormatError
from payments.psp.settlement.layout import ReadOptions, SettlementLayout
from payments.psp.settlement.reader import LAYOUTS, SettlementReader, detect_format, read_settlement
from payments.psp.settlement.records import (
    QuarantinedLine,
    RecordKind,
    SettlementFormat,
    SettlementItem,
    SettlementRecord,
)
from payments.psp.settlement.strict_adyen import (
    COLUMNS,
    DATE_FORMAT,
    KNOWN_TYPES,
    SettlementLine,
    format_minor,
    iter_settlement_lines,
    parse_minor,
    write_settlement_csv,
)
from payments.psp.settlement.writers import write_adyen_csv, write_stripe_itemized_csv

__all__ = [
    "COLUMNS",
    "DATE_FORMAT",
    "KNOWN_TYPES",
    "LAYOUTS",
    "QuarantinedLine",
    "ReadOptions",
    "RecordKind",
    "SettlementFormat",
    "SettlementFormatError",
    "SettlementItem",
    "SettlementLayout",
    "SettlementLine",
    "SettlementReader",
    "SettlementRecord",
    "detect_format",
    "format_minor",
    "iter_settlement_lines",
    "parse_minor",
    "read_settlement",
    "write_adyen_csv",
    "write_settlement_csv",
    "write_stripe_itemized_csv",
]
