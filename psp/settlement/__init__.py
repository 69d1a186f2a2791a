"""Settlement files of the PSPs: read them into normalised records, and write them for tests."""

from payments.psp.settlement.errors import SettlementFormatError
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

__all__ = [
    "COLUMNS",
    "DATE_FORMAT",
    "KNOWN_TYPES",
    "SettlementFormatError",
    "SettlementLine",
    "format_minor",
    "iter_settlement_lines",
    "parse_minor",
    "write_settlement_csv",
]
