"""The expected side of a reconciliation: our own event history, replayed (not the views).

Reads the notification log up to one position, only the topics that matter, and decodes the
stored JSON with msgspec into a compact fact per order and per payout (about 3x faster than
building every domain event with the mapper; measured in bench/reconcile.py). Earlier
reconciliation runs are replayed too: which orders and payouts still await settlement, which
settled outside their period, which batches already had their fees booked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import Application

from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.reconciliation_run import (
    AWAITING_SETTLEMENT,
    ReconciliationRun,
)
from payments.projections.event_store import stream_states

PAGE_SIZE = 20_000

NOT_STARTED, EXECUTING, SUCCESS, FAILED = "NOT_STARTED", "EXECUTING", "SUCCESS", "FAILED"
REQUESTED, PAID, RETURNED = "REQUESTED", "PAID", "RETURNED"  # payouts (and EXECUTING, FAILED)


class OrderFacts:
    """What reconciliation needs of one order, kept small (a million of them fit easily)."""

    __slots__ = (
        "amount_minor",
        "currency",
        "dead_lettered",
        "matched",
        "payment_order_id",
        "psp_reference",
        "seen_line",
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
        self.seen_line = 0  # the line of this file that settled it (0: none yet)
        self.matched = False  # that line agreed with us in every respect

    @property
    def status_label(self) -> str:
        return f"{self.status} (dead-lettered)" if self.dead_lettered else self.status


class PayoutFacts:
    """What reconciliation needs of one payout: its Balancetransfer lines are checked with it."""

    __slots__ = (
        "amount_minor",
        "currency",
        "dead_lettered",
        "matched",
        "paid_at",
        "payout_id",
        "psp_reference",
        "return_line",
        "seen_line",
        "status",
    )

    def __init__(self, payout_id: str, amount_minor: int, currency: str) -> None:
        self.payout_id = payout_id
        self.amount_minor = amount_minor
        self.currency = currency
        self.status = REQUESTED
        self.psp_reference: str | None = None
        self.paid_at: str | None = None  # ISO 8601 of the Paid event
        self.dead_lettered = False
        self.seen_line = 0  # this file's debit (paid-out) line for it (0: none yet)
        self.return_line = 0  # this file's credit (returned) line for it
        self.matched = False  # its debit line agreed with us in every respect

    @property
    def status_label(self) -> str:
        return f"{self.status} (dead-lettered)" if self.dead_lettered else self.status

    @property
    def was_paid(self) -> bool:
        return self.status in (PAID, RETURNED)


@dataclass(frozen=True, slots=True)
class AwaitingOrder:
    """An earlier run's open awaiting-settlement finding (about an order or a payout)."""

    run_id: str
    finding_id: str

    @property
    def reference(self) -> str:
        return f"{self.run_id}/{self.finding_id}"


@dataclass
class History:
    through_position: int
    orders: dict[str, OrderFacts] = field(default_factory=dict)  # by payment_order_id
    awaiting: dict[str, AwaitingOrder] = field(default_factory=dict)  # by payment_order_id
    settled_elsewhere: set[str] = field(default_factory=set)
    fee_batches: set[int] = field(default_factory=set)
    payouts: dict[str, PayoutFacts] = field(default_factory=dict)  # by payout_id
    awaiting_payouts: dict[str, AwaitingOrder] = field(default_factory=dict)  # by payout_id
    payouts_settled_elsewhere: set[str] = field(default_factory=set)


class _Stamp(msgspec.Struct):
    data: str = msgspec.field(name="_data_")


class _Created(msgspec.Struct):
    payment_order_id: str
    amount_minor: int
    currency: str


class _PayoutCreated(msgspec.Struct):
    payout_id: str
    amount_minor: int
    currency: str


class _Reference(msgspec.Struct):
    psp_reference: str | None


class _Succeeded(msgspec.Struct):
    timestamp: _Stamp
    psp_reference: str


class _Finding(msgspec.Struct):
    finding_id: str
    kind: str
    line: int | None = None
    payment_order_id: str | None = None
    payout_id: str | None = None
    supersedes: str | None = None


class _Findings(msgspec.Struct):
    findings: list[_Finding]


