"""A model of marketplace money (ADR 0014) for the property tests: what the ledger and the
wallets must show after any history of checkouts, charges, settlements, releases, refunds,
disputes and payouts, computed from plain facts with formulas of its own (never with the code
under test).

The facts are recorded as the history runs; `expected()` reads them into account balances
(debit-positive, as the ledger shows them) and wallets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from payments.domain.commission import RefundCommissionPolicy
from payments.projections.views.postings import (
    DISPUTE_FEES,
    PAYOUTS_IN_TRANSIT,
    PLATFORM_REVENUE,
    PSP_BALANCE,
    PSP_FEES,
    PSP_RECEIVABLE,
    WRITE_OFFS,
)

SELLERS = ("acme", "bolt", "cogs")
NOT_STARTED, SUCCESS, FAILED = "NOT_STARTED", "SUCCESS", "FAILED"
IN_FLIGHT, SUCCEEDED = "in_flight", "succeeded"  # refunds: and FAILED
IN_TRANSIT, PAID, RETURNED = "in_transit", "paid", "returned"  # payouts: and FAILED
OPEN, WON, LOST, REOPENED = "open", "won", "lost", "reopened"  # disputes


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


@dataclass(frozen=True, slots=True)
class CommissionSpec:
    """A commission setting and what it means, written out independently of its parser."""

    text: str
    rate: Fraction
    fixed_minor: int

    def of(self, amount_minor: int) -> int:
        return min(amount_minor, half_up(amount_minor * self.rate) + self.fixed_minor)


COMMISSIONS = (
    CommissionSpec("0", Fraction(0), 0),
    CommissionSpec("2.5%+0.30", Fraction(25, 1000), 30),
    CommissionSpec("10%", Fraction(1, 10), 0),
)


@dataclass
class OrderFact:
    order_id: str
    seller: str
    amount: int
    commission: int
    status: str = NOT_STARTED
    released: bool = False

    @property
    def net(self) -> int:
        return self.amount - self.commission


@dataclass
class RefundFact:
    refund_id: str
    order_id: str
    seller: str
    amount: int
    seller_share: int
    platform_share: int
    status: str = IN_FLIGHT


@dataclass
class DisputeFact:
    """A chargeback: shares of the withdrawal (again at a second chargeback), its fee."""

    dispute_id: str
    order_id: str
    seller: str
    amount: int
    fee: int
    seller_share: int
    platform_share: int
    status: str = OPEN

    @property
    def withdrawn(self) -> bool:
        """The amount is withdrawn now (open, lost, or taken again after a win)."""
        return self.status != WON


@dataclass
class PayoutFact:
    payout_id: str
    seller: str
    amount: int
    status: str = IN_TRANSIT


@dataclass(frozen=True, slots=True)
class Movement:
    """Money moved at the PSP by one of our events (a capture, a refund, a dispute's
    chargeback, fee, reversal or second chargeback), which a settlement line books later:
    `signed` as the PSP's lines are (a capture or a reversal +, the others -)."""

    reference: str  # what a booking names: the order id, "refund:<id>", "chargeback:<id>"...
    booking: str  # the booking kind (reconciliation/memory.py)
    signed: int


@dataclass(frozen=True, slots=True)
class SettledLine:
    """A booked line: net + fee + write-off is the movement's signed amount."""

    reference: str
    net: int
    fee: int
    write_off: int


@dataclass(frozen=True, slots=True)
class WalletFigures:
    pending: int
    available: int
    in_transit: int
    paid_out: int
    credits: int  # succeeded orders
    unreleased_credits: frozenset[str]  # orders whose net (> 0) is still pending

    @property
    def balance(self) -> int:
        return self.pending + self.available


@dataclass(frozen=True, slots=True)
class Expected:
    """What the views must show at one point of the history."""

    accounts: dict[str, int]  # non-zero balances, debit-positive
    wallets: dict[str, WalletFigures]
    captured: dict[str, int]  # order id -> captured amount (succeeded orders)


