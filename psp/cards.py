"""Card-number facts shared by the API's PAN guard and the sandbox PSP.

Nothing here stores or logs a number: callers pass digits in and get facts out.
"""

from __future__ import annotations

import re

_DIGIT_RUN = re.compile(r"(?:\d[ -]?){12,18}\d", re.ASCII)
PAN_MIN_DIGITS = 12
PAN_MAX_DIGITS = 19


def luhn_valid(digits: str) -> bool:
    """True when an ASCII digit string passes the Luhn (mod 10) check."""
    if not digits.isascii() or not digits.isdigit():
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def brand_of(digits: str) -> str:
    """The card brand a number's prefix announces (visa, mastercard, amex, discover, unknown)."""
    if digits.startswith("4"):
        return "visa"
    if digits[:2] in {"51", "52", "53", "54", "55"} or "2221" <= digits[:4] <= "2720":
        return "mastercard"
    if digits[:2] in {"34", "37"}:
        return "amex"
    if digits.startswith("6011") or digits.startswith("65"):
        return "discover"
    return "unknown"


def looks_like_pan(text: str) -> bool:
    """True when text holds a run of 12-19 digits (spaces or dashes allowed) that passes Luhn."""
    for match in _DIGIT_RUN.finditer(text):
        if luhn_valid(re.sub(r"[ -]", "", match.group())):
            return True
    return False