class _Fees(msgspec.Struct):
    batch_number: int


_ORDER = PaymentOrder
_RUN = ReconciliationRun
_PAYOUT = Payout
PAYOUT_TOPICS = frozenset(
    str(cls.TOPIC)
    for cls in (
        _PAYOUT.Created,
        _PAYOUT.ExecutionStarted,
        _PAYOUT.PendingAtPsp,
        _PAYOUT.Paid,
        _PAYOUT.Failed,
        _PAYOUT.Returned,
        _PAYOUT.DeadLettered,
        _PAYOUT.DeadLetterReplayed,
    )
)
TOPICS: tuple[str, ...] = tuple(
    sorted(
        {
            *(
                str(cls.TOPIC)
                for cls in (
                    _ORDER.Created,
                    _ORDER.ExecutionStarted,
                    _ORDER.PendingAtPsp,
                    _ORDER.Succeeded,
                    _ORDER.Failed,
                    _ORDER.DeadLettered,
                    _ORDER.DeadLetterReplayed,
                    _RUN.FindingsRecorded,
                    _RUN.FeesBooked,
                )
            ),
            *PAYOUT_TOPICS,
        }
    )
)
_CREATED = msgspec.json.Decoder(_Created)
_PAYOUT_CREATED = msgspec.json.Decoder(_PayoutCreated)
_REFERENCE = msgspec.json.Decoder(_Reference)
_SUCCEEDED = msgspec.json.Decoder(_Succeeded)
_FINDINGS = msgspec.json.Decoder(_Findings)
_FEES = msgspec.json.Decoder(_Fees)


def replay_history(application: Application[Any], through: int | None = None) -> History:
    """Fold the log up to `through` (default: its head now) into the facts of every order
    and every payout."""
    recorder: Any = application.recorder
    head = int(recorder.max_notification_id() or 0) if through is None else through
    history = History(through_position=head)
    by_uuid: dict[UUID | str, OrderFacts] = {}
    payouts_by_uuid: dict[UUID | str, PayoutFacts] = {}
    state_of = _state_reader(application)
    for notification_id, originator_id, topic, stored in stream_states(application, head, TOPICS):
        state = state_of(stored)
        if topic in PAYOUT_TOPICS:
            _fold_payout_event(
                history, payouts_by_uuid, notification_id, originator_id, topic, state
            )
            continue
        if topic == _ORDER.Created.TOPIC:
            created = _CREATED.decode(state)
            facts = OrderFacts(created.payment_order_id, created.amount_minor, created.currency)
            by_uuid[originator_id] = facts
            history.orders[facts.payment_order_id] = facts
            continue
        if topic in (_RUN.FindingsRecorded.TOPIC, _RUN.FeesBooked.TOPIC):
            _fold_run_event(history, originator_id, topic, state)
            continue
        order = by_uuid.get(originator_id)
        if order is None:  # an order created after a gap can only be a corrupt log
            raise ValueError(f"event {notification_id} belongs to no known order")
        if topic == _ORDER.ExecutionStarted.TOPIC:
            order.status = EXECUTING
        elif topic == _ORDER.Succeeded.TOPIC:
            succeeded = _SUCCEEDED.decode(state)
            order.status, order.dead_lettered = SUCCESS, False
            order.psp_reference, order.succeeded_at = (
                succeeded.psp_reference,
                succeeded.timestamp.data,
            )
        elif topic == _ORDER.Failed.TOPIC:
            order.status, order.dead_lettered = FAILED, False
            order.psp_reference = _REFERENCE.decode(state).psp_reference or order.psp_reference
        elif topic == _ORDER.PendingAtPsp.TOPIC:
            order.psp_reference = _REFERENCE.decode(state).psp_reference
        elif topic == _ORDER.DeadLettered.TOPIC:
            order.dead_lettered = True
        elif topic == _ORDER.DeadLetterReplayed.TOPIC:
            order.dead_lettered = False
    return history