@dataclass
class Model:
    commission: CommissionSpec
    policy: RefundCommissionPolicy
    orders: dict[str, OrderFact] = field(default_factory=dict)
    refunds: dict[str, RefundFact] = field(default_factory=dict)
    disputes: dict[str, DisputeFact] = field(default_factory=dict)
    payouts: dict[str, PayoutFact] = field(default_factory=dict)
    movements: dict[str, Movement] = field(default_factory=dict)  # by reference
    settlements: dict[str, SettledLine] = field(default_factory=dict)  # by reference
    settled_not_seen: list[str] = field(default_factory=list)  # for the release follower

    # --- reads the history needs to choose its next step ---------------------------------

    def ids(self, status: str | None = None) -> list[str]:
        return sorted(o for o, f in self.orders.items() if status is None or f.status == status)

    def unsettled(self) -> list[Movement]:
        return [m for r, m in sorted(self.movements.items()) if r not in self.settlements]

    def refunds_in(self, status: str) -> list[str]:
        return sorted(r for r, f in self.refunds.items() if f.status == status)

    def payouts_in(self, status: str) -> list[str]:
        return sorted(p for p, f in self.payouts.items() if f.status == status)

    def disputes_in(self, *statuses: str) -> list[str]:
        return sorted(d for d, f in self.disputes.items() if f.status in statuses)

    def taken(self, order_id: str) -> int:
        """What refunds succeeded or in flight, and disputes not won, took of the order."""
        refunds = sum(
            r.amount
            for r in self.refunds.values()
            if r.order_id == order_id and r.status in (IN_FLIGHT, SUCCEEDED)
        )
        disputes = (d for d in self.disputes.values() if d.order_id == order_id)
        return refunds + sum(d.amount for d in disputes if d.withdrawn)

    def refundable(self, order_id: str) -> int:
        order = self.orders[order_id]
        return max(0, order.amount - self.taken(order_id)) if order.status == SUCCESS else 0

    def refusal(self, order_id: str, amount: int | None) -> str | None:
        """Why the domain must refuse this refund ("not_refundable", "invalid"), or None."""
        if self.orders[order_id].status != SUCCESS:
            return "not_refundable"
        refundable = self.refundable(order_id)
        wanted = refundable if amount is None else amount
        if refundable <= 0 or not 0 < wanted <= refundable:
            return "invalid"
        return None

    def split(self, order_id: str, amount: int) -> tuple[int, int]:
        """(seller share, platform share) of a refund or a dispute: the commission returned
        pro rata on the running total under `return`, nothing under `keep`; what a dispute
        takes beyond what is left of the order is the seller's alone."""
        order = self.orders[order_id]
        before = self.taken(order_id)
        beyond = max(0, amount - max(0, order.amount - before))
        amount -= beyond
        if self.policy is RefundCommissionPolicy.KEEP or amount == 0:
            return amount + beyond, 0

        def returned(taken: int) -> int:
            return half_up(Fraction(order.commission * taken, order.amount))

        platform = returned(before + amount) - returned(before)
        return amount - platform + beyond, platform

    def available(self, seller: str) -> int:
        return self.expected_wallet(seller).available

    # --- what the views must show --------------------------------------------------------

    def expected_wallet(self, seller: str) -> WalletFigures:
        succeeded = [o for o in self.orders.values() if o.seller == seller and o.status == SUCCESS]
        refunds = [r for r in self.refunds.values() if r.seller == seller and r.status == SUCCEEDED]
        disputes = [d for d in self.disputes.values() if d.seller == seller and d.withdrawn]
        payouts = [p for p in self.payouts.values() if p.seller == seller]
        pending = sum(o.net for o in succeeded if not o.released)
        released = sum(o.net for o in succeeded if o.released)
        drawn = sum(p.amount for p in payouts if p.status in (IN_TRANSIT, PAID))
        return WalletFigures(
            pending=pending,
            available=released
            - sum(r.seller_share for r in refunds)
            - sum(d.seller_share for d in disputes)
            - drawn,
            in_transit=sum(p.amount for p in payouts if p.status == IN_TRANSIT),
            paid_out=sum(p.amount for p in payouts if p.status == PAID),
            credits=len(succeeded),
            unreleased_credits=frozenset(o.order_id for o in succeeded if not o.released and o.net),
        )

    def expected(self) -> Expected:
        succeeded = [o for o in self.orders.values() if o.status == SUCCESS]
        refunds = [r for r in self.refunds.values() if r.status == SUCCEEDED]
        disputes = list(self.disputes.values())
        payouts = list(self.payouts.values())
        wallets = {s: self.expected_wallet(s) for s in sorted({o.seller for o in succeeded})}
        settled = self.settlements.values()
        accounts = {
            # What the PSP owes us for movements no settlement line has booked yet.
            PSP_RECEIVABLE: sum(
                m.signed for r, m in self.movements.items() if r not in self.settlements
            ),
            PSP_BALANCE: sum(s.net for s in settled)
            - sum(p.amount for p in payouts if p.status == PAID),
            PSP_FEES: sum(s.fee for s in settled),
            WRITE_OFFS: sum(s.write_off for s in settled),
            PAYOUTS_IN_TRANSIT: -sum(p.amount for p in payouts if p.status == IN_TRANSIT),
            PLATFORM_REVENUE: -sum(o.commission for o in succeeded)
            + sum(r.platform_share for r in refunds)
            + sum(d.platform_share for d in disputes if d.withdrawn),
            DISPUTE_FEES: sum(d.fee for d in disputes),
        }
        for seller, wallet in wallets.items():
            accounts[f"seller:{seller}"] = -wallet.available
            accounts[f"seller:{seller}:pending"] = -wallet.pending
        assert sum(accounts.values()) == 0, accounts  # the model itself balances
        return Expected(
            accounts={a: v for a, v in accounts.items() if v},
            wallets=wallets,
            captured={o.order_id: o.amount for o in succeeded},
        )
