"""The expected side of a reconciliation: our own event history, replayed (not the views).

Reads the notification log up to one position, only the topics that matter, and decodes the
stored JSON with msgspec into the compact facts of domain/reconciliation/expected.py (about 3x
faster than building every domain event with the mapper; measured in bench/reconcile.py).
Earlier reconciliation runs are replayed too (earlier_runs.py): the lines they booked (so no
file books one twice), the lines they reported, what they still await. Refunds and disputes
become the movements their settlement lines report (a refund succeeded; a dispute opened,
with its fee; won; reopened), read by their topics' names and fields (docs/events.md).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.application import Application

from payments.domain.payment_order import PaymentOrder
from payments.domain.payout import Payout
from payments.domain.reconciliation.expected import (
    CHARGEBACK,
    CHARGEBACK_REVERSAL,
    DISPUTE_FEE,
    EXECUTING,
    FAILED,
    PAID,
    REFUND,
    RETURNED,
    SECOND_CHARGEBACK,
    SUCCESS,
    Expected,
    MovementFacts,
    OrderFacts,
    PayoutFacts,
    movement_id,
)
from payments.domain.reconciliation.timing import order_finding_id, payout_finding_id
from payments.projections.event_store import stream_states
from payments.projections.reconciliation.earlier_runs import RUN_TOPICS, fold_run_event

__all__ = ["TOPICS", "History", "order_finding_id", "payout_finding_id", "replay_history"]

History = Expected  # the name this module gave it before the rules moved to the domain


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
    seller_account: str = ""


class _Reference(msgspec.Struct):
    psp_reference: str | None


class _Succeeded(msgspec.Struct):
    timestamp: _Stamp
    psp_reference: str


class _RefundRequested(msgspec.Struct):
    refund_id: str
    payment_order_id: str
    amount_minor: int
    currency: str


class _DisputeOpened(msgspec.Struct):
    timestamp: _Stamp
    psp_dispute_id: str
    payment_order_id: str
    amount_minor: int
    fee_minor: int
    currency: str


class _Stamped(msgspec.Struct):
    timestamp: _Stamp


_ORDER = PaymentOrder
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
# Refunds and disputes (domain/refund.py, domain/dispute.py): their stored topics and fields.
REFUND_REQUESTED = "payments.Refund.Requested.v1"
REFUND_SUCCEEDED = "payments.Refund.Succeeded.v1"
REFUND_FAILED = "payments.Refund.Failed.v1"
DISPUTE_OPENED = "payments.Dispute.Opened.v1"
DISPUTE_WON = "payments.Dispute.Won.v1"
DISPUTE_REOPENED = "payments.Dispute.Reopened.v1"
MOVEMENT_TOPICS = frozenset(
    {REFUND_REQUESTED, REFUND_SUCCEEDED, REFUND_FAILED, DISPUTE_OPENED, DISPUTE_WON,
     DISPUTE_REOPENED}
)  # fmt: skip
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
                )
            ),
            *PAYOUT_TOPICS,
            *MOVEMENT_TOPICS,
            *RUN_TOPICS,
        }
    )
)
_CREATED = msgspec.json.Decoder(_Created)
_PAYOUT_CREATED = msgspec.json.Decoder(_PayoutCreated)
_REFERENCE = msgspec.json.Decoder(_Reference)
_SUCCEEDED = msgspec.json.Decoder(_Succeeded)
_REFUND_REQUESTED = msgspec.json.Decoder(_RefundRequested)
_DISPUTE_OPENED = msgspec.json.Decoder(_DisputeOpened)
_STAMPED = msgspec.json.Decoder(_Stamped)


def replay_history(application: Application[Any], through: int | None = None) -> Expected:
    """Fold the log up to `through` (default: its head now) into the facts of every order and
    payout, and what earlier runs settled and await."""
    recorder: Any = application.recorder
    head = int(recorder.max_notification_id() or 0) if through is None else through
    history = Expected(through_position=head)
    by_uuid: dict[UUID | str, OrderFacts] = {}
    payouts_by_uuid: dict[UUID | str, PayoutFacts] = {}
    state_of = _state_reader(application)
    currencies: dict[str, str] = {}
    movements: dict[UUID | str, MovementFacts] = {}  # a refund, or a dispute's chargeback
    for notification_id, originator_id, topic, stored in stream_states(application, head, TOPICS):
        state = state_of(stored)
        if topic in MOVEMENT_TOPICS:
            _fold_movement_event(history, movements, notification_id, originator_id, topic, state)
            continue
        if topic in PAYOUT_TOPICS:
            _fold_payout_event(
                history, payouts_by_uuid, notification_id, originator_id, topic, state
            )
            continue
        if topic == _ORDER.Created.TOPIC:
            created = _CREATED.decode(state)
            currency = currencies.setdefault(created.currency, created.currency)  # one str each
            facts = OrderFacts(created.payment_order_id, created.amount_minor, currency)
            by_uuid[originator_id] = facts
            history.orders[facts.payment_order_id] = facts
            continue
        if topic in RUN_TOPICS:
            fold_run_event(history, str(originator_id), topic, state)
            continue
        order = by_uuid.get(originator_id)
        if order is None:  # an order created after a gap can only be a corrupt log
            raise ValueError(f"event {notification_id} belongs to no known order")
        if topic == _ORDER.Succeeded.TOPIC:
            succeeded = _SUCCEEDED.decode(state)
            order.status, order.dead_lettered = SUCCESS, False
            order.psp_reference, order.succeeded_at = (
                succeeded.psp_reference,
                succeeded.timestamp.data,
            )
        else:
            _fold_execution_event(order, _ORDER, topic, state)
    return history


def _fold_execution_event(
    facts: OrderFacts | PayoutFacts,
    aggregate: type[PaymentOrder] | type[Payout],
    topic: str,
    state: bytes,
) -> None:
    """The execution events orders and payouts share (domain/execution.py), under the
    aggregate's own topics."""
    if topic == aggregate.ExecutionStarted.TOPIC:
        facts.status = EXECUTING
    elif topic == aggregate.Failed.TOPIC:
        facts.status, facts.dead_lettered = FAILED, False
        facts.psp_reference = _REFERENCE.decode(state).psp_reference or facts.psp_reference
    elif topic == aggregate.PendingAtPsp.TOPIC:
        facts.psp_reference = _REFERENCE.decode(state).psp_reference
    elif topic == aggregate.DeadLettered.TOPIC:
        facts.dead_lettered = True
    elif topic == aggregate.DeadLetterReplayed.TOPIC:
        facts.dead_lettered = False


