"""Amount and currency cells as the providers write them, parsed into integers of minor units.

Parsing only: digits are read into int, never into float, and no arithmetic is done on Decimal.
"""

from __future__ import annotations

import re
from decimal import Decimal

from payments.domain.money import CURRENCY_EXPONENTS, MAX_AMOUNT_TEXT_LENGTH


class CellError(ValueError):
    """A cell we cannot understand; the reader quarantines its line, naming `column`."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"{column}: {reason}")
        self.column = column
        self.reason = reason


# "5.00", "7.5", "12", ".11", "-0.11", "-.11": an optional minus, digits, one optional point.
_MAJOR = re.compile(r"(-?)([0-9]*)(?:\.([0-9]+))?", re.ASCII)
_RATE = re.compile(r"[0-9]*\.?[0-9]+", re.ASCII)


def currency_of(text: str, column: str) -> tuple[str, int]:
    """An ISO 4217 code (any case) that the money rules know, with its exponent."""
    code = text.strip().upper()
    exponent = CURRENCY_EXPONENTS.get(code)
    if exponent is None:
        reason = "no currency" if not code else f"unknown currency {text.strip()!r}"
        raise CellError(column, reason)
    return code, exponent


def parse_major(text: str, exponent: int, column: str) -> int:
    """A decimal amount of major units as minor units; at most `exponent` decimals."""
    text = text.strip()
    match = _MAJOR.fullmatch(text) if len(text) <= MAX_AMOUNT_TEXT_LENGTH else None
    if match is None or text in ("", "-"):
        raise CellError(column, f"{text!r} is not a decimal amount")
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    if not whole and not fraction:
        raise CellError(column, f"{text!r} is not a decimal amount")
    if len(fraction) > exponent:
        raise CellError(column, f"{text!r} has more than {exponent} decimals for its currency")
    scale: int = 10**exponent
    minor = int(whole or "0") * scale + int(fraction.ljust(exponent, "0") or "0")
    return -minor if sign else minor


def parse_optional_major(text: str, exponent: int, column: str) -> int | None:
    """Like parse_major, but an empty cell is None."""
    if not text or text.isspace():
        return None
    return parse_major(text, exponent, column)


def format_major(minor: int, exponent: int) -> str:
    """Minor units as a decimal string with exactly `exponent` decimals ("-0.11", "5.00", "12")."""
    sign = "-" if minor < 0 else ""
    scale: int = 10**exponent
    whole, fraction = divmod(abs(minor), scale)
    return f"{sign}{whole}.{fraction:0{exponent}d}" if exponent else f"{sign}{whole}"


def parse_rate(text: str, column: str) -> Decimal | None:
    """A positive exchange rate such as "1" or "1.0843"; an empty cell is None."""
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_AMOUNT_TEXT_LENGTH or _RATE.fullmatch(text) is None:
        raise CellError(column, f"{text!r} is not an exchange rate")
    rate = Decimal(text)
    if rate == 0:
        raise CellError(column, "an exchange rate of zero")
    return rate
