"""Disputes as the API shows them: GET /payments/{id}/dispute, the `dispute` field of GET
/payments/{id}, and GET /disputes. Each is read from the Dispute's own events (a handful), so
it is current the moment its events are saved; the list finds which to show in the disputes
view (projections/views/disputes.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec
from eventsourcing.domain import CanMutateAggregate

from payments.api.dispute_schemas import DisputePage, DisputeResponse
from payments.api.parameters import MAX_POSITION
from payments.api.reads import (
    NOT_A_CURSOR,
    decode_opaque,
    encode_opaque,
    ensure_fresh,
    invalid,
    keyset_page,
    seller_scope,
)
from payments.api.schemas import PaymentOrderResponse
from payments.domain.application import PaymentsApplication
from payments.domain.dispute import Dispute
from payments.domain.ids import dispute_uuid, payment_order_uuid
from payments.domain.money import format_minor
from payments.domain.payment_order import PaymentOrder
from payments.projections.event_store import events_by_aggregate
from payments.projections.views.disputes import (
    DisputeFilter,
    DisputeOrder,
    DisputeRow,
    DisputesView,
)
from payments.runtime.keys import Caller
from payments.runtime.services import Services


def dispute_response(application: PaymentsApplication, psp_dispute_id: str) -> DisputeResponse:
    """The dispute as it stands, with when each step was recorded."""
    return answer_of(list(application.events.get(dispute_uuid(psp_dispute_id))))


def answer_of(events: Sequence[Any]) -> DisputeResponse:
    """The answer for a dispute from its events, oldest first."""
    dispute: Dispute | None = None
    submitted_at: datetime | None = None
    closed_at: datetime | None = None
    for event in events:
        assert isinstance(event, CanMutateAggregate)
        dispute = event.mutate(dispute)
        if isinstance(event, Dispute.EvidenceSubmitted):
            submitted_at = event.timestamp
        elif isinstance(event, Dispute.Won | Dispute.Lost | Dispute.Reopened):
            closed_at = event.timestamp
    assert isinstance(dispute, Dispute), "no dispute in these events"
    return DisputeResponse(
        dispute_id=dispute.psp_dispute_id,
        payment_order_id=dispute.payment_order_id,
        seller_account=dispute.seller_account,
        status=dispute.status.value,
        reason=dispute.reason,
        amount=format_minor(dispute.amount_minor, dispute.currency),
        fee=format_minor(dispute.fee_minor, dispute.currency),
        currency=dispute.currency,
        evidence_due_by=dispute.evidence_due_by,
        opened_at=dispute.created_on,
        evidence_submitted_at=submitted_at,
        closed_at=None if dispute.is_open else closed_at,
        second_chargeback=dispute.reopened,
    )


def list_disputes(
    services: Services,
    caller: Caller,
    where: DisputeFilter,
    order: DisputeOrder,
    page: tuple[int, str | None],
    min_position: int | None = None,
) -> DisputePage:
    """Disputes from the disputes view in `order`, each read from its own events (so an item
    is current even when the view is a moment behind); `page` is (limit, cursor). A seller
    key lists its own seller's disputes; asking for another's is Not found."""
    where = dataclasses.replace(where, seller_account=seller_scope(caller, where.seller_account))
    limit, cursor = page
    view = DisputesView(services.pool)
    ensure_fresh(services, view, min_position)
    rows = view.listed(where, order, limit + 1, decode_dispute_cursor(cursor))
    shown, last = keyset_page(rows, limit)
    events = events_by_aggregate(
        services.application, services.pool, [dispute_uuid(r.psp_dispute_id) for r in shown]
    )
    return DisputePage(
        items=[answer_of(events[dispute_uuid(r.psp_dispute_id)]) for r in shown],
        next_cursor=None if last is None else encode_dispute_cursor(last),
    )


def encode_dispute_cursor(row: DisputeRow) -> str:
    return encode_opaque([row.position, row.evidence_due_by.isoformat()])


def decode_dispute_cursor(text: str | None) -> DisputeRow | None:
    """The row a page ended with, from the cursor that page gave (checked: 422 otherwise)."""
    if text is None:
        return None
    position, due = decode_opaque(text, tuple[int, datetime])
    if due.tzinfo is None or not 0 < position <= MAX_POSITION:
        raise invalid("cursor", NOT_A_CURSOR)
    return DisputeRow("", due, position)


def order_dispute(
    application: PaymentsApplication, payment_order_id: str
) -> DisputeResponse | None:
    """The order's (last) dispute, or None for an order never disputed (or unknown)."""
    order = application.find(PaymentOrder, payment_order_uuid(payment_order_id))
    if order is None or order.latest_dispute_id is None:
        return None
    return dispute_response(application, order.latest_dispute_id)


def with_dispute(
    application: PaymentsApplication, answer: PaymentOrderResponse
) -> PaymentOrderResponse:
    """The order answer with its `dispute` (null when it has none)."""
    dispute = order_dispute(application, answer.payment_order_id)
    return msgspec.structs.replace(answer, dispute=dispute) if dispute is not None else answer
