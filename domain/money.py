"""Money: integer minor units inside, decimal strings at the edge (docs/money.md)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# ISO 4217 minor-unit exponents for the currencies a deployment may choose.
CURRENCY_EXPONENTS: dict[str, int] = {
    "AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0, "CNY": 2, "CZK": 2,
    "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2,
    "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3, "MXN": 2, "MYR": 2, "NOK": 2,
    "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2,
    "TND": 3, "TRY": 2, "TWD": 2, "UGX": 0, "USD": 2, "VND": 0, "ZAR": 2,
}  # fmt: skip

# Longest amount string we even look at: bounds the work an absurd input can cause.
MAX_AMOUNT_TEXT_LENGTH = 32


class MoneyError(ValueError):
    """An amount or currency that the money rules refuse; the message says why."""


def currency_exponent(currency: str) -> int:
    """The number of minor digits of an ISO 4217 currency code we support."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


def _amount_pattern(exponent: int) -> re.Pattern[str]:
    fraction = rf"(?:\.[0-9]{{1,{exponent}}})?" if exponent else ""
    return re.compile(rf"(?:0|[1-9][0-9]*){fraction}", re.ASCII)


_PATTERNS = {exp: _amount_pattern(exp) for exp in set(CURRENCY_EXPONENTS.values())}


@dataclass(frozen=True, slots=True, order=True)
class Money:
    """An amount of one currency as an integer count of its minor units."""

    minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.minor) is not int:
            raise MoneyError("minor units must be an int")
        currency_exponent(self.currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """Parse a decimal string such as "10", "10.5" or "10.50" (USD) into minor units.

        Refuses signs, exponents, spaces, separators, non-ASCII digits, leading zeros and
        more fraction digits than the currency has.
        """
        exponent = currency_exponent(currency)
        if not isinstance(text, str):
            raise MoneyError("amount must be a decimal string")
        if len(text) > MAX_AMOUNT_TEXT_LENGTH:
            raise MoneyError(f"amount is longer than {MAX_AMOUNT_TEXT_LENGTH} characters")
        if _PATTERNS[exponent].fullmatch(text) is None:
            rule = f"at most {exponent} decimal places" if exponent else "no decimal places"
            raise MoneyError(
                f"amount must be a plain decimal string with {rule} for {currency}, "
                'digits 0-9 only, no sign, exponent, spaces or separators (e.g. "10.50")'
            )
        whole, _, fraction = text.partition(".")
        return cls(int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0"), currency)

    def format(self) -> str:
        """The canonical decimal string: exactly the currency's minor digits ("10.50")."""
        exponent = currency_exponent(self.currency)
        sign = "-" if self.minor < 0 else ""
        whole, fraction = divmod(abs(self.minor), 10**exponent)
        if not exponent:
            return f"{sign}{whole}"
        return f"{sign}{whole}.{fraction:0{exponent}d}"

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.minor - other.minor, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")


def format_minor(minor: int, currency: str) -> str:
    """Minor units of a currency as the canonical decimal string ("10.50" for 1050 USD)."""
    return Money(minor, currency).format()
