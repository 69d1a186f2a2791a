"""The dispute of an order as the API shows it: GET /payments/{id}/dispute and the `dispute`
field of GET /payments/{id}. Read from the Dispute's own events (a handful), so it needs no
view and is current the moment its events are saved."""

from __future__ import annotations

from datetime import datetime

import msgspec
from eventsourcing.domain import CanMutateAggregate

from payments.api.dispute_schemas import DisputeResponse
from payments.api.schemas import PaymentOrderResponse
from payments.domain.application import PaymentsApplication
from payments.domain.dispute import Dispute
from payments.domain.ids import dispute_uuid, payment_order_uuid
from payments.domain.money import format_minor
from payments.domain.payment_order import PaymentOrder


def dispute_response(application: PaymentsApplication, psp_dispute_id: str) -> DisputeResponse:
    """The dispute as it stands, with when each step was recorded."""
    events = list(application.events.get(dispute_uuid(psp_dispute_id)))
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
    assert isinstance(dispute, Dispute), f"no dispute {psp_dispute_id}"
    return DisputeResponse(
        dispute_id=dispute.psp_dispute_id,
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
