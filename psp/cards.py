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
# Deletes the ASCII digits: a text loses fewer than GUARD_MIN_DIGITS characters to it holds no
# card number (counted in C, so that the many short values of a body cost next to nothing).
_WITHOUT_DIGITS = str.maketrans("", "", "0123456789")
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


def _issued_length_and_prefix(digits: str) -> bool:
    """True when a digit string has a length and prefix some card network issues.

    Lengths 13-15 only with the prefixes that use them (Visa 13, Diners 14, Amex 15): most
    other numbers that long are phone numbers, timestamps or ids. 16-19 digits with any
    prefix but 0 and 1 (phone and national numbers, epoch timestamps in ms, µs or ns,
    snowflake ids), and a 2 only in Mir's and Mastercard's ranges (2200-2204, 2221-2720),
    so that ids that start with a year do not count.
    """
    length = len(digits)
    if length == 13:
        return digits.startswith("4")
    if length == 14:
        return digits[:2] in {"30", "36", "38", "39"}
    if length == 15:
        return digits[:2] in {"34", "37"}
    if 16 <= length <= PAN_MAX_DIGITS:
        if digits[0] == "2":
            return "2200" <= digits[:4] <= "2204" or "2221" <= digits[:4] <= "2720"
        return digits[0] not in {"0", "1"}
    return False


def card_number_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every card number written in text: 13-19 digits, alone or in groups
    separated by spaces, dashes or dots, that a card network could have issued (Luhn)."""
    if len(text) - len(text.translate(_WITHOUT_DIGITS)) < GUARD_MIN_DIGITS:
        return  # fewer digits than the shortest card number has
    for match in _DIGIT_RUN.finditer(text):
        if match.end() - match.start() < GUARD_MIN_DIGITS:
            continue  # fewer characters than the shortest card number has digits
        groups = _SEPARATOR.split(match.group())
        starts = [match.start()]
        for group in groups[:-1]:
            starts.append(starts[-1] + len(group) + 1)  # separators are one character
        # A card number may be followed (or preceded) by other groups: "4242 4242 4242 4242
        # 12 30" holds one. Try each stretch of whole groups of a card's length.
        for first in range(len(groups)):
            if groups[first][0] in "01":  # no network issues numbers that start so
                continue
            for last in _card_stretch_ends(groups, first):
                yield starts[first], starts[last] + len(groups[last])


def _card_stretch_ends(groups: list[str], first: int) -> Iterator[int]:
    """Each last group such that groups[first..last] is printed as cards are (one block,
    fours with a shorter last, Amex's 4-6-5, Diners' 4-6-4, or digit by digit as the whole
    run; not a UUID's 8-4-4, a date's 4-2-2 or an amount's 12-2) and holds a number a
    network issues.

    Work per first group is bounded (19 digits at most, the Luhn sums kept as digits are
    added), so that a body of many short groups costs milliseconds, not seconds."""
    digits = ""
    sizes: list[int] = []
    all_ones = all_fours_before_last = True
    # Luhn sums over the digits so far at even and odd indexes, plain and doubled: which
    # pair counts depends on the parity of the length (the check digit is the last).
    even_plain = even_doubled = odd_plain = odd_doubled = 0
    for last in range(first, len(groups)):
        if sizes:
            all_fours_before_last = all_fours_before_last and sizes[-1] == 4
        group = groups[last]
        sizes.append(len(group))
        all_ones = all_ones and len(group) == 1
        for char in group:
            value = ord(char) - 48
            doubled = value * 2 - 9 if value > 4 else value * 2
            if len(digits) % 2 == 0:
                even_plain, even_doubled = even_plain + value, even_doubled + doubled
            else:
                odd_plain, odd_doubled = odd_plain + value, odd_doubled + doubled
            digits += char
        # Digit by digit only as a whole run: inside a longer one every digit would start
        # a stretch to try.
        whole_run = first == 0 and last == len(groups) - 1
        printed_like_a_card = (
            len(sizes) == 1
            or (all_ones and whole_run)
            or (all_fours_before_last and len(group) <= 4)
            or tuple(sizes) in _UNEVEN_GROUPINGS
        )
        may_grow = sizes == [4, 6] or (all_ones and first == 0)
        if len(digits) > PAN_MAX_DIGITS or not (printed_like_a_card or may_grow):
            return  # longer stretches cannot be printed like a card either
        if printed_like_a_card and len(digits) >= GUARD_MIN_DIGITS:
            odd_length = len(digits) % 2 == 1
            total = even_plain + odd_doubled if odd_length else even_doubled + odd_plain
            if total % 10 == 0 and _issued_length_and_prefix(digits):
                yield last


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