def _fold_payout_event(
    history: Expected,
    by_uuid: dict[UUID | str, PayoutFacts],
    notification_id: int,
    originator_id: UUID | str,
    topic: str,
    state: bytes,
) -> None:
    if topic == _PAYOUT.Created.TOPIC:
        created = _PAYOUT_CREATED.decode(state)
        facts = PayoutFacts(
            created.payout_id, created.amount_minor, created.currency, created.seller_account
        )
        by_uuid[originator_id] = history.payouts[facts.payout_id] = facts
        return
    payout = by_uuid.get(originator_id)
    if payout is None:
        raise ValueError(f"event {notification_id} belongs to no known payout")
    if topic == _PAYOUT.Paid.TOPIC:
        paid = _SUCCEEDED.decode(state)
        payout.status, payout.dead_lettered = PAID, False
        payout.psp_reference, payout.paid_at = paid.psp_reference, paid.timestamp.data
    elif topic == _PAYOUT.Returned.TOPIC:
        payout.status = RETURNED
        payout.returned_at = _SUCCEEDED.decode(state).timestamp.data
    else:
        _fold_execution_event(payout, _PAYOUT, topic, state)


def _fold_movement_event(
    history: Expected,
    by_uuid: dict[UUID | str, MovementFacts],
    notification_id: int,
    originator_id: UUID | str,
    topic: str,
    state: bytes,
) -> None:
    """A refund becomes one movement; a dispute its chargeback and fee, then its reversal when
    won, and a second chargeback when reopened."""
    if topic == REFUND_REQUESTED:
        asked = _REFUND_REQUESTED.decode(state)
        refund = MovementFacts(
            REFUND, asked.refund_id, asked.payment_order_id, -asked.amount_minor, asked.currency
        )
        by_uuid[originator_id] = history.add_movement(refund)
        return
    if topic == DISPUTE_OPENED:
        opened = _DISPUTE_OPENED.decode(state)
        key, order, currency = opened.psp_dispute_id, opened.payment_order_id, opened.currency
        amounts = [(CHARGEBACK, opened.amount_minor)]
        if opened.fee_minor:
            amounts.append((DISPUTE_FEE, opened.fee_minor))
        for kind, amount in amounts:
            facts = history.add_movement(MovementFacts(kind, key, order, -amount, currency))
            _happened(facts, opened.timestamp.data, key)
        by_uuid[originator_id] = history.movements[movement_id(CHARGEBACK, key)]
        return
    known = by_uuid.get(originator_id)
    if known is None:
        raise ValueError(f"event {notification_id} belongs to no known refund or dispute")
    if topic == REFUND_SUCCEEDED:
        succeeded = _SUCCEEDED.decode(state)
        _happened(known, succeeded.timestamp.data, succeeded.psp_reference)
        history.refunds_by_psp[succeeded.psp_reference] = known.movement_id
    elif topic == REFUND_FAILED:
        known.status = FAILED
        known.psp_reference = _REFERENCE.decode(state).psp_reference or known.psp_reference
    else:  # won: the amount comes back; reopened: withdrawn again, without a fee
        won = topic == DISPUTE_WON
        kind = CHARGEBACK_REVERSAL if won else SECOND_CHARGEBACK
        amount = -known.signed_minor if won else known.signed_minor
        again = MovementFacts(kind, known.key, known.payment_order_id, amount, known.currency)
        _happened(history.add_movement(again), _STAMPED.decode(state).timestamp.data, known.key)


def _happened(movement: MovementFacts, moment: str, psp_reference: str) -> None:
    movement.status, movement.happened_at, movement.psp_reference = SUCCESS, moment, psp_reference


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
