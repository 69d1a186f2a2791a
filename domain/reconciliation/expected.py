"""Our side of a reconciliation: what we recorded, and what earlier runs settled or await.

Built by replaying the event log (projections/reconciliation/history.py); read and marked by
the classifier. Kept small: a million orders must fit in memory (__slots__, ISO strings
parsed only when needed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

NOT_STARTED, EXECUTING, SUCCESS, FAILED = "NOT_STARTED", "EXECUTING", "SUCCESS", "FAILED"
REQUESTED, PAID, RETURNED = "REQUESTED", "PAID", "RETURNED"  # payouts (and EXECUTING, FAILED)


@dataclass(frozen=True, slots=True)
class Settled:
    """A line an earlier run booked: where, and with which amounts (gross = net + fee)."""

    identity: str
    run_id: str
    line: int
    net_minor: int
    fee_minor: int

    @property
    def gross_minor(self) -> int:
        return self.net_minor + self.fee_minor

    @property
    def reference(self) -> str:
        return f"run {self.run_id} line {self.line}"


class OrderFacts:
    """What reconciliation needs of one order."""

    __slots__ = (
        "amount_minor",
        "currency",
        "dead_lettered",
        "matched",
        "payment_order_id",
        "psp_reference",
        "seen_identity",
        "seen_line",
        "settled",
        "status",
        "succeeded_at",
    )

    def __init__(self, payment_order_id: str, amount_minor: int, currency: str) -> None:
        self.payment_order_id = payment_order_id
        self.amount_minor = amount_minor
        self.currency = currency
        self.status = NOT_STARTED
        self.psp_reference: str | None = None
        self.succeeded_at: str | None = None  # ISO 8601, parsed only when needed
        self.dead_lettered = False
        self.settled: Settled | None = None  # booked by an earlier run
        self.seen_line = 0  # the line of this file that settled it (0: none yet)
        self.seen_identity = 0  # that line's identity, as an int (smaller than its text)
        self.matched = False  # that line agreed with us in every respect

    @property
    def status_label(self) -> str:
        return f"{self.status} (dead-lettered)" if self.dead_lettered else self.status

    @property
    def moment(self) -> datetime | None:
        return None if self.succeeded_at is None else datetime.fromisoformat(self.succeeded_at)


class PayoutFacts:
    """What reconciliation needs of one payout: its paid-out line, and its return's line."""

    __slots__ = (
        "amount_minor",
        "currency",
        "dead_lettered",
        "matched",
        "paid_at",
        "payout_id",
        "psp_reference",
        "return_line",
        "return_matched",
        "return_settled",
        "returned_at",
        "seen_line",
        "seller_account",
        "settled",
        "status",
    )

    def __init__(
        self, payout_id: str, amount_minor: int, currency: str, seller_account: str = ""
    ) -> None:
        self.payout_id = payout_id
        self.amount_minor = amount_minor
        self.currency = currency
        self.seller_account = seller_account
        self.status = REQUESTED
        self.psp_reference: str | None = None
        self.paid_at: str | None = None  # ISO 8601 of the Paid event
        self.returned_at: str | None = None
        self.dead_lettered = False
        self.settled: Settled | None = None  # its paid-out line, booked by an earlier run
        self.return_settled: Settled | None = None  # its return's credit line
        self.seen_line = 0  # this file's debit (paid-out) line for it (0: none yet)
        self.return_line = 0  # this file's credit (returned) line for it
        self.matched = False  # its debit line agreed with us in every respect
        self.return_matched = False

    @property
    def status_label(self) -> str:
        return f"{self.status} (dead-lettered)" if self.dead_lettered else self.status

    @property
    def was_paid(self) -> bool:
        return self.status in (PAID, RETURNED)

    @property
    def paid_moment(self) -> datetime | None:
        return None if self.paid_at is None else datetime.fromisoformat(self.paid_at)

    @property
    def returned_moment(self) -> datetime | None:
        return None if self.returned_at is None else datetime.fromisoformat(self.returned_at)


@dataclass(frozen=True, slots=True)
class AwaitingOrder:
    """An earlier run's open awaiting-settlement finding (about an order or a payout)."""

    run_id: str
    finding_id: str

    @property
    def reference(self) -> str:
        return f"{self.run_id}/{self.finding_id}"


@dataclass
class Expected:
    """Everything the classifier compares a file with, as of `through_position` of the log."""

    through_position: int
    orders: dict[str, OrderFacts] = field(default_factory=dict)  # by payment_order_id
    payouts: dict[str, PayoutFacts] = field(default_factory=dict)  # by payout_id
    awaiting: dict[str, AwaitingOrder] = field(default_factory=dict)  # by payment_order_id
    awaiting_payouts: dict[str, AwaitingOrder] = field(default_factory=dict)  # by payout_id
    awaiting_returns: dict[str, AwaitingOrder] = field(default_factory=dict)  # by payout_id
    settled_elsewhere: set[str] = field(default_factory=set)  # order ids (runs before memory)
    payouts_settled_elsewhere: set[str] = field(default_factory=set)
    fee_batches: set[int] = field(default_factory=set)  # runs that booked fees per batch
    seen_lines: dict[str, str] = field(default_factory=dict)  # identity -> where it was seen
