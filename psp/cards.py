"""Card-number facts shared by the API's card guard and the sandbox PSP.

Nothing here stores or logs a number: callers pass text in and get facts out.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

PAN_MIN_DIGITS = 12  # what the sandbox's tokeniser accepts
PAN_MAX_DIGITS = 19
GUARD_MIN_DIGITS = 13  # what the API's card guard looks for (ISO/IEC 7812 card lengths)

# A run of digits whose groups are joined by one kind of separator (space, dash or dot),
# not glued to a letter, digit or underscore (inside an id or a hash: "po_1234...") nor
# after a "+" (a phone number).
_DIGIT_RUN = re.compile(r"(?<![0-9A-Za-z_+])[0-9]+(?:([ .-])[0-9]+(?:\1[0-9]+)*)?(?![0-9A-Za-z_])")
_SEPARATOR = re.compile(r"[ .-]")
# How cards are printed besides groups of four: Amex's and Diners' groupings.
_UNEVEN_GROUPINGS = ((4, 6, 5), (4, 6, 4))


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


def issuable_pan(digits: str) -> bool:
    """True when a digit string has a length and prefix some card network issues, and
    passes Luhn.

    Lengths 13-15 only with the prefixes that use them (Visa 13, Diners 14, Amex 15): most
    other numbers that long are phone numbers, timestamps or ids. 16-19 digits with any
    prefix but 0 and 1 (phone and national numbers, epoch timestamps in ms, µs or ns,
    snowflake ids), and a 2 only in Mir's and Mastercard's ranges (2200-2204, 2221-2720),
    so that ids that start with a year do not count.
    """
    length = len(digits)
    if length == 13:
        prefix_ok = digits.startswith("4")
    elif length == 14:
        prefix_ok = digits[:2] in {"30", "36", "38", "39"}
    elif length == 15:
        prefix_ok = digits[:2] in {"34", "37"}
    elif 16 <= length <= PAN_MAX_DIGITS:
        first = digits[0]
        if first == "2":
            prefix_ok = "2200" <= digits[:4] <= "2204" or "2221" <= digits[:4] <= "2720"
        else:
            prefix_ok = first not in {"0", "1"}
    else:
        prefix_ok = False
    return prefix_ok and luhn_valid(digits)


def _printed_like_a_card(sizes: list[int]) -> bool:
    """Groups as cards are printed: one block, fours (4-4-4-4, 4-4-4-4-3, 4-4-4-1), Amex's
    4-6-5, Diners' 4-6-4, or digit by digit. Not a UUID's 8-4-4, a date's 4-2-2 or an
    amount's 12-2."""
    if len(sizes) == 1 or all(size == 1 for size in sizes):
        return True
    if all(size == 4 for size in sizes[:-1]) and sizes[-1] <= 4:
        return True
    return tuple(sizes) in _UNEVEN_GROUPINGS


def card_number_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every card number written in text: 13-19 digits, alone or in groups
    separated by spaces, dashes or dots, that a card network could have issued (Luhn)."""
    for match in _DIGIT_RUN.finditer(text):
        groups = _SEPARATOR.split(match.group())
        starts = [match.start()]
        for group in groups[:-1]:
            starts.append(starts[-1] + len(group) + 1)  # separators are one character
        # A card number may be followed (or preceded) by other groups: "4242 4242 4242 4242
        # 12 30" holds one. Try each stretch of whole groups of a card's length.
        for first in range(len(groups)):
            digits = ""
            for last in range(first, len(groups)):
                digits += groups[last]
                if len(digits) > PAN_MAX_DIGITS:
                    break
                if (
                    len(digits) >= GUARD_MIN_DIGITS
                    and _printed_like_a_card([len(g) for g in groups[first : last + 1]])
                    and issuable_pan(digits)
                ):
                    yield starts[first], starts[last] + len(groups[last])


def contains_card_number(text: str) -> bool:
    return next(card_number_spans(text), None) is not None


def redact_card_numbers(text: str, mask: str = "[card number]") -> str:
    """text with every card number in it replaced by mask (for logs)."""
    merged: list[list[int]] = []
    for start, end in sorted(card_number_spans(text)):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    pieces: list[str] = []
    position = 0
    for start, end in merged:
        pieces.append(text[position:start] + mask)
        position = end
    return "".join(pieces) + text[position:]
