"""Money parsing and formatting (DESIGN §4): strict strings at the edge, integers inside."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.money import CURRENCY_EXPONENTS, Money, MoneyError

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))


@given(currencies, st.integers(min_value=0, max_value=10**15))
def test_format_then_parse_round_trips(currency: str, minor: int) -> None:
    money = Money(minor, currency)
    assert Money.parse(money.format(), currency) == money


@given(currencies, st.integers(min_value=0, max_value=10**15))
def test_format_has_exactly_the_currency_digits(currency: str, minor: int) -> None:
    text = Money(minor, currency).format()
    exponent = CURRENCY_EXPONENTS[currency]
    if exponent:
        assert len(text.split(".")[1]) == exponent
    else:
        assert "." not in text


@pytest.mark.parametrize(
    ("text", "minor"),
    [("10", 1000), ("10.5", 1050), ("10.50", 1050), ("0.01", 1), ("0", 0), ("999999.99", 99999999)],
)
def test_usd_amounts_parse_to_minor_units(text: str, minor: int) -> None:
    assert Money.parse(text, "USD").minor == minor


@pytest.mark.parametrize(
    "text",
    ["1e3", "-1", "+1", "1.234", " 1", "1 ", "1,00", "", "١٢", "１２", "01", "1.", ".5", "0x10",
     "NaN", "Infinity", "1_000", "1" * 33, "10.5.0"],
)  # fmt: skip
def test_usd_refuses_what_is_not_a_plain_amount(text: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text, "USD")


def test_zero_decimal_currency_refuses_fractions() -> None:
    assert Money.parse("500", "JPY").minor == 500
    with pytest.raises(MoneyError):
        Money.parse("500.0", "JPY")


def test_three_decimal_currency_takes_three_digits() -> None:
    assert Money.parse("1.234", "KWD").minor == 1234


@given(st.text(max_size=40))
def test_parse_either_succeeds_or_raises_money_error(text: str) -> None:
    try:
        money = Money.parse(text, "USD")
    except MoneyError:
        return
    assert money.minor >= 0
    assert text.isascii()


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(MoneyError):
        Money.parse("1", "XXX")


def test_arithmetic_refuses_mixed_currencies() -> None:
    assert Money(5, "USD") + Money(7, "USD") == Money(12, "USD")
    with pytest.raises(MoneyError):
        _ = Money(5, "USD") + Money(5, "EUR")


def test_minor_units_must_be_int() -> None:
    with pytest.raises(MoneyError):
        Money(1.5, "USD")  # type: ignore[arg-type]
