"""The one error a settlement file raises when it cannot be read at all."""

from __future__ import annotations


class SettlementFormatError(ValueError):
    """A settlement file that cannot be trusted; names the 1-based line and the column."""

    def __init__(self, line: int, column: str, message: str) -> None:
        super().__init__(f"line {line}, column {column!r}: {message}")
        self.line = line
        self.column = column
        self.message = message