def _fold_payout_event(
    history: History,
    by_uuid: dict[UUID | str, PayoutFacts],
    notification_id: int,
    originator_id: UUID | str,
    topic: str,
    state: bytes,
) -> None:
    if topic == _PAYOUT.Created.TOPIC:
        created = _PAYOUT_CREATED.decode(state)
        facts = PayoutFacts(created.payout_id, created.amount_minor, created.currency)
        by_uuid[originator_id] = history.payouts[facts.payout_id] = facts
        return
    payout = by_uuid.get(originator_id)
    if payout is None:
        raise ValueError(f"event {notification_id} belongs to no known payout")
    if topic == _PAYOUT.ExecutionStarted.TOPIC:
        payout.status = EXECUTING
    elif topic == _PAYOUT.Paid.TOPIC:
        paid = _SUCCEEDED.decode(state)
        payout.status, payout.dead_lettered = PAID, False
        payout.psp_reference, payout.paid_at = paid.psp_reference, paid.timestamp.data
    elif topic == _PAYOUT.Failed.TOPIC:
        payout.status, payout.dead_lettered = FAILED, False
        payout.psp_reference = _REFERENCE.decode(state).psp_reference or payout.psp_reference
    elif topic == _PAYOUT.Returned.TOPIC:
        payout.status = RETURNED
    elif topic == _PAYOUT.PendingAtPsp.TOPIC:
        payout.psp_reference = _REFERENCE.decode(state).psp_reference
    elif topic == _PAYOUT.DeadLettered.TOPIC:
        payout.dead_lettered = True
    elif topic == _PAYOUT.DeadLetterReplayed.TOPIC:
        payout.dead_lettered = False


def succeeded_at(facts: OrderFacts) -> datetime | None:
    return None if facts.succeeded_at is None else datetime.fromisoformat(facts.succeeded_at)


def paid_at(facts: PayoutFacts) -> datetime | None:
    return None if facts.paid_at is None else datetime.fromisoformat(facts.paid_at)


def _fold_run_event(history: History, run_id: UUID | str, topic: str, state: bytes) -> None:
    if topic == _RUN.FeesBooked.TOPIC:
        history.fee_batches.add(_FEES.decode(state).batch_number)
        return
    for finding in _FINDINGS.decode(state).findings:
        if finding.supersedes is not None:
            _drop_awaiting(history, finding.supersedes)
        if finding.payout_id is not None:
            if finding.kind == AWAITING_SETTLEMENT:
                history.awaiting_payouts[finding.payout_id] = AwaitingOrder(
                    str(run_id), finding.finding_id
                )
            elif finding.line is not None:  # a file carried this payout
                history.payouts_settled_elsewhere.add(finding.payout_id)
            continue
        if finding.payment_order_id is None:
            continue
        if finding.kind == AWAITING_SETTLEMENT:
            history.awaiting[finding.payment_order_id] = AwaitingOrder(
                str(run_id), finding.finding_id
            )
        elif finding.line is not None:  # a file carried this order: no later run expects it
            history.settled_elsewhere.add(finding.payment_order_id)


def order_finding_id(payment_order_id: str) -> str:
    """Findings about an order (not a line) are named after it, once per run."""
    return f"order-{payment_order_id}"


def payout_finding_id(payout_id: str) -> str:
    """Findings about a payout (not a line) are named after it, once per run."""
    return f"payout-{payout_id}"


def _drop_awaiting(history: History, reference: str) -> None:
    """A later run cleared or escalated an earlier awaiting finding ("<run>/order-<id>" or
    "<run>/payout-<id>")."""
    _, _, finding_id = reference.partition("/")
    if finding_id.startswith("payout-"):
        awaiting, key = history.awaiting_payouts, finding_id.removeprefix("payout-")
    else:
        awaiting, key = history.awaiting, finding_id.removeprefix("order-")
    if key in awaiting and awaiting[key].reference == reference:
        del awaiting[key]


def _state_reader(application: Application[Any]) -> Any:
    """Stored state to JSON bytes: undo the mapper's encryption and compression if any."""
    cipher, compressor = application.mapper.cipher, application.mapper.compressor
    if cipher is None and compressor is None:
        return lambda state: state

    def read(state: bytes) -> bytes:
        if cipher is not None:
            state = cipher.decrypt(state)
        if compressor is not None:
            state = compressor.decompress(state)
        return state

    return read
