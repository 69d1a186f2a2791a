"""The steps of a random marketplace history (money_history.py runs them) and the
hypothesis strategies that draw them.

Steps name what they act on by a number taken modulo the candidates of the moment, so that
any list is a valid history and shrinks well; a step with no candidate does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hypothesis import strategies as st

from payments.domain.commission import RefundCommissionPolicy
from tests.projections.money_model import COMMISSIONS, SELLERS

Outcome = Literal["success", "fail", "later"]
RefundAmount = Literal["rest", "part", "exact", "over", "zero"]
RefundOutcome = Literal["succeeded", "failed", "in_flight"]
PayoutOutcome = Literal["paid", "failed", "returned", "in_transit"]


# --- steps ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlaceOrders:
    """A checkout of 1-3 orders, each charged at once (success, fail) or left for later."""

    lines: tuple[tuple[int, int, Outcome], ...]  # (seller, amount, outcome)


@dataclass(frozen=True, slots=True)
class Charge:
    pick: int
    success: bool


@dataclass(frozen=True, slots=True)
class Settle:
    """A settlement file books some unsettled captures (a bit of `mask` per capture)."""

    mask: int
    fee_per_mille: int
    write_off: int
    release: bool = False  # the release follower's turn comes at once


@dataclass(frozen=True, slots=True)
class Release:
    """The release follower reads the bookings recorded since its last turn."""


@dataclass(frozen=True, slots=True)
class RefundRequest:
    # Among captured orders, orders with a refund in flight, or any order (refusing what is
    # not captured is part of the test).
    among: Literal["captured", "in_flight", "any"]
    pick: int
    amount: RefundAmount
    percent: int
    outcome: RefundOutcome


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    pick: int
    success: bool


@dataclass(frozen=True, slots=True)
class DisputeOpen:
    """The PSP confirms a chargeback on a captured order (one per charge): the whole amount
    or a part of it, with its fee."""

    pick: int
    percent: int  # 100: the whole amount
    fee: int


@dataclass(frozen=True, slots=True)
class DisputeDecide:
    """The PSP decides an open dispute (won, lost), or reopens a won one (lost)."""

    pick: int
    verdict: Literal["won", "lost"]


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    pick: int  # among the sellers with money available
    percent: int
    outcome: PayoutOutcome


@dataclass(frozen=True, slots=True)
class PayoutAnswer:
    pick: int
    verdict: Literal["paid", "failed", "returned"]


Step = (
    PlaceOrders
    | Charge
    | Settle
    | Release
    | RefundRequest
    | RefundAnswer
    | DisputeOpen
    | DisputeDecide
    | PayoutRequest
    | PayoutAnswer
)

amounts = st.one_of(st.integers(1, 100), st.integers(1, 10**6))
place_orders = st.builds(
    PlaceOrders,
    st.lists(
        st.tuples(
            st.integers(0, len(SELLERS) - 1),
            amounts,
            st.sampled_from(["success", "success", "fail", "later"]),
        ),
        min_size=1,
        max_size=3,
    ).map(tuple),
)
settle = st.builds(
    Settle,
    st.integers(1, 2**12),
    st.integers(0, 40),
    st.sampled_from([0, 0, 1, 2]),
    st.booleans(),
)
refund_request = st.builds(
    RefundRequest,
    st.sampled_from(["captured", "in_flight", "captured", "any", "in_flight"]),
    st.integers(0, 50),
    st.sampled_from(["rest", "part", "part", "exact", "over", "zero"]),
    st.integers(1, 99),
    st.sampled_from(["in_flight", "succeeded", "failed", "succeeded"]),
)
payout_request = st.builds(
    PayoutRequest,
    st.integers(0, 50),
    st.one_of(st.just(100), st.integers(1, 100)),  # all of it, often: refunds then make debt
    st.sampled_from(["paid", "failed", "returned", "in_transit"]),
)
# Weighted by repetition: money has to come in, settle and be released before most of the
# other steps find something to act on.
steps: st.SearchStrategy[Step] = st.one_of(
    place_orders,
    place_orders,
    st.builds(Charge, st.integers(0, 50), st.booleans()),
    settle,
    settle,
    st.just(Release()),
    st.just(Release()),
    refund_request,
    refund_request,
    refund_request,
    st.builds(RefundAnswer, st.integers(0, 50), st.booleans()),
    st.builds(
        DisputeOpen,
        st.integers(0, 50),
        st.one_of(st.just(100), st.integers(1, 100)),
        st.sampled_from([1500, 0, 25]),
    ),
    st.builds(DisputeDecide, st.integers(0, 50), st.sampled_from(["won", "lost"])),
    st.builds(DisputeDecide, st.integers(0, 50), st.sampled_from(["won", "lost"])),
    payout_request,
    payout_request,
    payout_request,
    st.builds(PayoutAnswer, st.integers(0, 50), st.sampled_from(["paid", "failed", "returned"])),
)
# Money comes in first (a few checkouts), then anything happens.
histories = st.tuples(
    st.lists(place_orders, min_size=1, max_size=3), st.lists(steps, min_size=8, max_size=50)
).map(lambda parts: [*parts[0], *parts[1]])
commissions = st.sampled_from(COMMISSIONS)
policies = st.sampled_from(list(RefundCommissionPolicy))
