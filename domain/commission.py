"""The platform's commission on an order, and how a refund or dispute splits (ADR 0014).

A commission is a percentage plus a fixed amount, written `"2.5%+0.30"`, `"2.5%"`, `"0.30"`
or `"0"`. It is computed in integer minor units with one rounding rule: the percentage part
is rounded half up to a whole minor unit, the fixed part added, and the total capped at the
order's amount (a seller's net is never negative).

A refund or a dispute takes back part of a captured order. Who bears it is a policy:
`keep` (the platform keeps its commission; the seller bears the whole amount) or `return`
(the commission is returned pro rata). Pro-rata shares are computed on the running total,
`round_half_up(commission * taken_so_far / gross)` minus what earlier takings returned, so
that refunding an order in any number of parts returns exactly its commission, no cent more
or less.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Protocol

from payments.domain.money import Money, MoneyError

RATE_SCALE = 1_000_000  # a rate is stored in millionths: 2.5 % is 25_000
_PERCENT = re.compile(r"(0|[1-9][0-9]{0,1})(?:\.([0-9]{1,4}))?%|100(?:\.0{1,4})?%", re.ASCII)


class RefundCommissionPolicy(Enum):
    KEEP = "keep"
    RETURN = "return"


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator for non-negative integers, rounded half up."""
    return (2 * numerator + denominator) // (2 * denominator)


@dataclass(frozen=True, slots=True)
class Commission:
    """A percentage (in millionths) plus a fixed amount in minor units."""

    rate: int = 0
    fixed_minor: int = 0

    @classmethod
    def parse(cls, text: str, currency: str) -> Commission:
        """Read `"2.5%+0.30"`, `"2.5%"`, `"0.30"` or `"0"`; raise MoneyError naming the rule."""
        if not isinstance(text, str) or len(text) > 32:
            raise MoneyError("commission must be a short string such as 2.5%+0.30")
        percent, plus, fixed = text.strip().partition("+")
        if not plus and not percent.endswith("%"):
            percent, fixed = "", percent
        if plus and not percent.endswith("%"):
            raise MoneyError("commission: write the percentage first, as in 2.5%+0.30")
        rate = _parse_percent(percent) if percent else 0
        fixed_minor = Money.parse(fixed, currency).minor if fixed else 0
        return cls(rate=rate, fixed_minor=fixed_minor)

    def of(self, gross_minor: int) -> int:
        """The commission on an order of `gross_minor`: half up, capped at the amount."""
        percent_part = round_half_up(gross_minor * self.rate, RATE_SCALE)
        return min(gross_minor, percent_part + self.fixed_minor)

    def describe(self, currency: str) -> str:
        whole, fraction = divmod(self.rate, RATE_SCALE // 100)
        percent = f"{whole}.{fraction:04d}".rstrip("0").rstrip(".") + "%"
        fixed = Money(self.fixed_minor, currency).format()
        if not self.fixed_minor:
            return percent if self.rate else "0"
        return f"{percent}+{fixed}" if self.rate else fixed


def _parse_percent(text: str) -> int:
    match = _PERCENT.fullmatch(text)
    if match is None:
        raise MoneyError(
            "commission percentage must be 0% to 100% with at most 4 decimals (e.g. 2.5%)"
        )
    if text.startswith("100"):
        return RATE_SCALE
    whole, fraction = match.group(1), match.group(2) or ""
    return int(whole) * (RATE_SCALE // 100) + int(fraction.ljust(4, "0"))


NO_COMMISSION = Commission()


@dataclass(frozen=True, slots=True)
class Split:
    """Who bears an amount taken back from a captured order."""

    seller_minor: int  # debited from the seller
    platform_minor: int  # debited from platform_revenue (commission returned)

    @property
    def total_minor(self) -> int:
        return self.seller_minor + self.platform_minor


class Taking(Protocol):
    """A refund or a dispute: what it takes back from which order, and whose seller's."""

    payment_order_id: str
    seller_account: str
    amount_minor: int
    currency: str


def taking_terms(taking: Taking, split: Split) -> dict[str, Any]:
    """What an event that moves a taking's money carries again (a refund's success, a dispute
    won or reopened), so that the ledger posts from the event alone (ADR 0014)."""
    return {
        "payment_order_id": taking.payment_order_id,
        "seller_account": taking.seller_account,
        "currency": taking.currency,
        "amount_minor": taking.amount_minor,
        "seller_share_minor": split.seller_minor,
        "platform_share_minor": split.platform_minor,
    }


def split_taking(
    *,
    gross_minor: int,
    commission_minor: int,
    taken_before_minor: int,
    amount_minor: int,
    policy: RefundCommissionPolicy,
) -> Split:
    """Split `amount_minor` taken back (refund or dispute) after `taken_before_minor` was."""
    if not 0 < amount_minor <= gross_minor - taken_before_minor:
        raise ValueError("a taking must be positive and at most what is left of the order")
    if policy is RefundCommissionPolicy.KEEP or gross_minor == 0:
        return Split(seller_minor=amount_minor, platform_minor=0)
    after = round_half_up(commission_minor * (taken_before_minor + amount_minor), gross_minor)
    before = round_half_up(commission_minor * taken_before_minor, gross_minor)
    platform = after - before
    return Split(seller_minor=amount_minor - platform, platform_minor=platform)
