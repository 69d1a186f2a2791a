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


def _moment(stamp: str | None) -> datetime | None:
    return None if stamp is None else datetime.fromisoformat(stamp)


class LineFacts:
    """What every item a settlement line settles has: our status and the PSP's reference,
    the line an earlier run booked for it, and this file's line for it."""

    __slots__ = ("currency", "matched", "psp_reference", "seen_line", "settled", "status")

    def __init__(self, currency: str, status: str) -> None:
        self.currency = currency
        self.status = status
        self.psp_reference: str | None = None
        self.settled: Settled | None = None  # booked by an earlier run
        self.seen_line = 0  # the line of this file that settled it (0: none yet)
        self.matched = False  # that line agreed with us in every respect


class OrderFacts(LineFacts):
    """What reconciliation needs of one order."""

    __slots__ = (
        "amount_minor",
        "dead_lettered",
        "payment_order_id",
        "seen_identity",
        "succeeded_at",
    )

    def __init__(self, payment_order_id: str, amount_minor: int, currency: str) -> None:
        super().__init__(currency, NOT_STARTED)
        self.payment_order_id = payment_order_id
        self.amount_minor = amount_minor
        self.succeeded_at: str | None = None  # ISO 8601, parsed only when needed
        self.dead_lettered = False
        self.seen_identity = 0  # that line's identity, as an int (smaller than its text)

    @property
    def status_label(self) -> str:
        return f"{self.status} (dead-lettered)" if self.dead_lettered else self.status

    @property
    def moment(self) -> datetime | None:
        return _moment(self.succeeded_at)


class PayoutFacts(LineFacts):
    """What reconciliation needs of one payout: its paid-out line, and its return's line.

    `settled`, `seen_line` and `matched` are about its debit (paid-out) line."""

    __slots__ = (
        "amount_minor",
        "dead_lettered",
        "paid_at",
        "payout_id",
        "return_line",
        "return_matched",
        "return_settled",
        "returned_at",
        "seller_account",
    )

    def __init__(
        self, payout_id: str, amount_minor: int, currency: str, seller_account: str = ""
    ) -> None:
        super().__init__(currency, REQUESTED)
        self.payout_id = payout_id
        self.amount_minor = amount_minor
        self.seller_account = seller_account
        self.paid_at: str | None = None  # ISO 8601 of the Paid event
        self.returned_at: str | None = None
        self.dead_lettered = False
        self.return_settled: Settled | None = None  # its return's credit line
        self.return_line = 0  # this file's credit (returned) line for it
        self.return_matched = False

    @property
    def status_label(self) -> str:
        return f"{self.status} (dead-lettered)" if self.dead_lettered else self.status

    @property
    def was_paid(self) -> bool:
        return self.status in (PAID, RETURNED)

    @property
    def paid_moment(self) -> datetime | None:
        return _moment(self.paid_at)

    @property
    def returned_moment(self) -> datetime | None:
        return _moment(self.returned_at)


# A refund's or a dispute's movement at the PSP: one settlement line each.
REFUND = "refund"  # a refund succeeded: the PSP debits its amount
CHARGEBACK = "chargeback"  # a dispute opened: the PSP withdraws its amount
DISPUTE_FEE = "dispute_fee"  # ... and charges its fee (a line of its own)
CHARGEBACK_REVERSAL = "chargeback_reversal"  # a dispute won: the amount comes back
SECOND_CHARGEBACK = "second_chargeback"  # a won dispute reopened: withdrawn again, no fee
MOVEMENT_KINDS = (REFUND, CHARGEBACK, DISPUTE_FEE, CHARGEBACK_REVERSAL, SECOND_CHARGEBACK)


def movement_id(kind: str, key: str) -> str:
    """A movement's name: its kind and our refund id or the PSP's dispute id."""
    return f"{kind}:{key}"


class MovementFacts(LineFacts):
    """What reconciliation needs of one refund or dispute movement: the line that settles it.

    `signed_minor` is what the PSP's line should carry, signed as lines are (a refund, a
    chargeback or a dispute fee is negative, a reversal positive). A refund in flight is
    REQUESTED, one that succeeded SUCCESS, a failed one FAILED; a dispute's movements are
    SUCCESS once recorded (the PSP reported them to us). Its `psp_reference` is the PSP's
    refund id; a dispute's is `key`."""

    __slots__ = ("happened_at", "key", "kind", "payment_order_id", "seen_identity", "signed_minor")

    def __init__(
        self, kind: str, key: str, payment_order_id: str, signed_minor: int, currency: str
    ) -> None:
        super().__init__(currency, REQUESTED)
        self.kind = kind
        self.key = key
        self.payment_order_id = payment_order_id
        self.signed_minor = signed_minor
        self.happened_at: str | None = None  # ISO 8601 of the event that made it final
        self.seen_identity = 0

    @property
    def movement_id(self) -> str:
        return movement_id(self.kind, self.key)

    @property
    def finding_id(self) -> str:
        """Findings about the movement (not a line): "refund-<id>", "chargeback-<id>", ..."""
        return f"{self.kind}-{self.key}"

    @property
    def status_label(self) -> str:
        return self.status

    @property
    def moment(self) -> datetime | None:
        return _moment(self.happened_at)


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
    movements: dict[str, MovementFacts] = field(default_factory=dict)  # by movement_id
    refunds_by_psp: dict[str, str] = field(default_factory=dict)  # PSP refund id -> movement_id
    awaiting_movements: dict[str, AwaitingOrder] = field(default_factory=dict)  # by movement_id
    movements_settled_elsewhere: set[str] = field(default_factory=set)  # a line found, unbooked

    def add_movement(self, movement: MovementFacts) -> MovementFacts:
        """Record one movement once: a second event for the same one changes nothing."""
        return self.movements.setdefault(movement.movement_id, movement)
