"""What the file should have carried and did not (DESIGN §8: timing is not an error).

A capture of ours that succeeded within the file's period, a payout we paid then, a payout
that came back (its credit line), or a refund or dispute movement (a refund succeeded, a
dispute opened with its fee, won or reopened), and that no file has settled yet, is *awaiting
settlement* until the window has passed (each finding says since when and until when), then
*missing at the PSP*. An earlier run's awaiting item that this file settles is noted as
*cleared*; one still absent after the window is escalated once, by the first run that finds it
overdue.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from payments.domain.reconciliation.accounts import PSP_BALANCE, PSP_RECEIVABLE, seller
from payments.domain.reconciliation.expected import (
    CHARGEBACK,
    CHARGEBACK_REVERSAL,
    DISPUTE_FEE,
    REFUND,
    RETURNED,
    SECOND_CHARGEBACK,
    SUCCESS,
    AwaitingOrder,
    Expected,
    LineFacts,
    Settled,
)
from payments.domain.reconciliation.findings import (
    AWAITING_SETTLEMENT,
    CLEARED,
    INFO,
    MISSING_AT_PSP,
    OPEN,
    SETTLED_OUTSIDE_PERIOD,
    Finding,
)


def order_finding_id(payment_order_id: str) -> str:
    """Findings about an order (not a line) are named after it, once per run."""
    return f"order-{payment_order_id}"


def payout_finding_id(payout_id: str) -> str:
    """Findings about a payout's paid-out line (not a line of the file) are named after it."""
    return f"payout-{payout_id}"


def return_finding_id(payout_id: str) -> str:
    """Findings about a returned payout's credit line."""
    return f"payout-return-{payout_id}"


@dataclass(frozen=True, slots=True)
class Words:
    happened: str
    cleared: str
    outside_period: str


ORDER_WORDS = Words(
    "succeeded",
    "settles an order an earlier run was awaiting",
    "matched; the order succeeded outside this file's period",
)
PAYOUT_WORDS = Words(
    "payout paid",
    "pays out a payout an earlier run was awaiting",
    "matched; the payout was paid outside this file's period",
)
RETURN_WORDS = Words(
    "payout returned",
    "brings back a returned payout an earlier run was awaiting",
    "matched; the payout was returned outside this file's period",
)


MOVEMENT_WORDS = {
    REFUND: Words(
        "refund succeeded",
        "settles a refund an earlier run was awaiting",
        "matched; the refund succeeded outside this file's period",
    ),
    CHARGEBACK: Words(
        "dispute opened",
        "settles a chargeback an earlier run was awaiting",
        "matched; the dispute opened outside this file's period",
    ),
    DISPUTE_FEE: Words(
        "dispute fee charged",
        "settles a dispute fee an earlier run was awaiting",
        "matched; the dispute opened outside this file's period",
    ),
    CHARGEBACK_REVERSAL: Words(
        "dispute won",
        "settles a won dispute an earlier run was awaiting",
        "matched; the dispute was won outside this file's period",
    ),
    SECOND_CHARGEBACK: Words(
        "dispute reopened",
        "settles a second chargeback an earlier run was awaiting",
        "matched; the dispute was reopened outside this file's period",
    ),
}


@dataclass(frozen=True, slots=True)
class Awaited:
    """An item of ours the file should carry, as the timing rule sees it."""

    finding_id: str
    payment_order_id: str | None
    payout_id: str | None
    psp_reference: str | None
    status_label: str
    signed_minor: int
    currency: str
    moment: datetime | None
    matched: bool
    seen_line: int
    settled: Settled | None
    settled_elsewhere: bool
    awaiting: AwaitingOrder | None
    words: Words
    give_up: dict[str, int]  # what accepting that it never comes posts
    movement: str | None = None


@dataclass(frozen=True, slots=True)
class Period:
    first: date | None
    last: date | None

    def holds(self, moment: datetime | None) -> bool:
        if moment is None or self.first is None or self.last is None:
            return False
        return self.first <= moment.astimezone(UTC).date() <= self.last

    def holds_stamp(self, stamp: str | None) -> bool:
        """holds() for a stored ISO timestamp, without parsing it when it is in UTC."""
        if stamp is None or self.first is None or self.last is None:
            return False
        if stamp.endswith("+00:00"):  # how events store their time: compare the date text
            return self.first.isoformat() <= stamp[:10] <= self.last.isoformat()
        return self.holds(datetime.fromisoformat(stamp))


def _looks_at(
    facts: LineFacts, stamp: str | None, awaiting: AwaitingOrder | None, period: Period
) -> bool:
    """Whether the timing rule looks at a succeeded item: always when an earlier run awaits
    it; else unless it was matched in its period, or is not settled and not this file's to
    carry (its moment, `stamp`, is outside the period)."""
    if facts.status != SUCCESS:
        return False
    return awaiting is not None or facts.matched != period.holds_stamp(stamp)


