"""What earlier reconciliation runs recorded, folded into the expected side of the next run:
the lines they booked (so that no file books one twice), the lines they reported, and what
they still await (dropped when a later run cleared or escalated it). Read from the runs'
stored events (domain/reconciliation_run.py) by history.py's replay.
"""

from __future__ import annotations

import msgspec

from payments.domain.reconciliation.expected import (
    MOVEMENT_KINDS,
    AwaitingOrder,
    Expected,
    Settled,
    movement_id,
)
from payments.domain.reconciliation.findings import (
    AMOUNT_MISMATCH,
    AWAITING_SETTLEMENT,
    CLEARED,
    CURRENCY_MISMATCH,
    DUPLICATE,
    DUPLICATE_SETTLEMENT,
    MISSING_INTERNALLY,
    SETTLED_OUTSIDE_PERIOD,
    STATUS_MISMATCH,
)
from payments.domain.reconciliation.memory import (
    BANK_PAYOUT,
    CAPTURE,
    FEE,
    MOVEMENT_BOOKINGS,
    PAYOUT,
)
from payments.domain.reconciliation_run import ReconciliationRun


class _Finding(msgspec.Struct):
    finding_id: str
    kind: str
    line: int | None = None
    payment_order_id: str | None = None
    payout_id: str | None = None
    supersedes: str | None = None
    line_identity: str | None = None
    movement: str | None = None


class _Findings(msgspec.Struct):
    findings: list[_Finding]


class _Fees(msgspec.Struct):
    batch_number: int


class _Bookings(msgspec.Struct):
    bookings: str


# Findings on a line that settled (or tried to settle) an order: no later run expects it.
# MISSING_INTERNALLY: runs before v0.3 named our order on its refund and chargeback lines.
SETTLING_KINDS = frozenset(
    {
        AMOUNT_MISMATCH,
        CURRENCY_MISMATCH,
        STATUS_MISMATCH,
        DUPLICATE,
        DUPLICATE_SETTLEMENT,
        SETTLED_OUTSIDE_PERIOD,
        CLEARED,
        MISSING_INTERNALLY,
    }
)
_RUN = ReconciliationRun
RUN_TOPICS = frozenset(
    str(cls.TOPIC)
    for cls in (_RUN.FindingsRecorded, _RUN.FeesBooked, _RUN.LinesSettled, _RUN.AutoFixConfirmed)
)
_FINDINGS = msgspec.json.Decoder(_Findings)
_FEES = msgspec.json.Decoder(_Fees)
_BOOKINGS = msgspec.json.Decoder(_Bookings)


def fold_run_event(history: Expected, run_id: str, topic: str, state: bytes) -> None:
    if topic == _RUN.FeesBooked.TOPIC:
        history.fee_batches.add(_FEES.decode(state).batch_number)
    elif topic == _RUN.FindingsRecorded.TOPIC:
        for finding in _FINDINGS.decode(state).findings:
            _fold_finding(history, run_id, finding)
    else:  # LinesSettled, AutoFixConfirmed: what the run booked
        _fold_bookings(history, run_id, _BOOKINGS.decode(state).bookings)


def _fold_bookings(history: Expected, run_id: str, packed: str) -> None:
    """Remember each booked line (memory.py's layout, read here without building objects)."""
    if not packed:
        return
    orders, payouts, seen = history.orders, history.payouts, history.seen_lines
    for row in packed.split("\n"):
        line, booking, identity, reference, net, fee, _ = row.split("\t")
        if booking == CAPTURE:
            orders[reference].settled = Settled(identity, run_id, int(line), int(net), int(fee))
        elif booking in (FEE, BANK_PAYOUT):
            seen[identity] = f"run {run_id} line {line}"
        elif booking in MOVEMENT_BOOKINGS:
            movement = history.movements.get(reference)
            if movement is None:  # booked against a movement the log no longer has: corrupt
                raise ValueError(f"run {run_id} line {line} booked unknown {reference}")
            movement.settled = Settled(identity, run_id, int(line), int(net), int(fee))
        elif booking == PAYOUT:
            payouts[reference].settled = Settled(identity, run_id, int(line), int(net), int(fee))
        else:
            payouts[reference].return_settled = Settled(
                identity, run_id, int(line), int(net), int(fee)
            )


def _fold_finding(history: Expected, run_id: str, finding: _Finding) -> None:
    if finding.supersedes is not None:
        _drop_awaiting(history, finding.supersedes)
    if finding.line_identity is not None and finding.line is not None:
        history.seen_lines.setdefault(finding.line_identity, f"run {run_id} line {finding.line}")
    awaiting = AwaitingOrder(run_id, finding.finding_id)
    if finding.movement is not None:
        if finding.kind == AWAITING_SETTLEMENT:
            history.awaiting_movements[finding.movement] = awaiting
        elif finding.line is not None and finding.kind in SETTLING_KINDS:
            history.movements_settled_elsewhere.add(finding.movement)  # a file carried it
        return
    if finding.payout_id is not None:
        if finding.kind != AWAITING_SETTLEMENT:
            if finding.line is not None:  # a file carried this payout
                history.payouts_settled_elsewhere.add(finding.payout_id)
        elif finding.finding_id.startswith("payout-return-"):
            history.awaiting_returns[finding.payout_id] = awaiting
        else:
            history.awaiting_payouts[finding.payout_id] = awaiting
        return
    if finding.payment_order_id is None:
        return
    if finding.kind == AWAITING_SETTLEMENT:
        history.awaiting[finding.payment_order_id] = awaiting
    elif finding.line is not None and finding.kind in SETTLING_KINDS:
        history.settled_elsewhere.add(finding.payment_order_id)  # a file carried this order


def _drop_awaiting(history: Expected, reference: str) -> None:
    """A later run cleared or escalated an earlier awaiting finding ("<run>/order-<id>",
    "<run>/payout-<id>" or "<run>/payout-return-<id>")."""
    _, _, finding_id = reference.partition("/")
    for kind in MOVEMENT_KINDS:  # "<kind>-<refund or dispute id>" (no kind has a "-")
        if finding_id.startswith(f"{kind}-"):
            key = movement_id(kind, finding_id.removeprefix(f"{kind}-"))
            awaited = history.awaiting_movements.get(key)
            if awaited is not None and awaited.reference == reference:
                del history.awaiting_movements[key]
            return
    if finding_id.startswith("payout-return-"):
        awaiting, key = history.awaiting_returns, finding_id.removeprefix("payout-return-")
    elif finding_id.startswith("payout-"):
        awaiting, key = history.awaiting_payouts, finding_id.removeprefix("payout-")
    else:
        awaiting, key = history.awaiting, finding_id.removeprefix("order-")
    if key in awaiting and awaiting[key].reference == reference:
        del awaiting[key]
