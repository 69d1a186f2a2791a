"""Commission and the split of refunds and disputes (ADR 0014): integer minor units only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payments.domain.commission import (
    Commission,
    RefundCommissionPolicy,
    round_half_up,
    split_taking,
)
from payments.domain.money import MoneyError


@pytest.mark.parametrize(
    ("text", "gross", "expected"),
    [
        ("0", 1000, 0),
        ("2.5%+0.30", 1000, 55),  # 25.0 + 30
        ("2.5%", 1010, 25),  # 25.25 rounds down
        ("2.5%", 1020, 26),  # 25.5 rounds half up
        ("0.30", 20, 20),  # capped at the amount: a net is never negative
        ("100%", 999, 999),
        ("0.0001%", 500_000, 1),  # 0.5 rounds half up
    ],
)
def test_commission_is_rounded_half_up_and_capped(text: str, gross: int, expected: int) -> None:
    assert Commission.parse(text, "USD").of(gross) == expected


def test_commission_reads_back_as_written() -> None:
    for text in ("0", "2.5%", "2.5%+0.30", "0.30", "100%", "0.0001%"):
        assert Commission.parse(text, "USD").describe("USD") == text


@pytest.mark.parametrize(
    "text", ["abc", "101%", "2.5%+0.30+1", "0.30+2%", "-1", "2.55555%", "2.5 %%", "1e3", "0.301"]
)
def test_bad_commission_is_refused_with_a_reason(text: str) -> None:
    with pytest.raises(MoneyError):
        Commission.parse(text, "USD")


def test_keep_policy_puts_the_whole_taking_on_the_seller() -> None:
    split = split_taking(
        gross_minor=1000,
        commission_minor=55,
        taken_before_minor=0,
        amount_minor=400,
        policy=RefundCommissionPolicy.KEEP,
    )
    assert (split.seller_minor, split.platform_minor) == (400, 0)


@given(
    gross=st.integers(1, 10**9),
    data=st.data(),
)
def test_return_policy_returns_exactly_the_commission_over_any_parts(
    gross: int, data: st.DataObject
) -> None:
    commission = data.draw(st.integers(0, gross))
    cuts = data.draw(st.lists(st.integers(1, gross), max_size=12))
    bounds = sorted({0, gross, *cuts})
    taken, platform_total, seller_total = 0, 0, 0
    for end in bounds[1:]:
        amount = end - taken
        split = split_taking(
            gross_minor=gross,
            commission_minor=commission,
            taken_before_minor=taken,
            amount_minor=amount,
            policy=RefundCommissionPolicy.RETURN,
        )
        assert split.total_minor == amount
        assert 0 <= split.platform_minor <= amount
        taken += amount
        platform_total += split.platform_minor
        seller_total += split.seller_minor
        assert platform_total == round_half_up(commission * taken, gross)
    assert (platform_total, seller_total) == (commission, gross - commission)


@pytest.mark.parametrize("amount", [0, -1, 601])
def test_a_taking_beyond_what_is_left_is_refused(amount: int) -> None:
    with pytest.raises(ValueError, match="positive and at most"):
        split_taking(
            gross_minor=1000,
            commission_minor=55,
            taken_before_minor=400,
            amount_minor=amount,
            policy=RefundCommissionPolicy.RETURN,
        )