def awaited_items(expected: Expected, period: Period) -> Iterator[Awaited]:
    """Our succeeded orders, paid payouts and returned payouts that the timing rule must look
    at (a million orders matched in period are passed over without building anything)."""
    for order_id, order in expected.orders.items():
        awaiting = expected.awaiting.get(order_id)
        if not _looks_at(order, order.succeeded_at, awaiting, period):
            continue
        yield Awaited(
            order_finding_id(order_id), order_id, None, order.psp_reference, order.status_label,
            order.amount_minor, order.currency, order.moment, order.matched, order.seen_line,
            order.settled, order_id in expected.settled_elsewhere, awaiting, ORDER_WORDS,
            {PSP_RECEIVABLE: -order.amount_minor},
        )  # fmt: skip
    for payout_id, payout in expected.payouts.items():
        if not payout.was_paid:
            continue
        back = {
            PSP_BALANCE: payout.amount_minor,
            seller(payout.seller_account): -payout.amount_minor,
        }
        yield Awaited(
            payout_finding_id(payout_id), None, payout_id, payout.psp_reference,
            payout.status_label, -payout.amount_minor, payout.currency, payout.paid_moment,
            payout.matched, payout.seen_line, payout.settled,
            payout_id in expected.payouts_settled_elsewhere,
            expected.awaiting_payouts.get(payout_id), PAYOUT_WORDS, back,
        )  # fmt: skip
        if payout.status != RETURNED:
            continue
        # It never came back: the seller kept it after all (the return is undone).
        lost = {
            PSP_BALANCE: -payout.amount_minor,
            seller(payout.seller_account): payout.amount_minor,
        }
        yield Awaited(
            return_finding_id(payout_id), None, payout_id, payout.psp_reference,
            payout.status_label, payout.amount_minor, payout.currency, payout.returned_moment,
            payout.return_matched, payout.return_line, payout.return_settled, False,
            expected.awaiting_returns.get(payout_id), RETURN_WORDS, lost,
        )  # fmt: skip
    for key, movement in expected.movements.items():
        awaiting = expected.awaiting_movements.get(key)
        if not _looks_at(movement, movement.happened_at, awaiting, period):
            continue
        # Never at the PSP: what our event put on psp_receivable is written off.
        yield Awaited(
            movement.finding_id, movement.payment_order_id or None, None, movement.psp_reference,
            movement.status_label, movement.signed_minor, movement.currency, movement.moment,
            movement.matched, movement.seen_line, movement.settled,
            key in expected.movements_settled_elsewhere, awaiting, MOVEMENT_WORDS[movement.kind],
            {PSP_RECEIVABLE: -movement.signed_minor}, key,
        )  # fmt: skip


def timing_findings(
    items: Iterable[Awaited], period: Period, as_of: datetime, window_days: int
) -> list[Finding]:
    """Awaiting, missing at the PSP, cleared, or matched outside the period (DESIGN §8)."""
    span = timedelta(days=window_days)
    found: list[Finding] = []
    for item in items:
        awaiting = item.awaiting
        if item.matched:
            if awaiting is not None:
                found.append(_note(item, CLEARED, awaiting.reference))
            elif not period.holds(item.moment):
                found.append(_note(item, SETTLED_OUTSIDE_PERIOD, None))
            continue
        if item.seen_line or item.settled is not None or item.settled_elsewhere:
            continue
        if not period.holds(item.moment) and awaiting is None:
            continue
        moment = item.moment
        if moment is None:  # a succeeded order always has its moment; a corrupt log has not
            continue
        due = moment + span
        overdue = as_of > due
        if not overdue and awaiting is not None:
            continue  # still awaiting on the earlier run
        found.append(
            Finding(
                finding_id=item.finding_id,
                kind=MISSING_AT_PSP if overdue else AWAITING_SETTLEMENT,
                state=OPEN if overdue else INFO,
                psp_reference=item.psp_reference,
                our_status=item.status_label,
                expected_minor=item.signed_minor,
                expected_currency=item.currency,
                detail=f"{item.words.happened} {moment.isoformat()}, not in this file"
                + (f"; more than {window_days} days ago" if overdue else ""),
                supersedes=awaiting.reference if awaiting else None,
                payment_order_id=item.payment_order_id,
                payout_id=item.payout_id,
                since=moment.astimezone(UTC).isoformat(),
                due=due.astimezone(UTC).isoformat(),
                adjustment=item.give_up if overdue else None,
                movement=item.movement,
            )
        )
    return found


def _note(item: Awaited, kind: str, supersedes: str | None) -> Finding:
    return Finding(
        finding_id=f"line-{item.seen_line}",
        kind=kind,
        state=INFO,
        line=item.seen_line,
        psp_reference=item.psp_reference,
        our_status=item.status_label,
        expected_minor=item.signed_minor,
        psp_minor=item.signed_minor,
        expected_currency=item.currency,
        psp_currency=item.currency,
        detail=item.words.cleared if kind == CLEARED else item.words.outside_period,
        supersedes=supersedes,
        payment_order_id=item.payment_order_id,
        payout_id=item.payout_id,
        movement=item.movement,
    )
